// Internal: GREM's streaming engine for large, skewed (power-law) graphs: degree-ordered
// placement followed by size-constrained label-propagation rounds, one edge-stream pass
// each, with bounded per-vertex affinity summaries. O(n) memory, O(m) work per pass.
// See docs/partitioning.md, "GREM, large skewed graphs".
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/partition/assignment.h"
#include "flotilla/partition/partitioner.h"

namespace flotilla::detail {

// Per-vertex degree (edges yielded by the stream at each end; repeated edges count each
// time, self-loops not at all). One pass.
std::vector<std::uint32_t> stream_degrees(EdgeStream& stream, std::uint64_t n, std::size_t chunk_edges,
                                          std::uint64_t* chunks = nullptr);

// Skew test on the degrees. S = sum over the degree-ordered blocks of `cap` vertices of
// (block's share of all edge ends)^2: the expected uncut fraction of the degree-ordered
// placement on a graph without other structure; about 1/K for flat degree distributions,
// near 1 on power-law graphs with many low-degree vertices. Returns (S - 1/K) / (1 - 1/K),
// clamped to [0, 1].
double degree_block_score(const std::vector<std::uint32_t>& deg, std::uint32_t k, std::uint64_t cap);

struct DegreeLpParams {
  std::uint32_t k = 2;
  std::uint64_t cap = 0;      // balance bound on part sizes (vertex counts)
  int rounds = 8;             // streaming passes after the degree pass
  int slots = 4;              // (part, weight) pairs per vertex summary
  std::uint64_t seed = 1;
  std::size_t chunk_edges = 1 << 20;  // read buffer
};

struct DegreeLpResult {
  std::uint64_t cut = 0;      // edge cut of the returned assignment (edges as streamed)
  std::uint64_t moves = 0;
  std::uint64_t chunks = 0;
  int passes = 0;             // streaming passes done (without the degree pass)
};

// `deg` from stream_degrees (consumed: freed after the placement). Sets a part for every
// vertex, every part <= cap.
DegreeLpResult degree_lp_partition(EdgeStream& stream, std::uint64_t n, std::vector<std::uint32_t>&& deg,
                                   const DegreeLpParams& params, std::vector<PartId>& part,
                                   const PartitionProgressFn& progress = {});

// Edge cut of `part` over one pass of the stream (edges as streamed).
std::uint64_t stream_cut(EdgeStream& stream, const std::vector<PartId>& part, std::size_t chunk_edges);

}  // namespace flotilla::detail
