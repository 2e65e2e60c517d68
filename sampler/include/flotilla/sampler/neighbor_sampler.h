// Multi-hop uniform neighbour sampling without replacement into message-flow blocks.
//
// Determinism across rank counts: the neighbours drawn for node v at layer l of a batch
// depend only on (seed, batch id, l, v) (a counter-based stream), never on which rank
// samples v or which other nodes share the batch. So 1 trainer and T trainers, co-located
// or served by sampler ranks, see the same neighbourhoods for the same global batch.
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla/datasets/types.h"
#include "flotilla/sampler/minibatch.h"

namespace flotilla {

class ShardStore;

// Seed of the random stream for node v at `layer` of batch `id`.
std::uint64_t neighbor_stream_seed(std::uint64_t seed, const BatchId& id, int layer, VertexId v);

// Appends up to `fanout` distinct neighbours of each node (all when fanout < 0 or the degree
// is smaller) to `neighbors` and the count per node to `counts`.
class NeighborSource {
 public:
  virtual ~NeighborSource() = default;
  virtual void sample(const VertexId* nodes, std::size_t count, std::int64_t fanout, std::uint64_t seed,
                      const BatchId& id, int layer, std::vector<std::uint32_t>& counts,
                      std::vector<VertexId>& neighbors) = 0;
};

// Samples owned nodes of a ShardStore (throws std::out_of_range for a node it does not own).
class LocalNeighborSource : public NeighborSource {
 public:
  explicit LocalNeighborSource(const ShardStore& store) : store_(store) {}
  void sample(const VertexId* nodes, std::size_t count, std::int64_t fanout, std::uint64_t seed, const BatchId& id,
              int layer, std::vector<std::uint32_t>& counts, std::vector<VertexId>& neighbors) override;

 private:
  const ShardStore& store_;
};

// Builds blocks layer by layer from the seeds outwards. `fanouts` lists the input layer
// first (DGL's order): with {15, 10} the seeds get 10 neighbours and those get 15 each.
// Owns a reusable global -> local id table (not thread-safe: one sampler per thread).
class NeighborSampler {
 public:
  NeighborSampler(std::vector<std::int64_t> fanouts, std::uint64_t seed);
  // Seeds must be distinct.
  MiniBatch sample(const std::vector<VertexId>& seeds, const BatchId& id, NeighborSource& source);
  const std::vector<std::int64_t>& fanouts() const { return fanouts_; }

 private:
  std::vector<std::int64_t> fanouts_;
  std::uint64_t seed_;
  // Open-addressing table global id -> local id, reset per batch by clearing used slots.
  std::vector<VertexId> keys_;
  std::vector<std::uint32_t> values_;
  std::vector<std::size_t> used_;
  std::vector<std::uint32_t> counts_;
  std::vector<VertexId> neighbors_;
  std::uint32_t lookup_or_insert(VertexId v, std::vector<VertexId>& nodes);
};

// Parses "15,10" / "-1,25" into fanouts; throws std::invalid_argument on bad text.
std::vector<std::int64_t> parse_fanouts(const std::string& text);

}  // namespace flotilla
