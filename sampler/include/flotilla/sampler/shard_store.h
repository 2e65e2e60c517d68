// ShardStore: the partitions (shards) one process serves, in memory. It owns their CSR,
// labels, split and (optionally) feature rows; ownership of any global id is a range lookup
// in the PartitionBook built from the shard headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/types.h"
#include "flotilla/partition/partition_book.h"

namespace flotilla {

struct ShardSetInfo {
  std::string dir;
  std::uint32_t num_parts = 0;
  std::uint64_t num_nodes = 0;
  std::uint64_t feature_dim = 0;
  bool has_labels = false, has_split = false;
  PartitionBook book;
};
// Reads every shard header in DIR (part-0.shard ... part-<K-1>.shard) and checks that they
// agree (K, n, feature width, contiguous ranges). Cheap: headers only.
ShardSetInfo read_shard_set_info(const std::string& dir);

struct ShardLoadOptions {
  bool topology = true;   // CSR
  bool features = true;   // feature rows
  bool labels = true;     // labels and split
};

class ShardStore {
 public:
  // Loads the given parts of DIR (checksums verified).
  ShardStore(const std::string& dir, const std::vector<std::uint32_t>& parts, const ShardLoadOptions& opts = {});

  const ShardSetInfo& info() const { return info_; }
  const PartitionBook& book() const { return info_.book; }
  bool owns(VertexId v) const;
  const std::vector<std::uint32_t>& parts() const { return parts_; }

  std::uint64_t degree(VertexId v) const;
  const VertexId* neighbors(VertexId v) const;  // degree(v) global ids
  std::int64_t label(VertexId v) const;         // -1 = unlabeled
  std::uint8_t split(VertexId v) const;         // 0 none, 1 train, 2 valid, 3 test
  const float* feature_row(VertexId v) const;   // feature_dim floats
  std::int64_t num_classes() const { return num_classes_; }

  // Owned nodes of the given split code, ascending global ids.
  std::vector<VertexId> nodes_in_split(std::uint8_t code) const;
  std::uint64_t memory_bytes() const;

 private:
  struct Part {
    std::uint64_t begin = 0, end = 0;
    std::vector<EdgeIndex> offsets;
    std::vector<VertexId> targets;
    std::vector<std::int64_t> labels;
    std::vector<std::uint8_t> split;
    std::vector<float> features;
  };
  const Part& part_of(VertexId v) const;

  ShardSetInfo info_;
  std::vector<std::uint32_t> parts_;
  std::vector<int> slot_;  // part -> index into parts_data_, -1 when not loaded
  std::vector<Part> parts_data_;
  std::int64_t num_classes_ = 0;
};

}  // namespace flotilla
