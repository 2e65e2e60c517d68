#include "flotilla/partition/partition_book.h"

#include <algorithm>
#include <stdexcept>

namespace flotilla {

PartitionBook::PartitionBook(const std::vector<std::uint64_t>& part_sizes) {
  if (part_sizes.empty()) throw std::invalid_argument("PartitionBook: at least one part");
  bounds_.assign(1, 0);
  for (std::uint64_t s : part_sizes) bounds_.push_back(bounds_.back() + s);
  if (bounds_.back() > kMaxVertices) throw std::invalid_argument("PartitionBook: too many vertices");
}

std::uint32_t PartitionBook::owner(VertexId v) const {
  if (v >= bounds_.back()) throw std::out_of_range("PartitionBook: vertex id beyond the last part");
  // First boundary greater than v, minus one; empty parts are skipped naturally.
  const auto it = std::upper_bound(bounds_.begin(), bounds_.end(), static_cast<std::uint64_t>(v));
  return static_cast<std::uint32_t>(it - bounds_.begin() - 1);
}

}  // namespace flotilla
