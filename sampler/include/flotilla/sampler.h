// Public header of the sampler library: neighbour sampling into message-flow blocks, the
// in-memory shard store that sampler and feature-loader ranks serve from, and the epoch
// schedule of seed batches. No LibTorch, no MPI (comm/ moves these between ranks).
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla/datasets/random.h"
#include "flotilla/datasets/types.h"
#include "flotilla/sampler/epoch_schedule.h"
#include "flotilla/sampler/minibatch.h"
#include "flotilla/sampler/neighbor_sampler.h"
#include "flotilla/sampler/shard_store.h"

namespace flotilla {

// Appends to `out` k distinct indices drawn uniformly from [0, n), in draw order; all n
// indices (in order) when k < 0 or k >= n. Floyd's algorithm: O(k) time, O(k) space.
void sample_without_replacement(std::uint64_t n, std::int64_t k, Rng& rng, std::vector<std::uint64_t>& out);

}  // namespace flotilla
