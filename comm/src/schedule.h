// Internal: the three per-phase schedules built from the seed sets, shared by the
// co-located source and the sampler server.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "flotilla/comm/batch_source.h"

namespace flotilla {

struct PhaseSchedules {
  EpochSchedule train, valid, test;
  const EpochSchedule& of(BatchPhase p) const { return p == BatchPhase::Train ? train : p == BatchPhase::Valid ? valid : test; }
};

inline std::vector<std::uint32_t> all_parts(std::uint32_t k) {
  std::vector<std::uint32_t> p(k);
  for (std::uint32_t i = 0; i < k; ++i) p[i] = i;
  return p;
}

// From full seed sets (ascending global ids).
inline PhaseSchedules make_schedules(std::vector<VertexId> train, std::vector<VertexId> valid, std::vector<VertexId> test,
                                     const BatchPlan& plan) {
  return PhaseSchedules{EpochSchedule(std::move(train), plan.batch_size, plan.seed, true),
                        EpochSchedule(std::move(valid), plan.eval_batch_size, plan.seed, false),
                        EpochSchedule(std::move(test), plan.eval_batch_size, plan.seed, false)};
}

inline PhaseSchedules make_schedules(const ShardStore& store, const BatchPlan& plan) {
  if (!store.info().has_split)
    throw std::runtime_error(store.info().dir + ": the shards carry no train/valid/test split (partition an OGB folder with split/)");
  if (!store.info().has_labels) throw std::runtime_error(store.info().dir + ": the shards carry no labels");
  return make_schedules(store.nodes_in_split(1), store.nodes_in_split(2), store.nodes_in_split(3), plan);
}

inline DatasetInfo dataset_info(const ShardStore& store, const PhaseSchedules& s) {
  DatasetInfo d;
  d.num_nodes = store.info().num_nodes;
  d.feature_dim = store.info().feature_dim;
  d.num_classes = store.num_classes();
  d.num_train = s.train.num_nodes();
  d.num_valid = s.valid.num_nodes();
  d.num_test = s.test.num_nodes();
  d.num_parts = store.info().num_parts;
  if (d.feature_dim == 0) throw std::runtime_error(store.info().dir + ": the shards carry no node features");
  if (d.num_train == 0) throw std::runtime_error(store.info().dir + ": no training nodes in the split");
  return d;
}

}  // namespace flotilla
