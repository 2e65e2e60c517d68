// Graph partitioners: streaming GREM (default), the one-pass streaming baselines LDG and
// FENNEL (re-streamable), hash, and METIS (in-core, for comparison).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/partition/assignment.h"

namespace flotilla {

enum class PartitionAlgo { Grem, Fennel, Ldg, Hash, Metis };
const char* algo_name(PartitionAlgo a);
PartitionAlgo parse_algo_name(const std::string& s);  // throws std::invalid_argument

struct PartitionConfig {
  PartitionAlgo algo = PartitionAlgo::Grem;
  std::uint32_t num_parts = 2;
  double imbalance = 0.03;          // max part <= part_capacity(n, k, imbalance)
  int passes = 0;                   // passes over the stream; 0 = algorithm default
  std::size_t chunk_edges = 0;      // edges per chunk; 0 = derived from memory_budget
  std::uint64_t memory_budget = 0;  // bytes for per-chunk working memory; 0 = default
  std::uint64_t seed = 1;
  int refine_sweeps = 8;            // GREM: refinement sweeps per level of a chunk
  int summary_slots = 4;            // GREM: (part, weight) pairs remembered per vertex
  // GREM's engine. Auto: multi-chunk skewed (power-law) graphs use the degree-ordered
  // label-propagation engine, other multi-chunk graphs the chunked multilevel engine;
  // graphs that fit one chunk run the multilevel engine and, when skewed, also the LP
  // engine, keeping the lower cut.
  enum class GremEngine { Auto, Multilevel, DegreeLp };
  GremEngine grem_engine = GremEngine::Auto;
};

struct PartitionStats {
  int passes_done = 0;
  std::uint64_t chunks = 0;
  std::size_t chunk_edges = 0;
  std::uint64_t moves = 0;          // refinement moves of already-placed vertices
  double seconds = 0;
  const char* engine = "";          // GREM: "multilevel" or "degree-lp" (the one kept)
  double degree_skew = 0;           // GREM: degree skew in [0, 1] (docs/partitioning.md); >= 0.3 is skewed
};

// (edges done in this pass, edges in the pass or 0, pass index)
using PartitionProgressFn = std::function<void(std::uint64_t, std::uint64_t, int)>;

// Partitions the graph the stream yields. Streaming algorithms read it chunk by chunk and
// hold O(n + chunk) memory; METIS builds the whole CSR. The result satisfies the balance
// bound for every algorithm except METIS, whose own bound is approximate.
std::vector<PartId> partition_graph(EdgeStream& stream, const PartitionConfig& config, PartitionStats* stats = nullptr,
                                    const PartitionProgressFn& progress = {});

}  // namespace flotilla
