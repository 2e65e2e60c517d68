// Internal: per-format EdgeStream factories. open_edge_stream() dispatches to these.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "flotilla/datasets/edge_stream.h"

namespace flotilla::detail {

// Each edge once (from its smaller end); the adjacency must be symmetric, without repeated
// neighbours. symmetrize: every entry is an edge, yielded as listed (see EdgeStreamOptions).
std::unique_ptr<EdgeStream> open_metis_stream(const std::string& path, bool symmetrize = false);
// Every arc (both directions, as listed); vertex weights appended to *vertex_weights on each
// pass (cleared on rewind). For read_metis, which validates symmetry.
std::unique_ptr<EdgeStream> open_metis_arc_stream(const std::string& path,
                                                  std::vector<std::int64_t>* vertex_weights, int* ncon);
// An edge count the file must match, from another file (OGB's raw/num-edge-list).
struct EdgeCountCheck {
  std::string count_file;  // empty: no check
  std::uint64_t edges = 0;
};
// `num_nodes` > 0 fixes the vertex count (ids must be below it; no compaction). `expect`: the
// number of edge lines (self-loops included) must equal expect.edges, else InputError.
std::unique_ptr<EdgeStream> open_edgelist_stream(const std::string& path, bool keep_ids,
                                                 std::uint64_t num_nodes = 0,
                                                 GraphFormat reported = GraphFormat::EdgeList,
                                                 const EdgeCountCheck& expect = {});
std::unique_ptr<EdgeStream> open_binary_stream(const std::string& path, GraphFormat fmt);
std::unique_ptr<EdgeStream> open_ogb_stream(const std::string& dir);
std::unique_ptr<EdgeStream> open_npy_stream(const std::string& path);
std::unique_ptr<EdgeStream> open_traffic_stream(const std::string& dir);

}  // namespace flotilla::detail

namespace flotilla::detail {
// "base.gz" if it exists, else "base" if it exists, else "".
std::string existing_variant(const std::string& base);
// First non-comment line's first integer (OGB's num-node-list.csv and friends).
std::uint64_t read_single_count(const std::string& path, const char* what);
}  // namespace flotilla::detail
