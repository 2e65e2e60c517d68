// PartitionBook: after relabelling, each part owns one contiguous range of global vertex
// ids (DistDGL's layout), so "who owns v" is a binary search over K+1 boundaries and "local
// id of v" is a subtraction. Value type; owns its K+1 boundaries.
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

class PartitionBook {
 public:
  PartitionBook() = default;
  // part_sizes[p] = vertices owned by part p; part p owns [begin(p), end(p)).
  explicit PartitionBook(const std::vector<std::uint64_t>& part_sizes);

  std::uint32_t num_parts() const { return static_cast<std::uint32_t>(bounds_.size() - 1); }
  std::uint64_t num_nodes() const { return bounds_.back(); }
  std::uint64_t begin(std::uint32_t part) const { return bounds_[part]; }
  std::uint64_t end(std::uint32_t part) const { return bounds_[part + 1]; }
  std::uint64_t size(std::uint32_t part) const { return bounds_[part + 1] - bounds_[part]; }
  // Part owning global id v (v < num_nodes()).
  std::uint32_t owner(VertexId v) const;
  VertexId to_local(VertexId v) const { return static_cast<VertexId>(v - bounds_[owner(v)]); }
  VertexId to_global(std::uint32_t part, VertexId local) const {
    return static_cast<VertexId>(bounds_[part] + local);
  }

 private:
  std::vector<std::uint64_t> bounds_{0};
};

}  // namespace flotilla
