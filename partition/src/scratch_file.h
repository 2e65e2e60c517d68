// Internal: scratch files of the semi-external engine (docs/partitioning.md, "Scratch I/O").
//
// An unnamed file in a temporary folder (created, then unlinked at once, so that a killed run
// leaves nothing on disk), written by appending and read back at any offset.
//
// Direct I/O (O_DIRECT): block files are written once and read a few times, in large
// sequential runs, and they are larger than what the page cache should hold. Through the page
// cache every written byte also costs a fresh cache page (zeroed, and on a VM often first
// touched from the host: about 4 s of system time per GB measured, against 0.1 s direct), and
// the reads then compete with the input file's pages. So writes go out from an aligned buffer
// of whole pages and reads come in through an aligned bounce buffer. Where the filesystem
// refuses O_DIRECT (tmpfs, some network filesystems) a file falls back to ordinary buffered
// I/O; the bytes are the same either way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace flotilla::detail {

// Where scratch files go and what they hold together. Owned by the engine; every file
// refers to it and must not outlive it.
struct ScratchSpace {
  std::string dir;
  bool direct = true;      // try O_DIRECT
  std::uint64_t live = 0;  // bytes on disk now, every scratch file
  std::uint64_t peak = 0;  // at most
  bool buffered = false;   // some file used buffered I/O (asked for, or fallen back)
};

// Page-aligned heap bytes (O_DIRECT needs aligned buffers). Owns them.
class AlignedBytes {
 public:
  static constexpr std::size_t kAlign = 4096;
  AlignedBytes() = default;
  explicit AlignedBytes(std::size_t n);
  char* get() const { return p_.get(); }

 private:
  struct Free {
    void operator()(char* q) const { std::free(q); }
  };
  std::unique_ptr<char, Free> p_;
};

// One scratch file. Owns its descriptor and its write buffer (4 MiB).
class ScratchFile {
 public:
  explicit ScratchFile(ScratchSpace& space);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Bytes appended so far.
  std::uint64_t size() const { return buf_off_ + buf_len_; }
  bool direct() const { return direct_; }

  void append(const void* data, std::size_t bytes);
  // Makes everything appended readable: the buffered tail goes out padded to a whole page
  // and stays buffered, so that later appends rewrite that page in place.
  void flush();
  // flush() for the last time: frees the write buffer; append() is an error afterwards.
  void seal();
  // Reads bytes [offset, offset + bytes), which must have been flushed. Safe from several
  // threads at once (each has its own bounce buffer).
  void read_at(std::uint64_t offset, void* out, std::size_t bytes) const;
  // Bytes [offset, offset + bytes) will not be read again: the whole pages inside the range
  // are handed back to the filesystem (a hole), so that a spill read block by block shrinks
  // on disk as it is consumed. Where holes are not supported nothing happens.
  void release(std::uint64_t offset, std::uint64_t bytes);  // each byte at most once

  static constexpr std::size_t kBuffer = std::size_t{4} << 20;

 private:
  bool drop_direct(int err) const;
  std::size_t read_some(std::uint64_t offset, char* dst, std::size_t bytes) const;
  void write_at(std::uint64_t offset, const char* p, std::size_t bytes);

  ScratchSpace& space_;
  int fd_ = -1;
  mutable bool direct_ = false;  // cleared by the first transfer O_DIRECT refuses
  AlignedBytes buf_;
  std::uint64_t buf_off_ = 0;  // file offset of buf_[0]: a multiple of the page size
  std::size_t buf_len_ = 0;
  bool sealed_ = false;
  std::uint64_t disk_ = 0;     // bytes the file holds (flushed tails padded to a page)
  std::uint64_t holes_ = 0;    // of them released (release)
  bool no_holes_ = false;      // the filesystem refused a hole
};

// Block files store edge weights in 1, 2 or 4 bytes each (the smallest that holds the
// block's largest). narrow_weights rewrites w[0..n) (uint32) in place as n values of `bytes`
// each (every value must fit); widen_weights undoes it. In place, through memcpy (no
// aliasing): narrowing runs forward and widening backward, so no value is overwritten
// before it is moved.
inline void narrow_weights(std::uint32_t* w, std::uint64_t n, unsigned bytes) {
  if (bytes >= 4) return;
  char* b = reinterpret_cast<char*>(w);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint32_t v;
    std::memcpy(&v, b + 4 * i, 4);
    if (bytes == 1) {
      const auto x = static_cast<std::uint8_t>(v);
      std::memcpy(b + i, &x, 1);
    } else {
      const auto x = static_cast<std::uint16_t>(v);
      std::memcpy(b + 2 * i, &x, 2);
    }
  }
}
inline void widen_weights(std::uint32_t* w, std::uint64_t n, unsigned bytes) {
  if (bytes >= 4) return;
  char* b = reinterpret_cast<char*>(w);
  for (std::uint64_t i = n; i-- > 0;) {
    std::uint32_t v;
    if (bytes == 1) {
      std::uint8_t x;
      std::memcpy(&x, b + i, 1);
      v = x;
    } else {
      std::uint16_t x;
      std::memcpy(&x, b + 2 * i, 2);
      v = x;
    }
    std::memcpy(b + 4 * i, &v, 4);
  }
}

}  // namespace flotilla::detail
