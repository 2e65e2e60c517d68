// CsrGraph: compressed sparse row adjacency. Owns its arrays. Offsets are 64-bit so more
// than 2^32 arcs work; targets are 32-bit vertex ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/datasets/types.h"

namespace flotilla {

class CsrGraph {
 public:
  CsrGraph() = default;
  // Takes ownership. offsets.size() == n + 1, offsets[0] == 0, nondecreasing;
  // weights empty or the same length as targets. Throws std::invalid_argument otherwise.
  CsrGraph(std::vector<EdgeIndex> offsets, std::vector<VertexId> targets,
           std::vector<float> weights = {});

  VertexId num_nodes() const { return offsets_.empty() ? 0 : static_cast<VertexId>(offsets_.size() - 1); }
  EdgeIndex num_arcs() const { return targets_.size(); }  // directed entries
  // Undirected edges of a symmetric graph without self-loops: arcs / 2.
  EdgeIndex num_undirected_edges() const { return targets_.size() / 2; }
  EdgeIndex degree(VertexId v) const { return offsets_[v + 1] - offsets_[v]; }
  Span<const VertexId> neighbors(VertexId v) const {
    return {targets_.data() + offsets_[v], static_cast<std::size_t>(degree(v))};
  }
  Span<const float> neighbor_weights(VertexId v) const {
    if (weights_.empty()) return {};
    return {weights_.data() + offsets_[v], static_cast<std::size_t>(degree(v))};
  }
  bool has_weights() const { return !weights_.empty(); }

  const std::vector<EdgeIndex>& offsets() const { return offsets_; }
  const std::vector<VertexId>& targets() const { return targets_; }
  const std::vector<float>& weights() const { return weights_; }

  // True when every arc u->v has a matching v->u (with equal weight when weighted).
  bool is_symmetric() const;
  std::size_t memory_bytes() const;

 private:
  std::vector<EdgeIndex> offsets_;
  std::vector<VertexId> targets_;
  std::vector<float> weights_;
};

struct CsrBuildOptions {
  bool symmetrize = true;       // add v->u for every u->v
  bool dedup = true;            // merge parallel arcs (weights: keep the first seen)
  bool drop_self_loops = true;
  std::size_t chunk_edges = std::size_t{1} << 22;
};

// Two passes over the stream (count degrees, then fill): peak memory is the result plus
// one chunk. Rewinds the stream before and after.
CsrGraph build_csr(EdgeStream& stream, const CsrBuildOptions& opts = {});
// Convenience: from an in-memory edge list (tests, small graphs).
CsrGraph build_csr(VertexId num_nodes, const std::vector<VertexId>& src,
                   const std::vector<VertexId>& dst, const CsrBuildOptions& opts = {});

struct DegreeStats {
  EdgeIndex min = 0, max = 0;
  double mean = 0, median = 0, stddev = 0;
  VertexId isolated = 0;  // degree-0 vertices
};
DegreeStats degree_stats(const CsrGraph& g);

struct ComponentStats {
  VertexId count = 0;
  VertexId largest = 0;  // vertices in the largest component
};
// Connected components of the undirected graph (Boost.Graph's disjoint sets).
ComponentStats connected_components(const CsrGraph& g);
// Component id per vertex, 0..count-1, numbered in order of each component's smallest vertex.
std::vector<VertexId> component_labels(const CsrGraph& g, VertexId* count = nullptr);

}  // namespace flotilla
