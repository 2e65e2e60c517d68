// Which seeds go into which batch. Global batches are a deterministic function of (seed,
// epoch); trainer t of T takes a contiguous slice of each global batch, so the union over
// trainers is the same batch whatever T is (the basis of rank-count-independent results).
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
  std::uint64_t num_batches() const;
  std::uint64_t num_nodes() const { return nodes_.size(); }
  // Seeds of global batch b of `epoch`, slice `trainer` of `num_trainers` (may be empty).
  std::vector<VertexId> batch(std::uint32_t epoch, std::uint64_t b, std::uint32_t trainer,
                              std::uint32_t num_trainers) const;
  // Size of the whole global batch b (all trainers).
  std::uint64_t global_batch_size(std::uint64_t b) const;

 private:
  const std::vector<VertexId>& order(std::uint32_t epoch) const;
  std::vector<VertexId> nodes_;
  std::uint64_t batch_size_;
  std::uint64_t seed_;
  bool shuffle_;
  mutable std::uint32_t cached_epoch_ = ~0u;
  mutable std::vector<VertexId> cached_;
};

}  // namespace flotilla
