// Internal: maps arbitrary non-negative integer ids to 0..n-1 in increasing id order.
// Dense small ids use a bitmap with rank counts (O(1) lookup, max_id/8 * 1.5 bytes);
// beyond kBitmapLimit it switches to an open-addressing hash table (O(n) memory).
#pragma once

#include <cstdint>
#include <vector>

namespace flotilla::detail {

class IdCompactor {
 public:
  static constexpr std::uint64_t kBitmapLimit = std::uint64_t{1} << 28;

  void add(std::uint64_t id);
  // Freezes the id set; after this, rank() maps ids to 0..size()-1.
  void finalize();
  std::uint64_t size() const { return count_; }
  std::uint64_t max_id() const { return max_id_; }
  bool dense() const { return count_ == 0 || count_ == max_id_ + 1; }
  // Rank of an id that was added; kMissing for an id never added.
  static constexpr std::uint64_t kMissing = ~std::uint64_t{0};
  std::uint64_t rank(std::uint64_t id) const;

 private:
  void to_hash();
  void hash_insert(std::uint64_t key, std::uint64_t value);
  std::uint64_t hash_find(std::uint64_t key) const;
  static std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
  }

  bool use_hash_ = false;
  bool final_ = false;
  std::uint64_t count_ = 0, max_id_ = 0;
  std::vector<std::uint64_t> bits_;      // bitmap mode
  std::vector<std::uint64_t> rank_base_; // per bitmap word: ids set before it
  std::vector<std::uint64_t> keys_, values_;  // hash mode (keys_ = id + 1; 0 = empty)
  std::vector<std::uint64_t> pending_;   // hash mode, before finalize: distinct ids
};

}  // namespace flotilla::detail
