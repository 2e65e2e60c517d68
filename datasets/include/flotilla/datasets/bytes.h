// Little-endian field access and CRC-32 for Flotilla's binary formats (binary edge lists,
// shards, old_to_new maps). Hosts are little-endian (x86-64, aarch64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace flotilla {

template <typename T>
inline void put_le(unsigned char* p, T v) { std::memcpy(p, &v, sizeof v); }
template <typename T>
inline T get_le(const unsigned char* p) { T v; std::memcpy(&v, p, sizeof v); return v; }

// zlib's CRC-32, continued from `crc` over n bytes (any n; zlib's own length is 32-bit).
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n);

}  // namespace flotilla
