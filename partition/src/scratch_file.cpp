#include "scratch_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>

namespace flotilla::detail {

namespace {
constexpr std::size_t kAlign = AlignedBytes::kAlign;
std::size_t round_up(std::size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }
}  // namespace

AlignedBytes::AlignedBytes(std::size_t n) {
  void* q = nullptr;
  if (::posix_memalign(&q, kAlign, n) != 0) throw std::bad_alloc();
  p_.reset(static_cast<char*>(q));
}

ScratchFile::ScratchFile(ScratchSpace& space) : space_(space) {
  std::string tmpl = space_.dir + "/flotilla-scratch-XXXXXX";
  fd_ = ::mkstemp(tmpl.data());
  if (fd_ < 0)
    throw std::runtime_error("cannot create a scratch file in " + space_.dir + ": " + std::strerror(errno) +
                             " (choose another folder with --temp-dir)");
  ::unlink(tmpl.c_str());
  if (space_.direct) {
    const int fl = ::fcntl(fd_, F_GETFL);
    direct_ = fl >= 0 && ::fcntl(fd_, F_SETFL, fl | O_DIRECT) == 0;
  }
  if (!direct_) space_.buffered = true;
  buf_ = AlignedBytes(kBuffer);
}

ScratchFile::~ScratchFile() {
  if (fd_ >= 0) ::close(fd_);
  space_.live -= disk_ - holes_;
}

void ScratchFile::release(std::uint64_t offset, std::uint64_t bytes) {
  if (no_holes_ || !sealed_) return;  // a page still buffered may be rewritten
  const std::uint64_t a = (offset + kAlign - 1) / kAlign * kAlign;
  const std::uint64_t b = std::min<std::uint64_t>((offset + bytes) / kAlign * kAlign, disk_);
  if (b <= a) return;
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(a), static_cast<off_t>(b - a)) != 0) {
    no_holes_ = true;
    return;
  }
  holes_ += b - a;
  space_.live -= b - a;
}

void ScratchFile::append(const void* data, std::size_t bytes) {
  if (sealed_) throw std::logic_error("scratch file: append after seal");
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const std::size_t take = std::min(bytes, kBuffer - buf_len_);
    std::memcpy(buf_.get() + buf_len_, p, take);
    buf_len_ += take;
    p += take;
    bytes -= take;
    if (buf_len_ == kBuffer) {
      write_at(buf_off_, buf_.get(), kBuffer);
      buf_off_ += kBuffer;
      buf_len_ = 0;
    }
  }
}

void ScratchFile::flush() {
  if (buf_len_ == 0) return;
  const std::size_t padded = round_up(buf_len_);
  std::memset(buf_.get() + buf_len_, 0, padded - buf_len_);
  write_at(buf_off_, buf_.get(), padded);
  const std::size_t full = buf_len_ / kAlign * kAlign;
  if (full > 0) {
    std::memmove(buf_.get(), buf_.get() + full, buf_len_ - full);
    buf_off_ += full;
    buf_len_ -= full;
  }
}

void ScratchFile::seal() {
  if (sealed_) return;
  flush();
  buf_off_ += buf_len_;  // size() stays the bytes appended
  buf_len_ = 0;
  buf_ = AlignedBytes();
  sealed_ = true;
}

void ScratchFile::read_at(std::uint64_t offset, void* out, std::size_t bytes) const {
  char* p = static_cast<char*>(out);
  thread_local AlignedBytes bounce(kBuffer);
  while (bytes > 0) {
    const std::uint64_t a0 = offset / kAlign * kAlign;
    const std::size_t skip = static_cast<std::size_t>(offset - a0);
    const std::size_t want = std::min<std::size_t>(round_up(skip + bytes), kBuffer);
    const std::size_t got = read_some(a0, bounce.get(), want);
    if (got <= skip)
      throw std::runtime_error("scratch file in " + space_.dir + ": read failed: unexpected end of file");
    const std::size_t n = std::min(bytes, got - skip);
    std::memcpy(p, bounce.get() + skip, n);
    p += n;
    offset += n;
    bytes -= n;
  }
}

// O_DIRECT refused at a transfer (EINVAL): buffered from then on.
bool ScratchFile::drop_direct(int err) const {
  if (!direct_ || err != EINVAL) return false;
  const int fl = ::fcntl(fd_, F_GETFL);
  if (fl >= 0) ::fcntl(fd_, F_SETFL, fl & ~O_DIRECT);
  direct_ = false;
  space_.buffered = true;
  return true;
}

std::size_t ScratchFile::read_some(std::uint64_t offset, char* dst, std::size_t bytes) const {
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t r = ::pread(fd_, dst + got, bytes - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && drop_direct(errno)) continue;
    if (r < 0) throw std::runtime_error("scratch file in " + space_.dir + ": read failed: " + std::strerror(errno));
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

void ScratchFile::write_at(std::uint64_t offset, const char* p, std::size_t bytes) {
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t w = ::pwrite(fd_, p + done, bytes - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && drop_direct(errno)) continue;
    if (w <= 0)
      throw std::runtime_error("scratch file in " + space_.dir + ": write failed: " +
                               (w < 0 ? std::strerror(errno) : "no progress") +
                               " (the semi-external engine needs about 8 bytes per adjacency entry "
                               "there; choose another folder with --temp-dir)");
    done += static_cast<std::size_t>(w);
  }
  if (offset + bytes > disk_) {
    space_.live += offset + bytes - disk_;
    space_.peak = std::max(space_.peak, space_.live);
    disk_ = offset + bytes;
  }
}

}  // namespace flotilla::detail
