// Public header of the sampler library: neighbour sampling primitives. The distributed
// sampler ranks (issue #4) build on these.
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla/datasets/random.h"
#include "flotilla/datasets/types.h"

namespace flotilla {

// Appends to `out` k distinct indices drawn uniformly from [0, n), in draw order; all n
// indices (in order) when k < 0 or k >= n. Floyd's algorithm: O(k) time, O(k) space.
void sample_without_replacement(std::uint64_t n, std::int64_t k, Rng& rng, std::vector<std::uint64_t>& out);

}  // namespace flotilla
