// Internal: multilevel k-way partitioning of a small weighted graph with fixed vertices and
// an optional initial assignment. GREM runs it on each chunk's graph, where k "anchor"
// vertices (fixed to their parts) stand for everything already placed outside the chunk.
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla/datasets/types.h"
#include "flotilla/partition/assignment.h"

namespace flotilla::detail {

// CSR with edge weights and ncon vertex weights per vertex (one per balance constraint).
// Owns its arrays.
struct WeightedGraph {
  std::vector<EdgeIndex> xadj{0};
  std::vector<std::uint32_t> adj;
  std::vector<float> ew;
  std::vector<std::uint32_t> vw;  // n x ncon, row-major
  std::vector<PartId> fixed;      // kNoPart = free
  std::uint32_t ncon = 1;
  std::uint32_t n() const { return static_cast<std::uint32_t>(xadj.size() - 1); }
  std::uint32_t w(std::uint32_t v, std::uint32_t c = 0) const { return vw[static_cast<std::size_t>(v) * ncon + c]; }
};

// Auto: heavy-edge matching, replaced by label-propagation clustering on levels where the
// matching shrinks the graph by less than a quarter.
enum class Coarsening { Auto, Matching, Clustering };

struct MultilevelParams {
  std::uint32_t k = 2;
  // Vertex weight each part may still take in this graph (the rest of the part lies
  // outside), per constraint: k x ncon, row-major.
  std::vector<std::int64_t> capacity;
  int sweeps = 8;
  std::uint64_t seed = 1;
  std::uint32_t coarsest = 0;  // stop coarsening at this many vertices (0 = max(20k, 64))
  int initial_tries = 8;       // greedy-growing attempts on the coarsest graph
  Coarsening coarsening = Coarsening::Auto;
  double skew_for_clustering = 10;  // Auto: clustering when max degree > this x mean degree
};

struct MultilevelResult {
  std::uint64_t moves = 0;  // vertices whose final part differs from their initial one
};

// `part`: in, initial parts (kNoPart = unassigned; fixed vertices may be kNoPart); out, a
// part for every vertex, fixed vertices in their fixed part, loads within capacity when the
// capacities allow it.
MultilevelResult multilevel_partition(const WeightedGraph& g, const MultilevelParams& params, std::vector<PartId>& part);

// Cut weight of `part` on g (each undirected edge counted once; tests and diagnostics).
double cut_weight(const WeightedGraph& g, const std::vector<PartId>& part);

}  // namespace flotilla::detail
