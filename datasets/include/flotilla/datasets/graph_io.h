// Whole-graph readers and writers (for in-memory use: info, METIS baseline, tests). The
// streaming counterpart is EdgeStream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/csr.h"
#include "flotilla/datasets/edge_stream.h"

namespace flotilla {

// ---- METIS .graph -------------------------------------------------------------------
struct MetisGraph {
  CsrGraph graph;                        // symmetric, 0-based
  int ncon = 0;                          // vertex weights per vertex (0 = none)
  std::vector<std::int64_t> vertex_weights;  // n * ncon, row-major
  bool has_edge_weights = false;
};
// Reads and validates: header counts, ids in 1..n, no self-loops, symmetry.
MetisGraph read_metis(const std::string& path);
// Writes a symmetric CsrGraph (fmt 0, or fmt 1 when it has weights; weights rounded).
void write_metis(const CsrGraph& g, const std::string& path);

// The vertex weights of a METIS file, for balancing without loading the graph.
struct VertexWeights {
  std::uint32_t ncon = 0;        // weights per vertex (0 = the file has none)
  std::vector<std::uint32_t> w;  // n * ncon, row-major: w[v * ncon + c]
};
// Reads the vertex weights of a METIS file (plain or gzip) whose fmt has the tens digit set
// (ncon from the header, default 1) in one streaming pass, O(n * ncon) memory. Lines are those
// of the METIS reader ('%' comments, vertex sizes of fmt 1xx skipped); the adjacency lists after
// the weights are not parsed (the edge reader checks them). ncon = 0 and w empty when the fmt
// has no vertex weights (only the header is read). Throws InputError naming file and line for
// a missing, negative, non-integer or too large (> 2^32-1) weight, a line with fewer than ncon
// weights, fewer or more than n vertex lines, or a constraint whose weights sum past 2^63-1.
VertexWeights read_metis_vertex_weights(const std::string& path);

// ---- Flotilla binary edge list (docs/formats.md) ------------------------------------
// 64-byte little-endian header followed by num_edges (src, dst) pairs of id_bytes each.
struct BinaryEdgeHeader {
  static constexpr char kMagic[8] = {'F', 'L', 'O', 'T', 'E', 'D', 'G', 'E'};
  static constexpr std::uint32_t kVersion = 1;
  static constexpr std::size_t kSize = 64;
  std::uint32_t version = kVersion;
  std::uint32_t id_bytes = 4;        // 4 or 8
  std::uint64_t num_nodes = 0;
  std::uint64_t num_edges = 0;       // pairs in the payload
  std::uint32_t flags = 0;           // bit 0: each undirected edge stored once
  std::uint32_t payload_crc32 = 0;   // zlib crc32 of the payload bytes
};
// Parses and checks the header bytes (magic, version, header checksum). Throws InputError.
BinaryEdgeHeader parse_binary_edge_header(const unsigned char* bytes, std::size_t size,
                                          const std::string& path, std::uint64_t file_size);

// Streams edges to a binary edge list. Writes to PATH.tmp-PID and renames to PATH in finish(),
// so an interrupted writer never leaves a file that looks complete.
class BinaryEdgeWriter {
 public:
  BinaryEdgeWriter(std::string path, std::uint64_t num_nodes, std::uint32_t id_bytes = 4,
                   bool each_edge_once = true);
  ~BinaryEdgeWriter();  // removes the temp file when finish() was not called
  BinaryEdgeWriter(const BinaryEdgeWriter&) = delete;
  BinaryEdgeWriter& operator=(const BinaryEdgeWriter&) = delete;

  void append(std::uint64_t src, std::uint64_t dst);
  void append(const EdgeChunk& chunk);
  std::uint64_t edges_written() const { return num_edges_; }
  void finish();

 private:
  void flush();
  std::string path_, tmp_path_;
  int fd_ = -1;
  BinaryEdgeHeader header_;
  std::vector<unsigned char> buf_;
  std::uint64_t num_edges_ = 0;
  std::uint32_t crc_ = 0;
  bool finished_ = false;
};

// Any graph format into a CSR (symmetrised, deduplicated, self-loops dropped by default).
CsrGraph load_graph(const std::string& path, const EdgeStreamOptions& stream_opts = {},
                    const CsrBuildOptions& build_opts = {});

}  // namespace flotilla
