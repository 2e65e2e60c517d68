// A vertex -> part assignment, its quality (edge cut, balance) and gpmetis's `.part.K`
// text format (one part id per line, line i = vertex i).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/datasets/types.h"

namespace flotilla {

using PartId = std::uint32_t;
inline constexpr PartId kNoPart = ~PartId{0};

struct PartitionQuality {
  std::uint32_t num_parts = 0;
  std::uint64_t num_nodes = 0;
  std::uint64_t num_edges = 0;   // undirected edges counted (see evaluate_partition)
  std::uint64_t edge_cut = 0;    // of those, edges whose ends lie in different parts
  double imbalance = 0;          // max part size / (n / k)
  std::vector<std::uint64_t> part_sizes;
  // Per part: distinct vertices outside the part adjacent to it (its halo).
  std::vector<std::uint64_t> halo_sizes;
};

// Largest part size allowed for imbalance epsilon: floor((1 + eps) * n / k) —
// never below ceil(n / k), so a perfectly balanced assignment always exists.
std::uint64_t part_capacity(std::uint64_t n, std::uint32_t k, double epsilon);

// Scores `part` (size n, values < k). Streams that yield each undirected edge once (METIS,
// binary with the flag) are scored in one pass with O(n) memory, each entry with u != v
// counted (a multigraph's repeated edges count as often as they appear). Other streams (edge
// lists in any direction, possibly repeated) are scored exactly over distinct undirected
// edges from a deduplicated CSR, which costs O(m) memory. Halo sizes need one bit per
// (vertex, part) pair when `with_halos` and are skipped above 2^31 bits.
PartitionQuality evaluate_partition(EdgeStream& stream, const std::vector<PartId>& part, std::uint32_t k,
                                    bool with_halos = true, std::size_t chunk_edges = std::size_t{1} << 22);

// gpmetis format. Reading checks: exactly n lines (n from the graph), ids are integers < k
// when k > 0 (k = 0: infer k = max id + 1). Writing is atomic and durable (temp file,
// fsync, rename, fsync of the folder).
std::vector<PartId> read_part_file(const std::string& path, std::uint64_t n, std::uint32_t* k = nullptr);
void write_part_file(const std::string& path, const std::vector<PartId>& part);

}  // namespace flotilla
