// Little-endian field access and CRC-32 for Flotilla's binary formats (binary edge lists,
// shards, old_to_new maps). Hosts are little-endian (x86-64, aarch64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace flotilla {

template <typename T>
inline void put_le(unsigned char* p, T v) { std::memcpy(p, &v, sizeof v); }
template <typename T>
inline T get_le(const unsigned char* p) { T v; std::memcpy(&v, p, sizeof v); return v; }

// Appends little-endian fields and counted arrays (u64 count, then the elements) to a byte
// buffer it owns: the framing of Flotilla's MPI messages.
class ByteWriter {
 public:
  template <typename T>
  ByteWriter& put(T v) {
    const std::size_t at = out.size();
    out.resize(at + sizeof(T));
    put_le<T>(out.data() + at, v);
    return *this;
  }
  template <typename T>
  ByteWriter& array(const T* data, std::size_t n) {
    put<std::uint64_t>(n);
    const std::size_t at = out.size();
    out.resize(at + n * sizeof(T));
    if (n) std::memcpy(out.data() + at, data, n * sizeof(T));
    return *this;
  }
  template <typename T>
  ByteWriter& array(const std::vector<T>& v) { return array(v.data(), v.size()); }
  std::vector<unsigned char> out;
};

// Reads what ByteWriter wrote from a view it does not own; every read is bounds-checked and
// a failure throws std::runtime_error "<what>: malformed message: <reason>", so no count
// read from the bytes can drive an allocation beyond the message.
class ByteReader {
 public:
  ByteReader(const unsigned char* data, std::size_t size, std::string what)
      : p_(data), left_(size), what_(std::move(what)) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    const T v = get_le<T>(p_);
    skip(sizeof(T));
    return v;
  }
  template <typename T>
  void array(std::vector<T>& v) {
    const std::uint64_t n = get<std::uint64_t>();
    if (n > left_ / sizeof(T)) fail("array count exceeds the message");
    v.resize(n);
    if (n) std::memcpy(v.data(), p_, n * sizeof(T));
    skip(n * sizeof(T));
  }
  void need(std::size_t n) const {
    if (n > left_) fail("truncated");
  }
  void skip(std::size_t n) {
    need(n);
    p_ += n;
    left_ -= n;
  }
  const unsigned char* data() const { return p_; }
  std::size_t left() const { return left_; }
  void done() const {
    if (left_) fail("trailing bytes");
  }
  [[noreturn]] void fail(const std::string& m) const { throw std::runtime_error(what_ + ": malformed message: " + m); }

 private:
  const unsigned char* p_;
  std::size_t left_;
  std::string what_;
};

// zlib's CRC-32, continued from `crc` over n bytes (any n; zlib's own length is 32-bit).
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n);

}  // namespace flotilla
