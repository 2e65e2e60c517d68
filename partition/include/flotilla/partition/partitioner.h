// Graph partitioners: streaming GREM (default), the one-pass streaming baselines LDG and
// FENNEL (re-streamable), hash, and METIS (in-core, for comparison).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/partition/assignment.h"
#include "flotilla/partition/balance.h"

namespace flotilla {

enum class PartitionAlgo { Grem, Fennel, Ldg, Hash, Metis };
const char* algo_name(PartitionAlgo a);
PartitionAlgo parse_algo_name(const std::string& s);  // throws std::invalid_argument

// Default of PartitionConfig::wide_cluster_min_vertices_per_part (why 16384: semi_external.h).
inline constexpr std::uint64_t kWideClusterMinVerticesPerPart = 16384;
// Default of PartitionConfig::refine_skip_entry_ratio (why 0.9: semi_external.h).
inline constexpr double kRefineSkipEntryRatio = 0.9;
// Default of PartitionConfig::jet_iterations (docs/partitioning.md, "Jet refinement").
inline constexpr int kJetIterations = 4;

struct PartitionConfig {
  PartitionAlgo algo = PartitionAlgo::Grem;
  std::uint32_t num_parts = 2;
  double imbalance = 0.03;          // max part <= part_capacity(n, k, imbalance)
  int passes = 0;                   // passes over the stream; 0 = algorithm default
  std::size_t chunk_edges = 0;      // edges per chunk (< 2^31); 0 = derived from memory_budget
  std::uint64_t memory_budget = 0;  // bytes for per-chunk working memory; 0 = default
  std::uint64_t seed = 1;
  // Worker threads of GREM's semi-external engine (the CLI's default: every core). Its
  // label-propagation passes give the same output for any count; its block V-cycles split
  // each block into one piece per thread, so the same seed and count give the same output.
  unsigned threads = 1;
  int refine_sweeps = 8;            // GREM: refinement sweeps per level of a chunk
  int summary_slots = 4;            // GREM: (part, weight) pairs remembered per vertex
  // GREM's engine. Auto: graphs that fit one chunk run the multilevel engine and, when
  // skewed, also the LP engine, keeping the lower cut; larger graphs run the semi-external
  // multilevel engine (docs/partitioning.md). Multilevel: the chunked multilevel engine
  // (per-chunk multilevel with anchors and bounded affinity summaries).
  enum class GremEngine { Auto, Multilevel, DegreeLp, SemiExternal };
  GremEngine grem_engine = GremEngine::Auto;
  // Semi-external engine: folder for its block files (empty: $TMPDIR or /tmp). They are
  // unlinked as soon as created, so nothing is left behind, even by a killed run.
  std::string temp_dir;
  // Semi-external GREM: scratch block files bypass the page cache (O_DIRECT) where the
  // filesystem allows it; false: ordinary buffered I/O. The output is the same either way.
  bool scratch_direct_io = true;
  // Semi-external GREM: levels with at least this many vertices per part cluster up to the
  // balance limit instead of a small multiple of the mean vertex weight (docs/partitioning.md,
  // "Wide clusters"); 0: never. A tuning knob for tests and benchmarks, not a CLI flag.
  std::uint64_t wide_cluster_min_vertices_per_part = kWideClusterMinVerticesPerPart;
  // Semi-external GREM: a coarse level holding more than this fraction of the next finer
  // level's adjacency entries is projected through without refinement (docs/partitioning.md,
  // "Levels that barely shrink"); 0: every level is refined. A tuning knob, not a CLI flag.
  double refine_skip_entry_ratio = kRefineSkipEntryRatio;
  // Semi-external GREM: Jet refinement iterations on the input level after label
  // propagation (docs/partitioning.md, "Jet refinement"); 0: off. Each costs 2 passes over
  // the graph plus 1-4 rebalancing passes. CLI: --jet.
  int jet_iterations = kJetIterations;
  // Balance constraints (docs/partitioning.md, "Balance constraints"); empty: the vertex
  // count alone, bound by `imbalance`. Their weights come from `weights` when set (built by
  // the caller with compute_balance_weights, e.g. to report on them), else they are
  // computed from the stream and `balance_inputs`. With constraints other than the vertex
  // count, GREM runs the semi-external engine (the others balance vertices only).
  std::vector<BalanceConstraint> balance;
  BalanceInputs balance_inputs;
  const BalanceWeights* weights = nullptr;
};

struct PartitionStats {
  int passes_done = 0;
  std::uint64_t chunks = 0;
  std::size_t chunk_edges = 0;
  std::uint64_t moves = 0;          // refinement moves of already-placed vertices
  double seconds = 0;
  const char* engine = "";          // GREM: "multilevel" or "degree-lp" (the one kept)
  double degree_skew = 0;           // GREM: degree skew in [0, 1] (docs/partitioning.md); >= 0.3 is skewed
  // Semi-external engine: levels on disk (the input's included), the graph partitioned in
  // memory, and the most disk its block files used at once.
  int levels = 0;
  std::uint64_t coarsest_nodes = 0, coarsest_edges = 0;
  std::uint64_t temp_bytes_peak = 0;
  std::uint64_t vcycle_split_blocks = 0;  // semi-external: block V-cycles run in pieces (--threads)
  int wide_cluster_levels = 0;            // semi-external: levels clustered up to the balance limit
  int unrefined_levels = 0;               // semi-external: coarse levels projected through (refine_skip_entry_ratio)
  bool scratch_direct = true;  // the scratch files used direct I/O (false: buffered, by choice or fallback)
  std::vector<std::pair<std::uint64_t, std::uint64_t>> level_sizes;  // (vertices, merged edges), input first
  // The memory the semi-external engine plans for: its O(n) vertex state and the budget
  // for blocks and the in-memory graph (64 B per budget edge); peak RSS stays below their sum.
  std::uint64_t vertex_state_bytes = 0, budget_bytes = 0;
  // Semi-external engine, wall seconds per phase: input -> blocks, coarsening, in-memory
  // partition of the coarsest graph, projection and refinement.
  double seconds_input = 0, seconds_coarsen = 0, seconds_initial = 0, seconds_refine = 0;
  // The same phases' CPU seconds (user + system, all threads): wall time hides contention.
  double cpu_input = 0, cpu_coarsen = 0, cpu_initial = 0, cpu_refine = 0;
  // False when, with several constraints, some part stays above a bound (no single move
  // could fix it); balance_report says which.
  bool balanced = true;
};

// Bytes per vertex of the semi-external engine's state at its peak (docs/partitioning.md).
inline constexpr std::uint64_t kSemiExternalBytesPerVertex = 32;

// Chunks index their local edges (both directions) with 32-bit counters: at most 2^31 - 1
// edges per chunk.
inline constexpr std::size_t kMaxChunkEdges = (std::size_t{1} << 31) - 1;

// Edges per chunk for `config`: chunk_edges when set, else memory_budget / 64 (default
// 256 MiB), at least 1024; never above kMaxChunkEdges. Throws std::invalid_argument when
// chunk_edges itself is above kMaxChunkEdges.
std::size_t effective_chunk_edges(const PartitionConfig& config);

// FENNEL's alpha = sqrt(K) * m / n^1.5 (Tsourakakis et al. 2014), m = undirected edges
// (at least 1); 0 for n = 0.
double fennel_alpha(std::uint64_t n, std::uint64_t m, std::uint32_t k);
// m for FENNEL's alpha. Streams that yield each undirected edge once: the edge count from
// the header (else one counting pass). Other streams (edge lists, which may list an edge
// once or in both directions): one pass counts the entries (u != v) and a signed
// fingerprint sum (+h({u,v}) for u < v, -h for u > v), which is zero exactly when every
// edge is listed as often in one direction as in the other (up to 2^-64 chance): then
// m = entries / 2, else m = entries (a list mixing both styles is counted as listed once).
// Repeated entries count as often as they appear. Rewinds the stream. *counted is set to
// whether a pass over the stream was needed.
std::uint64_t fennel_edge_count(EdgeStream& stream, std::size_t chunk_edges, bool* counted = nullptr);

// Bytes `partition_graph` certainly allocates for n vertices and m edges (m = 0 when
// unknown) with `config`: its O(n) arrays, and for METIS the CSR. A lower bound of its peak
// (chunk working memory and the output are extra); partition_graph refuses, naming the
// input, a graph whose bound exceeds the memory available (MemAvailable).
std::uint64_t partition_state_lower_bound(const PartitionConfig& config, std::uint64_t n, std::uint64_t m);
// (edges done in this pass, edges in the pass or 0, pass index)
using PartitionProgressFn = std::function<void(std::uint64_t, std::uint64_t, int)>;

// The checks partition_graph makes from the stream's header before reading anything (METIS's
// 32-bit index range, the per-vertex state against the memory available); throws naming the
// file. Callers that read the stream first (e.g. for balance weights) call it before that.
void check_partition_inputs(const EdgeStream& stream, const PartitionConfig& config);

// Partitions the graph the stream yields. Streaming algorithms read it chunk by chunk and
// hold O(n + chunk) memory; METIS builds the whole CSR. Edge weights: only METIS uses them
// (adjwgt); GREM, FENNEL, LDG and hash count every edge entry as 1. Vertex weights are not
// supported (every vertex counts 1 for balance). The result satisfies the balance
// bound for every algorithm except METIS, whose own bound is approximate.
std::vector<PartId> partition_graph(EdgeStream& stream, const PartitionConfig& config, PartitionStats* stats = nullptr,
                                    const PartitionProgressFn& progress = {});

}  // namespace flotilla
