#include "flotilla/sampler/neighbor_sampler.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "flotilla/datasets/random.h"
#include "flotilla/sampler.h"
#include "flotilla/sampler/shard_store.h"

namespace flotilla {

std::uint64_t neighbor_stream_seed(std::uint64_t seed, const BatchId& id, int layer, VertexId v) {
  std::uint64_t h = splitmix64(seed ^ 0x6e65696768626f72ULL);  // "neighbor"
  h = splitmix64(h ^ (static_cast<std::uint64_t>(id.epoch) << 32 | static_cast<std::uint32_t>(id.phase)));
  h = splitmix64(h ^ id.index);
  return splitmix64(h ^ (static_cast<std::uint64_t>(static_cast<std::uint32_t>(layer)) << 32 | v));
}

void LocalNeighborSource::sample(const VertexId* nodes, std::size_t count, std::int64_t fanout, std::uint64_t seed,
                                 const BatchId& id, int layer, std::vector<std::uint32_t>& counts,
                                 std::vector<VertexId>& neighbors) {
  std::vector<std::uint64_t> picks;
  for (std::size_t i = 0; i < count; ++i) {
    const VertexId v = nodes[i];
    const std::uint64_t deg = store_.degree(v);
    const VertexId* nb = store_.neighbors(v);
    if (fanout < 0 || static_cast<std::uint64_t>(fanout) >= deg) {
      neighbors.insert(neighbors.end(), nb, nb + deg);
      counts.push_back(static_cast<std::uint32_t>(deg));
      continue;
    }
    Rng rng(neighbor_stream_seed(seed, id, layer, v));
    picks.clear();
    sample_without_replacement(deg, fanout, rng, picks);
    std::sort(picks.begin(), picks.end());  // adjacency order: the same set in a canonical order
    for (std::uint64_t j : picks) neighbors.push_back(nb[j]);
    counts.push_back(static_cast<std::uint32_t>(picks.size()));
  }
}

NeighborSampler::NeighborSampler(std::vector<std::int64_t> fanouts, std::uint64_t seed)
    : fanouts_(std::move(fanouts)), seed_(seed) {
  if (fanouts_.empty()) throw std::invalid_argument("at least one fanout (one per GNN layer)");
  for (std::int64_t f : fanouts_)
    if (f == 0 || f < -1) throw std::invalid_argument("fanouts must be positive or -1 (all neighbours)");
}

std::uint32_t NeighborSampler::lookup_or_insert(VertexId v, std::vector<VertexId>& nodes) {
  const std::size_t mask = keys_.size() - 1;
  std::size_t i = (splitmix64(v) & mask);
  while (true) {
    if (keys_[i] == kInvalidVertex) {
      keys_[i] = v;
      values_[i] = static_cast<std::uint32_t>(nodes.size());
      used_.push_back(i);
      nodes.push_back(v);
      return values_[i];
    }
    if (keys_[i] == v) return values_[i];
    i = (i + 1) & mask;
  }
}

MiniBatch NeighborSampler::sample(const std::vector<VertexId>& seeds, const BatchId& id, NeighborSource& source) {
  MiniBatch b;
  b.id = id;
  b.num_seeds = static_cast<std::uint32_t>(seeds.size());
  // Upper bound on distinct nodes: seeds x prod(fanout + 1), capped; the table stays at
  // most half full so probes stay short. It grows when a batch needs more.
  auto ensure_capacity = [&](std::size_t want) {
    std::size_t cap = keys_.size();
    if (cap >= 2 * want && cap > 0) return;
    for (std::size_t i : used_) keys_[i] = kInvalidVertex;
    std::vector<VertexId> old_nodes;  // rehash what is in b.nodes
    cap = 1024;
    while (cap < 2 * want) cap *= 2;
    keys_.assign(cap, kInvalidVertex);
    values_.assign(cap, 0);
    used_.clear();
    old_nodes.swap(b.nodes);
    for (VertexId v : old_nodes) lookup_or_insert(v, b.nodes);
  };
  for (std::size_t i : used_) keys_[i] = kInvalidVertex;
  used_.clear();
  ensure_capacity(seeds.size() + 1);
  for (VertexId s : seeds) {
    const std::size_t before = b.nodes.size();
    lookup_or_insert(s, b.nodes);
    if (b.nodes.size() == before) throw std::invalid_argument("seed " + std::to_string(s) + " appears twice in a batch");
  }
  b.blocks.resize(fanouts_.size());
  for (int l = static_cast<int>(fanouts_.size()) - 1; l >= 0; --l) {
    Block& k = b.blocks[static_cast<std::size_t>(l)];
    k.num_dst = static_cast<std::uint32_t>(b.nodes.size());
    counts_.clear();
    neighbors_.clear();
    source.sample(b.nodes.data(), k.num_dst, fanouts_[static_cast<std::size_t>(l)], seed_, id, l, counts_, neighbors_);
    if (counts_.size() != k.num_dst) throw std::runtime_error("neighbour source returned a wrong count");
    ensure_capacity(b.nodes.size() + neighbors_.size());
    k.offsets.resize(k.num_dst + 1);
    k.offsets[0] = 0;
    for (std::uint32_t i = 0; i < k.num_dst; ++i) k.offsets[i + 1] = k.offsets[i] + counts_[i];
    k.indices.resize(neighbors_.size());
    for (std::size_t e = 0; e < neighbors_.size(); ++e) k.indices[e] = lookup_or_insert(neighbors_[e], b.nodes);
    k.num_src = static_cast<std::uint32_t>(b.nodes.size());
  }
  return b;
}

std::vector<std::int64_t> parse_fanouts(const std::string& text) {
  std::vector<std::int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || (v <= 0 && v != -1))
      throw std::invalid_argument("bad fanout '" + item + "' in '" + text + "' (positive integers or -1, comma-separated)");
    out.push_back(v);
  }
  if (out.empty()) throw std::invalid_argument("empty fanout list");
  return out;
}

}  // namespace flotilla
