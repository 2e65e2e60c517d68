// Role plans are pure functions of (hosts, S, L, K): what --dry-run prints is what runs.
#include <gtest/gtest.h>

#include <set>

#include "flotilla/comm/role_plan.h"

using namespace flotilla;

TEST(RolePlan, SingleNodeTrainersFirstThenSamplersThenLoaders) {
  const RolePlan p = plan_roles(std::vector<std::string>(4, "a"), 1, 1, 2);
  EXPECT_EQ(p.trainers, 2);
  EXPECT_EQ(p.trainer_ranks, (std::vector<int>{0, 1}));
  EXPECT_EQ(p.sampler_ranks, (std::vector<int>{2}));
  EXPECT_EQ(p.loader_ranks, (std::vector<int>{3}));
  EXPECT_EQ(p.ranks[2].parts, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(p.ranks[0].home_sampler, 2);
  EXPECT_EQ(p.ranks[1].home_sampler, 2);
  EXPECT_EQ(p.sampler_for(1, 0), 2);
  EXPECT_EQ(p.loader_for(0, 1), 3);
}

TEST(RolePlan, TwoNodesGetTrainersAndServersEach) {
  // mpirun by slot on 2 nodes x 3 slots: ranks 0-2 on n0, 3-5 on n1.
  const RolePlan p = plan_roles({"n0", "n0", "n0", "n1", "n1", "n1"}, 2, 2, 4);
  EXPECT_EQ(p.trainer_ranks, (std::vector<int>{0, 3}));
  EXPECT_EQ(p.sampler_ranks, (std::vector<int>{1, 4}));
  EXPECT_EQ(p.loader_ranks, (std::vector<int>{2, 5}));
  EXPECT_EQ(p.ranks[0].home_sampler, 1);  // same node
  EXPECT_EQ(p.ranks[3].home_sampler, 4);
  EXPECT_EQ(p.ranks[1].parts, (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(p.ranks[4].parts, (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(p.ranks[4].local_rank, 1);
  EXPECT_EQ(p.ranks[4].node, 1);
}

TEST(RolePlan, MoreServersThanPartsShareParts) {
  const RolePlan p = plan_roles(std::vector<std::string>(8, "a"), 3, 3, 2);
  EXPECT_EQ(p.part_samplers[0].size(), 2u);
  EXPECT_EQ(p.part_samplers[1].size(), 1u);
  std::set<int> used;
  for (int r = 0; r < 4; ++r) used.insert(p.sampler_for(0, r));
  EXPECT_EQ(used.size(), 2u);  // requesters spread over both samplers of part 0
  for (const auto& rp : p.ranks)
    if (rp.role != Role::Trainer) {
      EXPECT_EQ(rp.parts.size(), 1u);
    }
}

TEST(RolePlan, RejectsPlansWithoutTrainersOrHalfColocated) {
  EXPECT_THROW(plan_roles({"a", "a"}, 1, 1, 2), std::invalid_argument);
  EXPECT_THROW(plan_roles({"a", "a", "a"}, 1, 0, 2), std::invalid_argument);
  EXPECT_THROW(plan_roles({"a"}, -1, -1, 2), std::invalid_argument);
  const RolePlan c = plan_roles({"a", "a"}, 0, 0, 3);
  EXPECT_TRUE(c.colocated());
  EXPECT_EQ(c.trainers, 2);
}

TEST(RolePlan, TrainersPerNodeKeepServersOffTheTrainerNodes) {
  // Heterogeneous job: 2 GPU nodes x 2 ranks first, then 2 CPU nodes x 3 ranks; 4 trainers.
  const std::vector<std::string> hosts = {"g0", "g0", "g1", "g1", "c0", "c0", "c0", "c1", "c1", "c1"};
  const RolePlan p = plan_roles(hosts, 4, 2, 2, 2);
  EXPECT_EQ(p.trainer_ranks, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(p.ranks[1].local_rank, 1);  // second GPU of g0
  EXPECT_EQ(p.ranks[3].local_rank, 1);
  // Servers in turns over the remaining ranks: c0, c1, c0, c1, ...
  EXPECT_EQ(p.sampler_ranks, (std::vector<int>{4, 7, 5, 8}));
  EXPECT_EQ(p.loader_ranks, (std::vector<int>{6, 9}));
  for (int t : p.trainer_ranks) EXPECT_LT(p.ranks[static_cast<std::size_t>(t)].home_sampler, 10);
  // Without the option the turn order puts a trainer on c0 (ranks g0, g1, c0, c1, g0, ...).
  const RolePlan d = plan_roles(hosts, 4, 2, 2);
  EXPECT_EQ(d.trainer_ranks, (std::vector<int>{0, 2, 4, 7}));
  // One per node reproduces the turn order's first round; too few slots is an error.
  EXPECT_EQ(plan_roles({"n0", "n0", "n1", "n1"}, 1, 1, 2, 1).trainer_ranks, (std::vector<int>{0, 2}));
  EXPECT_THROW(plan_roles({"n0", "n0", "n1", "n1"}, 0, 0, 2, 1), std::invalid_argument);  // 4 trainers, 1 x 2 nodes
  EXPECT_THROW(plan_roles({"n0", "n0"}, 0, 0, 2, -1), std::invalid_argument);
}
