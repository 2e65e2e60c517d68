#include "flotilla/sampler/shard_store.h"

#include <algorithm>
#include <stdexcept>

#include "flotilla/datasets/error.h"
#include "flotilla/partition/shard.h"

namespace flotilla {

namespace {
std::string shard_path(const std::string& dir, std::uint32_t p) { return dir + "/part-" + std::to_string(p) + ".shard"; }
}  // namespace

ShardSetInfo read_shard_set_info(const std::string& dir) {
  ShardSetInfo info;
  info.dir = dir;
  const ShardHeader first = read_shard_header(shard_path(dir, 0));
  info.num_parts = first.num_parts;
  info.num_nodes = first.num_nodes;
  info.feature_dim = first.feature_dim;
  info.has_labels = first.flags & ShardHeader::kLabels;
  info.has_split = first.flags & ShardHeader::kSplit;
  std::vector<std::uint64_t> sizes;
  std::uint64_t next = 0;
  for (std::uint32_t p = 0; p < info.num_parts; ++p) {
    const std::string path = shard_path(dir, p);
    const ShardHeader h = p == 0 ? first : read_shard_header(path);
    if (h.part != p || h.num_parts != info.num_parts || h.num_nodes != info.num_nodes)
      throw_file(path, "belongs to another partitioning (part " + std::to_string(h.part) + " of " +
                           std::to_string(h.num_parts) + ", " + std::to_string(h.num_nodes) + " nodes; expected part " +
                           std::to_string(p) + " of " + std::to_string(info.num_parts) + ", " +
                           std::to_string(info.num_nodes) + " nodes)");
    if (h.begin != next) throw_file(path, "owned range does not start where part " + std::to_string(p - 1) + " ends");
    if (h.feature_dim != info.feature_dim || bool(h.flags & ShardHeader::kLabels) != info.has_labels ||
        bool(h.flags & ShardHeader::kSplit) != info.has_split)
      throw_file(path, "features/labels/split differ from part-0.shard");
    sizes.push_back(h.owned());
    next = h.end;
  }
  if (next != info.num_nodes) throw_file(shard_path(dir, info.num_parts - 1), "parts do not cover every node");
  info.book = PartitionBook(sizes);
  return info;
}

ShardStore::ShardStore(const std::string& dir, const std::vector<std::uint32_t>& parts, const ShardLoadOptions& opts)
    : info_(read_shard_set_info(dir)), parts_(parts), slot_(info_.num_parts, -1) {
  for (std::uint32_t p : parts) {
    if (p >= info_.num_parts)
      throw std::invalid_argument(dir + ": no part " + std::to_string(p) + " (the shards have " +
                                  std::to_string(info_.num_parts) + " parts)");
    if (slot_[p] >= 0) continue;
    Shard s = read_shard(shard_path(dir, p));
    Part d;
    d.begin = s.header.begin;
    d.end = s.header.end;
    if (opts.topology) {
      d.offsets = std::move(s.offsets);
      d.targets = std::move(s.targets);
    }
    if (opts.labels) {
      d.labels = std::move(s.labels);
      d.split = std::move(s.split);
      for (std::int64_t l : d.labels) num_classes_ = std::max(num_classes_, l + 1);
    }
    if (opts.features) d.features = std::move(s.features);
    slot_[p] = static_cast<int>(parts_data_.size());
    parts_data_.push_back(std::move(d));
  }
}

bool ShardStore::owns(VertexId v) const { return v < info_.num_nodes && slot_[info_.book.owner(v)] >= 0; }

const ShardStore::Part& ShardStore::part_of(VertexId v) const {
  const std::uint32_t p = info_.book.owner(v);  // throws beyond n
  if (slot_[p] < 0)
    throw std::out_of_range("node " + std::to_string(v) + " belongs to part " + std::to_string(p) +
                            ", which this process does not hold");
  return parts_data_[static_cast<std::size_t>(slot_[p])];
}

std::uint64_t ShardStore::degree(VertexId v) const {
  const Part& d = part_of(v);
  if (d.offsets.empty()) throw std::logic_error("ShardStore: topology not loaded");
  return d.offsets[v - d.begin + 1] - d.offsets[v - d.begin];
}

const VertexId* ShardStore::neighbors(VertexId v) const {
  const Part& d = part_of(v);
  if (d.offsets.empty()) throw std::logic_error("ShardStore: topology not loaded");
  return d.targets.data() + d.offsets[v - d.begin];
}

std::int64_t ShardStore::label(VertexId v) const {
  const Part& d = part_of(v);
  return d.labels.empty() ? -1 : d.labels[v - d.begin];
}

std::uint8_t ShardStore::split(VertexId v) const {
  const Part& d = part_of(v);
  return d.split.empty() ? 0 : d.split[v - d.begin];
}

const float* ShardStore::feature_row(VertexId v) const {
  const Part& d = part_of(v);
  if (d.features.empty()) throw std::logic_error("ShardStore: features not loaded");
  return d.features.data() + (v - d.begin) * info_.feature_dim;
}

std::vector<VertexId> ShardStore::nodes_in_split(std::uint8_t code) const {
  std::vector<VertexId> out;
  for (std::uint32_t p = 0; p < info_.num_parts; ++p) {
    if (slot_[p] < 0) continue;
    const Part& d = parts_data_[static_cast<std::size_t>(slot_[p])];
    for (std::size_t i = 0; i < d.split.size(); ++i)
      if (d.split[i] == code) out.push_back(static_cast<VertexId>(d.begin + i));
  }
  return out;
}

std::uint64_t ShardStore::memory_bytes() const {
  std::uint64_t b = 0;
  for (const Part& d : parts_data_)
    b += d.offsets.size() * 8 + d.targets.size() * 4 + d.labels.size() * 8 + d.split.size() + d.features.size() * 4;
  return b;
}

}  // namespace flotilla
