#include "id_compactor.h"

#include <algorithm>

namespace flotilla::detail {

void IdCompactor::add(std::uint64_t id) {
  if (id > max_id_ || count_ == 0) max_id_ = std::max(max_id_, id);
  if (!use_hash_) {
    if (id < kBitmapLimit) {
      const std::uint64_t w = id >> 6;
      if (w >= bits_.size()) bits_.resize(std::max<std::uint64_t>(w + 1, bits_.size() * 2), 0);
      const std::uint64_t m = std::uint64_t{1} << (id & 63);
      if (!(bits_[w] & m)) { bits_[w] |= m; ++count_; }
      return;
    }
    to_hash();
  }
  // Hash mode before finalize: set semantics via the table with dummy values.
  if (hash_find(id) == kMissing) { hash_insert(id, 0); pending_.push_back(id); ++count_; }
}

void IdCompactor::to_hash() {
  use_hash_ = true;
  keys_.assign(1024, 0);
  values_.assign(1024, 0);
  std::vector<std::uint64_t> bits;
  bits.swap(bits_);
  for (std::uint64_t w = 0; w < bits.size(); ++w) {
    for (std::uint64_t word = bits[w]; word; word &= word - 1) {
      const std::uint64_t id = (w << 6) + static_cast<std::uint64_t>(__builtin_ctzll(word));
      hash_insert(id, 0);
      pending_.push_back(id);
    }
  }
}

void IdCompactor::hash_insert(std::uint64_t key, std::uint64_t value) {
  if ((count_ + 1) * 2 > keys_.size()) {  // keep load <= 1/2
    std::vector<std::uint64_t> ok, ov;
    ok.swap(keys_);
    ov.swap(values_);
    keys_.assign(ok.size() * 2, 0);
    values_.assign(ok.size() * 2, 0);
    for (std::size_t i = 0; i < ok.size(); ++i)
      if (ok[i]) {
        std::size_t h = mix(ok[i] - 1) & (keys_.size() - 1);
        while (keys_[h]) h = (h + 1) & (keys_.size() - 1);
        keys_[h] = ok[i];
        values_[h] = ov[i];
      }
  }
  std::size_t h = mix(key) & (keys_.size() - 1);
  while (keys_[h] && keys_[h] != key + 1) h = (h + 1) & (keys_.size() - 1);
  keys_[h] = key + 1;
  values_[h] = value;
}

std::uint64_t IdCompactor::hash_find(std::uint64_t key) const {
  if (keys_.empty()) return kMissing;
  std::size_t h = mix(key) & (keys_.size() - 1);
  while (keys_[h]) {
    if (keys_[h] == key + 1) return values_[h];
    h = (h + 1) & (keys_.size() - 1);
  }
  return kMissing;
}

void IdCompactor::finalize() {
  final_ = true;
  if (use_hash_) {
    std::sort(pending_.begin(), pending_.end());
    for (std::uint64_t i = 0; i < pending_.size(); ++i) {
      std::size_t h = mix(pending_[i]) & (keys_.size() - 1);
      while (keys_[h] != pending_[i] + 1) h = (h + 1) & (keys_.size() - 1);
      values_[h] = i;
    }
    pending_.clear();
    pending_.shrink_to_fit();
    return;
  }
  rank_base_.resize(bits_.size());
  std::uint64_t acc = 0;
  for (std::size_t w = 0; w < bits_.size(); ++w) {
    rank_base_[w] = acc;
    acc += static_cast<std::uint64_t>(__builtin_popcountll(bits_[w]));
  }
}

std::uint64_t IdCompactor::rank(std::uint64_t id) const {
  if (use_hash_) return hash_find(id);
  const std::uint64_t w = id >> 6;
  if (w >= bits_.size()) return kMissing;
  const std::uint64_t m = std::uint64_t{1} << (id & 63);
  if (!(bits_[w] & m)) return kMissing;
  return rank_base_[w] + static_cast<std::uint64_t>(__builtin_popcountll(bits_[w] & (m - 1)));
}

}  // namespace flotilla::detail
