// Small, fast, seedable random number generators. Deterministic across platforms (no
// std::uniform_*_distribution, whose output differs between standard libraries).
#pragma once

#include <cmath>
#include <cstdint>

namespace flotilla {

// SplitMix64: used to seed, and as a counter-based hash (mix(seed + i)) so that streams
// split across threads or ranks give the same numbers whatever the split.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }
  void reseed(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& s : s_) { x = splitmix64(x); s = x; }
  }
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-64 * n).
  std::uint64_t below(std::uint64_t n) {
    __extension__ typedef unsigned __int128 u128;
    return static_cast<std::uint64_t>((static_cast<u128>(next_u64()) * n) >> 64);
  }
  // Standard normal (Box-Muller; one value per call for reproducibility simplicity).
  double normal() {
    double u1 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// A seeded bijection on [0, n) that needs no table: a 4-round Feistel network on the
// smallest even number of bits covering n, with cycle-walking (an image >= n is encrypted
// again until it falls below n; the walk stays a bijection on [0, n), and for n >= 2 the
// domain is at most 4n, so the expected number of walks is below 4; for n = 2^s with s
// even it is exactly 1, with s odd about 2). Deterministic across platforms.
class FeistelPermutation {
 public:
  FeistelPermutation(std::uint64_t n, std::uint64_t seed) : n_(n) {
    int bits = 2;
    while (bits < 64 && (std::uint64_t{1} << bits) < n) bits += 2;
    half_ = bits / 2;
    mask_ = (std::uint64_t{1} << half_) - 1;
    std::uint64_t x = seed;
    for (auto& k : keys_) { x = splitmix64(x); k = x; }
  }
  std::uint64_t size() const { return n_; }
  // The image of x, for x < n.
  std::uint64_t operator()(std::uint64_t x) const {
    do x = encrypt(x); while (x >= n_);
    return x;
  }

 private:
  std::uint64_t encrypt(std::uint64_t x) const {
    std::uint64_t l = x >> half_, r = x & mask_;
    for (std::uint64_t k : keys_) {
      const std::uint64_t t = l ^ (splitmix64(k ^ r) & mask_);
      l = r;
      r = t;
    }
    return (l << half_) | r;
  }
  std::uint64_t n_;
  int half_ = 1;
  std::uint64_t mask_ = 1;
  std::uint64_t keys_[4];
};

}  // namespace flotilla
