// Internal: edge weights for METIS's adjwgt (positive 32-bit integers).
#pragma once

#include <cstdint>
#include <vector>

namespace flotilla::detail {

// Integral weights in 1..2^24 whose total fits idx_t are passed as they are (METIS files).
// Anything else (fractions, zero, huge totals) is scaled in proportion so that the largest
// weight becomes min(2^20, (2^31 - 1) / entries); every entry is at least 1.
std::vector<std::int32_t> metis_edge_weights(const std::vector<float>& weights);

}  // namespace flotilla::detail
