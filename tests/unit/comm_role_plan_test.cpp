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
