// Where a trainer's batches come from. The trainer asks for batches in schedule order and
// gets them ready to run: blocks, the feature rows of every input node (assembled in node
// order) and the labels of the seeds. Two implementations:
//  - colocated: this process holds every shard and samples and gathers itself;
//  - remote (distributed): sampler and feature-loader ranks push batches (see
//    docs/architecture.md for the protocol), bounded by a credit window.
// No LibTorch here: the trainer wraps the vectors into tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flotilla/comm/communicator.h"
#include "flotilla/comm/role_plan.h"
#include "flotilla/sampler.h"

namespace flotilla {

struct ReadyBatch {
  MiniBatch batch;
  std::vector<float> features;        // batch.nodes.size() x feature_dim, row-major
  std::vector<std::int64_t> labels;   // batch.num_seeds
  std::uint64_t global_seeds = 0;     // seeds of the whole global batch (all trainers)
};

struct DatasetInfo {
  std::uint64_t num_nodes = 0, feature_dim = 0;
  std::int64_t num_classes = 0;
  std::uint64_t num_train = 0, num_valid = 0, num_test = 0;
  std::uint32_t num_parts = 0;
};

// Counts of what crossed ranks (or would have, co-located), summed over this process.
// Local/remote are relative to the trainer's home partitions (those its home sampler
// serves; co-located: everything is local): sampled edges drawn by a sampler for its own
// batches vs for a peer's request; feature rows of nodes in the trainer's home partitions
// vs elsewhere.
struct TrafficCounters {
  std::uint64_t sampled_edges_local = 0, sampled_edges_remote = 0;
  std::uint64_t feature_rows_local = 0, feature_rows_remote = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  double busy_seconds = 0;      // servers: time serving requests (neither sending_ nor idle)
  // Servers: nothing to serve, only their own sends in flight: MPI progressing them (large
  // messages go in fragments) while the receivers have yet to take them. High sending with
  // low busy time means the trainers or the links, not the servers, set the pace.
  double sending_seconds = 0;
  double sampling_seconds = 0;  // samplers: time drawing neighbours and building blocks (no waiting)
};

struct BatchPlan {
  std::vector<std::int64_t> fanouts;
  std::uint64_t batch_size = 1024;       // global training batch (all trainers together)
  std::uint64_t eval_batch_size = 4096;  // global evaluation batch
  std::uint64_t seed = 1;
  std::uint32_t trainer = 0, num_trainers = 1;
  std::uint32_t prefetch = 4;            // remote: batches in flight per trainer
  bool evaluate = true;                  // valid/test batches after each epoch's training
  std::uint64_t max_steps = 0;           // training batches per epoch at most (0 = all; benchmarks)
  // false: global batches sliced across trainers (results independent of T); true: each
  // trainer draws seeds from its home partitions (DistDGL's node_split; less traffic).
  bool local_seeds = false;
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual const DatasetInfo& info() const = 0;
  // Global batches per epoch of each phase (the same on every trainer).
  virtual std::uint64_t num_batches(BatchPhase phase) const = 0;
  // The next batch; `id` must follow the schedule: epochs in order, each: train batches,
  // then (if evaluate) valid and test batches.
  virtual ReadyBatch next(const BatchId& id) = 0;
  virtual TrafficCounters counters() const = 0;
  // Early stop: no more batches will be asked for although the schedule has more. Remote:
  // tells the home sampler and drains the batches (and their feature rows) already in
  // flight, so no message is left unreceived; no-op co-located. Call finish() after it.
  virtual void stop() {}
  // Tells the servers this trainer is finished (remote); no-op co-located.
  virtual void finish() {}
  // Co-located: the shards this process holds (every part, topology, features, labels), for
  // full-graph evaluation; remote: nullptr (the graph is on the servers).
  virtual const ShardStore* shard_store() const { return nullptr; }
};

// Co-located: loads every shard in `dir` into this process.
std::unique_ptr<BatchSource> make_colocated_batch_source(const std::string& dir, const BatchPlan& plan);

// Distributed, trainer side: batches from this trainer's home sampler, feature rows from
// the loaders. `first_epoch`: where the schedule starts (resume).
std::unique_ptr<BatchSource> make_remote_batch_source(const RolePlan& roles, int my_rank, const BatchPlan& plan,
                                                      std::uint32_t first_epoch, std::uint32_t epochs);

// Distributed, server side: run until every trainer has finished. Return the counters.
// `samplers`: the communicator of the sampler ranks (they agree on the seed sets through it).
TrafficCounters run_sampler_server(const std::string& dir, const RolePlan& roles, int my_rank, const BatchPlan& plan,
                                   std::uint32_t first_epoch, std::uint32_t epochs, const Communicator& samplers);
TrafficCounters run_loader_server(const std::string& dir, const RolePlan& roles, int my_rank);

}  // namespace flotilla
