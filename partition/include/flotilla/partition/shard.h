// Shards: one binary file per part, holding the part's owned vertices relabelled into one
// contiguous global id range (ownership is a range lookup, see PartitionBook), their CSR
// adjacency with global neighbour ids, the halo, and their features, labels and split
// membership when the input has them. Layout: docs/formats.md ("Shard").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/partition/assignment.h"
#include "flotilla/partition/partition_book.h"

namespace flotilla {

struct ShardHeader {
  static constexpr char kMagic[8] = {'F', 'L', 'O', 'T', 'S', 'H', 'R', 'D'};
  // Version 3: the header carries the partition run's id (run_id, bytes 80..87). Version 2:
  // every section starts 8-byte aligned (zero padding); version 3 keeps that layout. Version
  // 1 files (only the split section padded) and version 2 files (no run id: run_id = 0) are
  // still read.
  static constexpr std::uint32_t kVersion = 3;
  static constexpr std::uint32_t kMinVersion = 1;
  static constexpr std::size_t kSize = 128;
  static constexpr std::uint32_t kFeatures = 1, kLabels = 2, kSplit = 4, kWeights = 8;  // flags

  std::uint32_t version = kVersion;
  std::uint32_t part = 0, num_parts = 0;
  std::uint32_t flags = 0;
  std::uint64_t num_nodes = 0;      // whole graph
  std::uint64_t begin = 0, end = 0; // owned global (new) ids [begin, end)
  std::uint64_t num_arcs = 0;       // adjacency entries of owned vertices
  std::uint64_t num_halo = 0;
  std::uint64_t feature_dim = 0;
  std::uint32_t payload_crc32 = 0;  // of every byte after the header
  // Identity of the partition run that wrote the file (version 3; 0 in versions 1 and 2):
  // every shard and old_to_new.bin of one run carry the same id. A hash of what the shards
  // are made of (graph edges, assignment, node data, K), so it is known before any file is
  // written and a rerun with the same inputs and parameters writes the same bytes.
  std::uint64_t run_id = 0;
  std::uint64_t owned() const { return end - begin; }
};

// A run id as partition.json and messages write it: 16 lowercase hex digits ("none" for 0).
std::string format_run_id(std::uint64_t id);

// A shard in memory. Owns its arrays. Split codes: 0 none, 1 train, 2 valid, 3 test.
struct Shard {
  ShardHeader header;
  std::vector<std::uint64_t> old_ids;   // owned local i -> original id
  std::vector<std::int64_t> labels;     // owned, -1 = unlabeled (empty without labels)
  std::vector<std::uint8_t> split;      // owned (empty without a split)
  std::vector<float> features;          // owned x feature_dim (empty without features)
  std::vector<EdgeIndex> offsets;       // owned + 1
  std::vector<VertexId> targets;        // global new ids, sorted per vertex, no duplicates
  std::vector<float> weights;           // per target (empty without edge weights)
  std::vector<VertexId> halo;           // sorted global ids of non-owned neighbours
};

// Node data to distribute with the shards (from an OGB folder); empty fields = none.
struct ShardNodeData {
  std::string feature_file;             // node-feat.csv[.gz], streamed row by row
  std::uint64_t feature_dim = 0;
  std::vector<std::int64_t> labels;     // n or empty
  std::vector<std::uint8_t> split;      // n or empty
};

struct ShardWriteStats {
  std::vector<std::uint64_t> arcs, halo;  // per part
  std::uint64_t adjacency_passes = 0;
  std::uint64_t run_id = 0;               // in every file written (partition.json: "run_id")
};

// Relabelling: part p owns [begin(p), end(p)) of the new ids, vertices in increasing
// original-id order inside each part. Returns old -> new.
std::vector<VertexId> relabel_by_part(const std::vector<PartId>& part, std::uint32_t k, PartitionBook* book);

// Writes DIR/part-<p>.shard for every part and DIR/old_to_new.bin, each fsynced. Memory:
// O(n) for the id maps plus `buffer_bytes` for adjacency buffers (and, beyond it, the
// largest single vertex's adjacency when that alone exceeds the buffer). The edge stream is
// read once for degrees, then twice per group of parts whose adjacency fits the buffer; a
// part whose adjacency alone exceeds the buffer is cut into vertex ranges that fit, read
// twice each, and spooled through scratch files in DIR. The bytes written do not depend on
// `buffer_bytes`. The caller makes DIR atomic.
ShardWriteStats write_shards(EdgeStream& stream, const std::vector<PartId>& part, std::uint32_t k,
                             const ShardNodeData& node_data, const std::string& dir,
                             std::uint64_t buffer_bytes = std::uint64_t{256} << 20);

// Reads and verifies only the 128-byte header (magic, version, header checksum, ranges).
ShardHeader read_shard_header(const std::string& path);
// Reads and verifies (magic, version, header and payload checksums, sizes) one shard.
Shard read_shard(const std::string& path);
// Reads DIR/old_to_new.bin (checksummed): old id -> new id.
std::vector<VertexId> read_old_to_new(const std::string& path);

// What check_shard_set found: the shard set of one partition run.
struct ShardSetCheck {
  std::uint32_t num_parts = 0;
  std::uint64_t num_nodes = 0;
  std::uint64_t run_id = 0;         // 0: shards of format version 1 or 2 (no run id to compare)
  std::uint32_t version = 0;        // of part-0.shard
  std::vector<std::string> files;   // every file whose header was checked
};

// Checks that the shard files of a folder come from one partition run, reading only their
// 128-byte headers (and DIR/partition.json when present): DIR/part-<p>.shard for p = 0 ..
// K-1 must exist with part p of K, every part-*.shard in DIR and DIR/old_to_new.bin must carry
// the same run id, K and vertex count, and partition.json (when present) the same run id
// ("run_id"), part count and shard file sizes. Throws InputError naming two files that
// disagree (or a shard and partition.json). Cost: one header read per file, no payload.
ShardSetCheck check_shard_set(const std::string& dir);
// The same over an explicit list of shard files (parts in any order, no partition.json):
// every file must carry the same run id, K and vertex count, no part twice.
ShardSetCheck check_shard_files(const std::vector<std::string>& files);

}  // namespace flotilla
