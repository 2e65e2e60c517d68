// Co-located batches: the whole graph in this process; sampling and gathering inline.
#include <cstring>
#include <stdexcept>

#include "flotilla/comm/batch_source.h"
#include "schedule.h"

namespace flotilla {

namespace {

class ColocatedBatchSource : public BatchSource {
 public:
  ColocatedBatchSource(const std::string& dir, const BatchPlan& plan)
      : plan_(plan), store_(dir, all_parts(read_shard_set_info(dir).num_parts)), source_(store_),
        sampler_(plan.fanouts, plan.seed), schedules_(make_schedules(store_, plan)) {
    info_ = dataset_info(store_, schedules_);
  }
  const DatasetInfo& info() const override { return info_; }
  std::uint64_t num_batches(BatchPhase phase) const override {
    return planned_batches(schedules_.of(phase), phase, plan_);
  }
  ReadyBatch next(const BatchId& id) override {
    ReadyBatch r;
    const EpochSchedule& s = schedules_.of(id.phase);
    const auto seeds = s.batch(id.epoch, id.index, plan_.trainer, plan_.num_trainers);
    r.global_seeds = s.global_batch_size(id.index);
    r.batch = sampler_.sample(seeds, id, source_);
    for (const Block& b : r.batch.blocks) counters_.sampled_edges_local += b.num_edges();
    const std::uint64_t dim = info_.feature_dim;
    r.features.resize(r.batch.nodes.size() * dim);
    for (std::size_t i = 0; i < r.batch.nodes.size(); ++i)
      std::memcpy(r.features.data() + i * dim, store_.feature_row(r.batch.nodes[i]), dim * sizeof(float));
    counters_.feature_rows_local += r.batch.nodes.size();
    r.labels.resize(r.batch.num_seeds);
    for (std::uint32_t i = 0; i < r.batch.num_seeds; ++i) r.labels[i] = store_.label(r.batch.nodes[i]);
    return r;
  }
  TrafficCounters counters() const override { return counters_; }
  const ShardStore* shard_store() const override { return &store_; }

 private:
  BatchPlan plan_;
  ShardStore store_;
  LocalNeighborSource source_;
  NeighborSampler sampler_;
  PhaseSchedules schedules_;
  DatasetInfo info_;
  TrafficCounters counters_;
};

}  // namespace

std::unique_ptr<BatchSource> make_colocated_batch_source(const std::string& dir, const BatchPlan& plan) {
  return std::make_unique<ColocatedBatchSource>(dir, plan);
}

}  // namespace flotilla
