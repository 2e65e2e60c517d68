#include "flotilla/sampler/epoch_schedule.h"

#include <stdexcept>

#include "flotilla/datasets/random.h"

namespace flotilla {

EpochSchedule::EpochSchedule(std::vector<VertexId> nodes, std::uint64_t global_batch_size, std::uint64_t seed,
                             bool shuffle)
    : nodes_(std::move(nodes)), batch_size_(global_batch_size), seed_(seed), shuffle_(shuffle) {
  if (batch_size_ == 0) throw std::invalid_argument("batch size must be at least 1");
}

std::uint64_t EpochSchedule::num_batches() const { return (nodes_.size() + batch_size_ - 1) / batch_size_; }

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
  const std::uint64_t begin = b * batch_size_;
  if (begin >= nodes_.size()) return 0;
  return std::min<std::uint64_t>(batch_size_, nodes_.size() - begin);
}

std::vector<VertexId> EpochSchedule::batch(std::uint32_t epoch, std::uint64_t b, std::uint32_t trainer,
                                           std::uint32_t num_trainers) const {
  if (num_trainers == 0 || trainer >= num_trainers) throw std::invalid_argument("trainer index out of range");
  const std::uint64_t size = global_batch_size(b);
  const std::uint64_t begin = b * batch_size_ + size * trainer / num_trainers;
  const std::uint64_t end = b * batch_size_ + size * (trainer + 1) / num_trainers;
  const auto& o = order(epoch);
  return std::vector<VertexId>(o.begin() + static_cast<std::ptrdiff_t>(begin), o.begin() + static_cast<std::ptrdiff_t>(end));
}

}  // namespace flotilla
