// Internal: the three per-phase schedules built from the seed sets, shared by the
// co-located source and the sampler server.
#pragma once

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "flotilla/comm/batch_source.h"

namespace flotilla {

// Batches of a phase per epoch under the plan (max_steps caps training, evaluate = false
// drops valid/test).
inline std::uint64_t planned_batches(const EpochSchedule& s, BatchPhase p, const BatchPlan& plan) {
  if (p != BatchPhase::Train) return plan.evaluate ? s.num_batches() : 0;
  return plan.max_steps ? std::min(plan.max_steps, s.num_batches()) : s.num_batches();
}

struct PhaseSchedules {
  EpochSchedule train, valid, test;
  const EpochSchedule& of(BatchPhase p) const { return p == BatchPhase::Train ? train : p == BatchPhase::Valid ? valid : test; }
};

inline std::vector<std::uint32_t> all_parts(std::uint32_t k) {
  std::vector<std::uint32_t> p(k);
  for (std::uint32_t i = 0; i < k; ++i) p[i] = i;
  return p;
}

// Local seed assignment: orders `nodes` so that trainer t's chunk comes from the nodes of
// its group (group_of(v): the group of a node's home partitions; trainer_group[t]: trainer
// t's group). A group's nodes are split evenly over its trainers; nodes of groups without
// trainers are spread over all trainers.
template <typename GroupOf>
std::vector<VertexId> order_for_trainers(const std::vector<VertexId>& nodes, GroupOf group_of,
                                         const std::vector<int>& trainer_group) {
  const std::size_t T = trainer_group.size();
  std::map<int, std::vector<VertexId>> by_group;
  for (VertexId v : nodes) by_group[group_of(v)].push_back(v);
  std::map<int, std::vector<std::size_t>> trainers_of;
  for (std::size_t t = 0; t < T; ++t) trainers_of[trainer_group[t]].push_back(t);
  std::vector<std::vector<VertexId>> piece(T);
  std::vector<VertexId> leftover;
  for (auto& [g, vs] : by_group) {
    auto it = trainers_of.find(g);
    if (it == trainers_of.end()) {
      leftover.insert(leftover.end(), vs.begin(), vs.end());
      continue;
    }
    const auto& ts = it->second;
    for (std::size_t i = 0; i < ts.size(); ++i)
      piece[ts[i]].assign(vs.begin() + static_cast<std::ptrdiff_t>(vs.size() * i / ts.size()),
                          vs.begin() + static_cast<std::ptrdiff_t>(vs.size() * (i + 1) / ts.size()));
  }
  for (std::size_t t = 0; t < T; ++t)
    piece[t].insert(piece[t].end(), leftover.begin() + static_cast<std::ptrdiff_t>(leftover.size() * t / T),
                    leftover.begin() + static_cast<std::ptrdiff_t>(leftover.size() * (t + 1) / T));
  std::vector<VertexId> out;
  out.reserve(nodes.size());
  for (auto& p : piece) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// From full seed sets (ascending global ids). `group_of`/`trainer_group` are used in local mode.
template <typename GroupOf>
PhaseSchedules make_schedules(std::vector<VertexId> train, std::vector<VertexId> valid, std::vector<VertexId> test,
                              const BatchPlan& plan, GroupOf group_of, const std::vector<int>& trainer_group) {
  if (plan.local_seeds) {
    auto make = [&](std::vector<VertexId> v, std::uint64_t batch, bool shuffle) {
      return EpochSchedule::local(order_for_trainers(v, group_of, trainer_group), plan.num_trainers, batch, plan.seed,
                                  shuffle);
    };
    return PhaseSchedules{make(std::move(train), plan.batch_size, true), make(std::move(valid), plan.eval_batch_size, false),
                          make(std::move(test), plan.eval_batch_size, false)};
  }
  return PhaseSchedules{EpochSchedule(std::move(train), plan.batch_size, plan.seed, true),
                        EpochSchedule(std::move(valid), plan.eval_batch_size, plan.seed, false),
                        EpochSchedule(std::move(test), plan.eval_batch_size, plan.seed, false)};
}

// Co-located: trainer t's home partitions are those with p mod T == t.
inline PhaseSchedules make_schedules(const ShardStore& store, const BatchPlan& plan) {
  if (!store.info().has_split)
    throw std::runtime_error(store.info().dir + ": the shards carry no train/valid/test split (partition an OGB folder with split/)");
  if (!store.info().has_labels) throw std::runtime_error(store.info().dir + ": the shards carry no labels");
  std::vector<int> trainer_group(plan.num_trainers);
  for (std::uint32_t t = 0; t < plan.num_trainers; ++t) trainer_group[t] = static_cast<int>(t);
  const PartitionBook& book = store.book();
  auto group_of = [&](VertexId v) { return static_cast<int>(book.owner(v) % plan.num_trainers); };
  return make_schedules(store.nodes_in_split(1), store.nodes_in_split(2), store.nodes_in_split(3), plan, group_of,
                        trainer_group);
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
