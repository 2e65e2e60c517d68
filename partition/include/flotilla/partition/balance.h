// Balance constraints of a partition: what each part must hold at most of, per constraint
// (vertices, edge endpoints, training nodes, METIS vertex weights). docs/partitioning.md,
// "Balance constraints".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/partition/assignment.h"

namespace flotilla {

enum class BalanceKind { Nodes, Edges, Train, Vwgt };

struct BalanceConstraint {
  BalanceKind kind = BalanceKind::Nodes;
  std::uint32_t column = 0;  // Vwgt: which of the file's ncon weights
  double eps = 0.03;         // max part weight <= (1 + eps) * total / K (see constraint_capacity)
};

// "nodes", "edges", "train", "vwgt" (ncon = 1) or "vwgt0", "vwgt1", ...
std::string constraint_name(const BalanceConstraint& c);

// Parses `--balance LIST` (comma-separated nodes, edges, train, vwgt; "vwgt" stands for
// every column of a file with ncon weights) and `--imbalance SPEC` (one number for every
// constraint, or name=eps pairs, e.g. "nodes=0.03,edges=0.05", unnamed ones keeping
// `default_eps`). Throws std::invalid_argument naming the bad item.
std::vector<BalanceConstraint> parse_balance(const std::string& list, const std::string& imbalance,
                                             std::uint32_t vwgt_columns, double default_eps = 0.03);

// The largest weight a part may hold: floor((1 + eps) * total / k), but never below
// ceil(total / k) (for vertices: part_capacity) nor below the heaviest vertex, which must fit
// somewhere (a hub whose degree exceeds the bound on edges gets a part of its own weight).
std::uint64_t constraint_capacity(std::uint64_t total, std::uint64_t max_vertex, std::uint32_t k, double eps);

// Per-vertex weights of every constraint: n x ncon, row-major. Owns its arrays.
struct BalanceWeights {
  std::vector<BalanceConstraint> constraints;
  std::uint32_t ncon = 0;
  std::uint64_t n = 0;
  std::vector<std::uint32_t> w;          // empty when the only constraint is nodes (all 1)
  std::vector<std::uint64_t> total, max_vertex, cap;  // per constraint
  std::uint32_t at(std::uint64_t v, std::uint32_t c) const {
    return w.empty() ? 1u : w[v * ncon + c];
  }
  bool nodes_only() const { return ncon == 1 && constraints[0].kind == BalanceKind::Nodes; }
};

struct BalanceInputs {
  const std::vector<std::uint8_t>* train = nullptr;     // Train: 1 = training node, n entries
  const std::vector<std::uint32_t>* vwgt = nullptr;     // Vwgt: n x vwgt_columns
  std::uint32_t vwgt_columns = 0;
};

// Builds the weights (one streaming pass for edges: each entry u != v adds 1 to both ends'
// degree, repeated entries as often as they appear) and the capacities for k parts.
// Throws std::invalid_argument when a constraint's input is missing.
BalanceWeights compute_balance_weights(EdgeStream& stream, const std::vector<BalanceConstraint>& constraints,
                                       std::uint32_t k, const BalanceInputs& inputs, std::size_t chunk_edges);

// What a partition holds per constraint.
struct ConstraintReport {
  std::string name;
  double eps = 0;
  std::uint64_t total = 0, cap = 0;
  std::vector<std::uint64_t> part_weights;
  double imbalance = 0;  // max part weight / (total / k)
  bool holds = true;     // max part weight <= cap
};
std::vector<ConstraintReport> balance_report(const BalanceWeights& bw, const std::vector<PartId>& part, std::uint32_t k);

}  // namespace flotilla

namespace flotilla {

// Drives an assignment that breaks some bound back under all of them by local search on
// the total relative overload (sum over parts and constraints of max(0, load - cap) / cap):
// single moves out of overloaded parts, then pairwise swaps (which fix one constraint
// without touching another, e.g. edges at equal vertex counts), each accepted only when the
// overload drops. Ignores the cut: meant for the few vertices a partitioner could not place
// within every bound. Candidates are sampled (deterministic for a seed). Returns true when
// every bound holds afterwards. O(n) memory.
bool repair_balance(std::vector<PartId>& part, const BalanceWeights& bw, std::uint32_t k, std::uint64_t seed,
                    std::uint64_t* moves = nullptr);

}  // namespace flotilla
