// Which seeds go into which batch. Two modes:
//  - global (default): global batches are a deterministic function of (seed, epoch); trainer
//    t of T takes a contiguous slice of each global batch, so the union over trainers is the
//    same batch whatever T is (the basis of rank-count-independent results);
//  - local (DistDGL's node_split): trainer t owns chunk t of the seed set, in the order the
//    caller arranged (so that the chunk lies in the trainer's home partitions; chunks differ
//    by at most one node), shuffles it each epoch and takes ceil(batch / T) seeds per step.
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

class EpochSchedule {
 public:
  // `nodes`: the seed set (e.g. all training nodes, ascending); shuffled per epoch when
  // `shuffle`, in order otherwise (evaluation).
  EpochSchedule(std::vector<VertexId> nodes, std::uint64_t global_batch_size, std::uint64_t seed, bool shuffle);
  // Local mode for exactly `num_trainers` trainers.
  static EpochSchedule local(std::vector<VertexId> ordered_nodes, std::uint32_t num_trainers,
                             std::uint64_t global_batch_size, std::uint64_t seed, bool shuffle);
  std::uint64_t num_batches() const;
  std::uint64_t num_nodes() const { return nodes_.size(); }
  // Seeds of global batch b of `epoch`, slice `trainer` of `num_trainers` (may be empty).
  std::vector<VertexId> batch(std::uint32_t epoch, std::uint64_t b, std::uint32_t trainer,
                              std::uint32_t num_trainers) const;
  // Size of the whole global batch b (all trainers).
  std::uint64_t global_batch_size(std::uint64_t b) const;

 private:
  const std::vector<VertexId>& order(std::uint32_t epoch) const;
  // Local mode: trainer t's chunk [begin, end) of nodes_, shuffled per epoch.
  std::uint64_t chunk_begin(std::uint32_t t) const { return nodes_.size() * t / local_trainers_; }
  std::uint64_t per_trainer_batch() const { return (batch_size_ + local_trainers_ - 1) / local_trainers_; }
  const std::vector<VertexId>& local_order(std::uint32_t epoch, std::uint32_t trainer) const;
  std::uint32_t local_trainers_ = 0;  // 0 = global mode
  mutable std::vector<std::pair<std::uint32_t, std::vector<VertexId>>> local_cache_;  // per trainer
  std::vector<VertexId> nodes_;
  std::uint64_t batch_size_;
  std::uint64_t seed_;
  bool shuffle_;
  mutable std::uint32_t cached_epoch_ = ~0u;
  mutable std::vector<VertexId> cached_;
};

}  // namespace flotilla
