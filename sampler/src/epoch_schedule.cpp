#include "flotilla/sampler/epoch_schedule.h"

#include <algorithm>
#include <stdexcept>

#include "flotilla/datasets/random.h"

namespace flotilla {

EpochSchedule::EpochSchedule(std::vector<VertexId> nodes, std::uint64_t global_batch_size, std::uint64_t seed,
                             bool shuffle)
    : nodes_(std::move(nodes)), batch_size_(global_batch_size), seed_(seed), shuffle_(shuffle) {
  if (batch_size_ == 0) throw std::invalid_argument("batch size must be at least 1");
}

EpochSchedule EpochSchedule::local(std::vector<VertexId> ordered_nodes, std::uint32_t num_trainers,
                                   std::uint64_t global_batch_size, std::uint64_t seed, bool shuffle) {
  if (num_trainers == 0) throw std::invalid_argument("at least one trainer");
  EpochSchedule s(std::move(ordered_nodes), global_batch_size, seed, shuffle);
  s.local_trainers_ = num_trainers;
  s.local_cache_.assign(num_trainers, {~0u, {}});
  return s;
}

std::uint64_t EpochSchedule::num_batches() const {
  if (local_trainers_) {
    std::uint64_t longest = 0;
    for (std::uint32_t t = 0; t < local_trainers_; ++t) longest = std::max(longest, chunk_begin(t + 1) - chunk_begin(t));
    return (longest + per_trainer_batch() - 1) / per_trainer_batch();
  }
  return (nodes_.size() + batch_size_ - 1) / batch_size_;
}

const std::vector<VertexId>& EpochSchedule::local_order(std::uint32_t epoch, std::uint32_t t) const {
  auto& [cached_epoch, v] = local_cache_[t];
  if (cached_epoch != epoch || v.empty()) {
    v.assign(nodes_.begin() + static_cast<std::ptrdiff_t>(chunk_begin(t)),
             nodes_.begin() + static_cast<std::ptrdiff_t>(chunk_begin(t + 1)));
    if (shuffle_) {
      Rng rng(splitmix64(seed_ ^ 0x6c6f63616cULL) ^ splitmix64(epoch) ^ splitmix64(0x7472ULL + t));
      for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
    }
    cached_epoch = epoch;
  }
  return v;
}

const std::vector<VertexId>& EpochSchedule::order(std::uint32_t epoch) const {
  if (!shuffle_) return nodes_;
  if (cached_epoch_ != epoch) {
    cached_ = nodes_;
    Rng rng(splitmix64(seed_ ^ 0x7368756666ULL) ^ splitmix64(epoch));  // Fisher-Yates
    for (std::size_t i = cached_.size(); i > 1; --i) std::swap(cached_[i - 1], cached_[rng.below(i)]);
    cached_epoch_ = epoch;
  }
  return cached_;
}

std::uint64_t EpochSchedule::global_batch_size(std::uint64_t b) const {
  if (local_trainers_) {
    std::uint64_t total = 0;
    const std::uint64_t pb = per_trainer_batch();
    for (std::uint32_t t = 0; t < local_trainers_; ++t) {
      const std::uint64_t len = chunk_begin(t + 1) - chunk_begin(t);
      if (len > b * pb) total += std::min(pb, len - b * pb);
    }
    return total;
  }
  const std::uint64_t begin = b * batch_size_;
  if (begin >= nodes_.size()) return 0;
  return std::min<std::uint64_t>(batch_size_, nodes_.size() - begin);
}

std::vector<VertexId> EpochSchedule::batch(std::uint32_t epoch, std::uint64_t b, std::uint32_t trainer,
                                           std::uint32_t num_trainers) const {
  if (num_trainers == 0 || trainer >= num_trainers) throw std::invalid_argument("trainer index out of range");
  if (local_trainers_) {
    if (num_trainers != local_trainers_) throw std::invalid_argument("local schedule built for another trainer count");
    const auto& o = local_order(epoch, trainer);
    const std::uint64_t pb = per_trainer_batch();
    const std::uint64_t begin = std::min<std::uint64_t>(o.size(), b * pb), end = std::min<std::uint64_t>(o.size(), begin + pb);
    return std::vector<VertexId>(o.begin() + static_cast<std::ptrdiff_t>(begin), o.begin() + static_cast<std::ptrdiff_t>(end));
  }
  const std::uint64_t size = global_batch_size(b);
  const std::uint64_t begin = b * batch_size_ + size * trainer / num_trainers;
  const std::uint64_t end = b * batch_size_ + size * (trainer + 1) / num_trainers;
  const auto& o = order(epoch);
  return std::vector<VertexId>(o.begin() + static_cast<std::ptrdiff_t>(begin), o.begin() + static_cast<std::ptrdiff_t>(end));
}

}  // namespace flotilla
