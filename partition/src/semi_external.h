// Internal: GREM's semi-external multilevel engine (docs/partitioning.md). Only O(n) vertex
// state stays in memory; edges live in block files on disk (a temporary folder) and are
// streamed once per pass. Coarsening by size-constrained label propagation over complete
// neighbourhoods, contraction on disk until the cluster graph fits the memory budget, an
// in-memory multilevel partition of it, then projection and label-propagation refinement
// on every level, streamed again.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/partition/assignment.h"
#include "flotilla/partition/partitioner.h"

namespace flotilla::detail {

struct SemiExternalParams {
  std::uint32_t k = 2;
  std::uint64_t cap = 0;          // max vertices per part (part_capacity)
  double imbalance = 0.03;
  std::size_t budget_edges = 0;   // edges a block (and the in-memory cluster graph) may hold
  std::uint64_t seed = 1;
  // Label-propagation rounds per coarsening level. One: clusters are limited to about twice
  // the mean vertex weight, so a round pairs most vertices and two-hop grouping places most of
  // the rest; more rounds cost a pass over the level each and measured no better (quality set,
  // 16 chunks: social 1.102 with 5, 1.084 with 2, 1.089 with 1; RGG 2^23 permuted 76136,
  // 74664, 74940; R-MAT 2^22 nodes,edges +0.4% with 1).
  int cluster_rounds = 1;
  // On a level that is one block (within the budget: small graphs, and the levels below the
  // budget that several constraints coarsen through) a round costs little, and more rounds
  // help three tight constraints: nodes,edges,train geomean 1.52 with 1 round, 1.43 with 5.
  int cluster_rounds_in_budget = 5;
  int refine_rounds = 4;          // label-propagation refinement rounds per level
  int refine_sweeps = 8;          // in-memory multilevel refinement sweeps
  // Jet refinement (Gilbert et al., 2023) on the input level, after label propagation:
  // each iteration lets every vertex propose a move to the other part it is most connected
  // to, whether or not that part has room and even at a loss (below jet_loss x its
  // connection to its own part), keeps the proposals that still gain when the
  // higher-priority proposals around them are assumed made (the afterburner), applies them
  // all, then rebalances with the refinement's rebalancing passes. The best balanced
  // partition seen is kept, so the result never cuts more than label propagation's. Label
  // propagation only makes positive moves into parts with room; with several constraints
  // every part ends at one bound or another and it stops, which Jet's unconstrained moves
  // plus rebalancing get past (docs/partitioning.md, "Jet refinement"). Each iteration
  // costs two passes over the input level plus the rebalancing passes (1-4), and a last
  // pass scores the final state. jet_iterations at most (0: off), ending after jet_patience
  // iterations in a row without a 0.1% lower cut, or when fewer moves stand than 1 in 1000
  // cut edges.
  int jet_iterations = kJetIterations;
  double jet_loss = 0.25;
  int jet_patience = 3;
  // Label-propagation refinement rounds on the input level when Jet follows (Jet makes
  // every move they would, and more).
  int jet_lp_rounds = 1;
  // Clusters of a level weigh at most cluster_growth x the level's mean vertex weight (more
  // levels, each refined, as multilevel matching does; 2 measured best on the quality set).
  double cluster_growth = 2;
  // A level with at least this many vertices per part clusters as TeraPart/KaMinPar do: a
  // cluster may grow to the balance limit (eps_c total_c / k per constraint), not to
  // cluster_growth x the mean. On large graphs without locality (SBM, R-MAT, permuted RGG)
  // the mean-relative limit merges vertices but not edges (every level keeps nearly all of
  // them, so each costs a full pass); wide clusters absorb communities and collapse the graph
  // in a level or two. K = 16, twofold -> wide: SBM products 55.2 -> 41.1 s CPU (same cut),
  // R-MAT 2^22 nodes,edges 85.9 -> 41.8 s and cut 59.47M -> 59.00M, RGG 2^23 permuted 42.4 ->
  // 28.8 s and cut 75015 -> 69895, RGG 2^23 in spatial order 33.2 -> 15.8 s and cut +10%
  // (docs/partitioning.md, "Wide clusters"). On small graphs split into many blocks the
  // deeper hierarchy is better (quality set, 16 chunks: social 1.089, every level wide 1.163;
  // those graphs have at most 115k vertices, 14k per part), and their levels cost little.
  // 0: never.
  std::uint64_t wide_cluster_min_vertices_per_part = kWideClusterMinVerticesPerPart;
  // A coarse level made by wide clusters that holds more than this fraction of the next finer
  // level's entries is not refined (no V-cycles, label propagation or rebalancing there):
  // its partition is projected straight to the finer level. Wide label propagation on a
  // graph without locality can stall at clusters of a few vertices whose edges nearly all
  // leave them (SBM products: level 1 keeps 59.4M of level 0's 61.2M edges). Every move on
  // such a level is a move of the finer one too (its vertices moving together), and a pass
  // over either costs about the same, so refining both buys little (docs/partitioning.md,
  // "Levels that barely shrink"). Narrow levels are refined whatever their size: there the
  // deep hierarchy is the point (skipping those too cost the quality set's social graphs a
  // little in 16 chunks). 0: refine every level.
  double refine_skip_entry_ratio = kRefineSkipEntryRatio;
  bool block_vcycles = true;      // refine each block against exact anchors (multilevel engine)
  std::uint32_t small_graph_per_part = 64;  // several constraints: coarsen to this many vertices per part
  int initial_seeds = 4;          // in-memory partitions of the coarsest graph, best kept
  // ... at most this many on a coarsest graph of more than `large_coarsest_entries` adjacency
  // entries, where each costs most of a second and they differ little (RGG 2^23 in both
  // orders: the same partition with 2 as with 4; SBM products: cut 11.738M against 11.743M).
  // 0: no cap.
  int initial_seeds_large = 2;
  std::uint64_t large_coarsest_entries = std::uint64_t{1} << 21;
  // Block V-cycles on this level and coarser ones, and on any level that is one block. 1: not
  // on an input level of several blocks, where a V-cycle per block costs about a fifth of the
  // CPU on meshes (RGG 2^23) and gains little that label propagation refinement does not
  // (quality set within 1%, RGG 2^23 +0% to 2.6%).
  std::uint32_t vcycle_min_level = 1;
  unsigned threads = 1;           // worker threads (batched label propagation, block V-cycle pieces)
  std::string temp_dir;           // where the block files go (empty: TMPDIR or /tmp)
  bool direct_io = true;          // block files bypass the page cache (O_DIRECT) where allowed
  // Several balance constraints: per-vertex weights n x ncon (null: one constraint, the
  // vertex count, with cap and imbalance above), and per constraint its capacity, total
  // and eps.
  const std::vector<std::uint32_t>* vertex_weights = nullptr;
  // The column of vertex_weights that holds every vertex's degree as the input level counts
  // it (entries u != v, both ends; the `edges` constraint), or -1: with it the input level
  // skips its own degree pass over the stream.
  int degree_column = -1;
  std::uint32_t ncon = 1;
  std::vector<std::uint64_t> caps, totals;
  std::vector<double> eps;
};

struct SemiExternalResult {
  int input_passes = 0;           // passes over the input stream (2: degrees, distribution; 1 with degree_column)
  int block_passes = 0;           // passes over block files, all levels
  std::uint64_t blocks_read = 0;
  std::uint64_t moves = 0;        // refinement moves on the finest level
  bool balanced = true;           // every constraint holds (always, with one node constraint)
  int levels = 0;                 // levels on disk, the input's included
  std::uint64_t coarsest_nodes = 0, coarsest_edges = 0;  // the graph partitioned in memory
  std::uint64_t temp_bytes_peak = 0;  // disk used by block files at most
  bool scratch_direct = true;     // every block file used direct I/O (none fell back)
  std::uint64_t vcycle_split_blocks = 0;  // blocks whose V-cycle ran in several pieces (threads)
  int wide_cluster_levels = 0;            // levels clustered up to the balance limit
  int unrefined_levels = 0;               // coarse levels projected through (refine_skip_entry_ratio)
  std::vector<std::pair<std::uint64_t, std::uint64_t>> level_sizes;  // (vertices, merged edges) per level
  // Wall seconds: input to blocks, coarsening, in-memory partition, projection + refinement.
  double seconds_input = 0, seconds_coarsen = 0, seconds_initial = 0, seconds_refine = 0;
  // CPU seconds (user + system, every thread) of the same phases.
  double cpu_input = 0, cpu_coarsen = 0, cpu_initial = 0, cpu_refine = 0;
};

// Vertex ranges holding at most `budget` entries each (a heavier vertex gets a range of its
// own), from per-vertex entry counts (64-bit: a level may hold more than 2^32 entries).
// Returns the range starts followed by n.
std::vector<VertexId> block_bounds(const std::vector<std::uint64_t>& counts, std::uint64_t budget);

// Partitions the stream's graph into p.k parts of at most p.cap vertices; `part` gets n
// entries. Every edge entry counts 1 (repeated entries add up), as everywhere in GREM.
SemiExternalResult semi_external_partition(EdgeStream& stream, std::uint64_t n, const SemiExternalParams& p,
                                           std::vector<PartId>& part, const PartitionProgressFn& progress = {});

}  // namespace flotilla::detail
