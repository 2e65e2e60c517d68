// EdgeStream: reads any graph format chunk by chunk without holding all edges. This is the
// partitioner's input; its working memory is O(chunk) plus what a format needs per vertex
// (the id map of an edge list with sparse ids).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

enum class GraphFormat {
  Auto,
  Metis,       // METIS .graph (fmt 0, 1, 10, 11, 100..111; '%' comments)
  EdgeList,    // SNAP-style text edge list: "u v [w]" per line, '#'/'%' comments
  Binary,      // Flotilla binary edge list with header (docs/formats.md)
  RawBin32,    // headerless little-endian uint32 pairs
  RawBin64,    // headerless little-endian uint64 pairs
  Ogb,         // OGB raw node-property folder (raw/edge.csv[.gz])
  Traffic,     // traffic folder: adjacency (adj.csv) or distances (distances.csv)
  Npy,         // .npy integer array of shape [m, 2]
};

const char* format_name(GraphFormat f);
GraphFormat parse_format_name(const std::string& name);  // throws std::invalid_argument
// Detects from the path: magic bytes, extension, or folder contents. Throws InputError.
GraphFormat detect_graph_format(const std::string& path);

// A batch of edges, struct-of-arrays. Owned by the caller and reused across chunks.
struct EdgeChunk {
  std::vector<VertexId> src;
  std::vector<VertexId> dst;
  std::vector<float> weight;  // empty when the input carries no edge weights

  std::size_t size() const { return src.size(); }
  void clear() { src.clear(); dst.clear(); weight.clear(); }
};

struct EdgeStreamInfo {
  GraphFormat format = GraphFormat::Auto;
  std::string path;
  std::uint64_t num_nodes = 0;
  // Edges the stream will yield, when the file says so up front (0 = unknown).
  std::uint64_t num_edges_hint = 0;
  bool has_edge_weights = false;
  // True when each undirected edge is yielded once (METIS: only u < v is yielded).
  // Otherwise the stream yields edges as the file lists them (possibly both directions).
  bool each_edge_once = false;
};

// bytes_done / bytes_total refer to the file(s) on disk; called about once per chunk.
using ProgressFn = std::function<void(std::uint64_t bytes_done, std::uint64_t bytes_total)>;

class EdgeStream {
 public:
  virtual ~EdgeStream() = default;
  const EdgeStreamInfo& info() const { return info_; }

  // Clears `chunk` and fills it with up to `max_edges` edges (self-loops are dropped).
  // Returns false when the stream is exhausted (chunk then empty). Throws InputError on
  // malformed input, naming file and line or byte offset.
  virtual bool next_chunk(EdgeChunk& chunk, std::size_t max_edges) = 0;
  // Starts another pass over the same edges (re-streaming).
  virtual void rewind() = 0;

  void set_progress(ProgressFn fn) { progress_ = std::move(fn); }

 protected:
  void report(std::uint64_t done, std::uint64_t total) const {
    if (progress_) progress_(done, total);
  }
  EdgeStreamInfo info_;

 private:
  ProgressFn progress_;
};

struct EdgeStreamOptions {
  GraphFormat format = GraphFormat::Auto;
  // For edge lists: keep ids as they are (num_nodes = max id + 1) instead of compacting
  // arbitrary ids to 0..n-1. Compaction is skipped automatically when ids are already dense.
  bool keep_ids = false;
  // For METIS files: accept an asymmetric adjacency (u lists v, v does not list u) and repeated
  // neighbours instead of refusing them. Every entry u -> v is then an edge, yielded as listed
  // (each_edge_once = false, num_edges_hint = the entries, counted in a first pass), and
  // consumers symmetrise and merge repeats as for an edge list (build_csr keeps the first
  // weight of a repeated edge). The header's m is not checked. Other formats ignore it.
  bool symmetrize = false;
};

std::unique_ptr<EdgeStream> open_edge_stream(const std::string& path, const EdgeStreamOptions& opts = {});

}  // namespace flotilla
