#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "flotilla/sampler.h"

using namespace flotilla;

TEST(UniformSampling, DistinctInRangeAndDeterministic) {
  for (std::int64_t k : {1, 5, 10, 100, 500}) {
    Rng a(42), b(42);
    std::vector<std::uint64_t> x, y;
    sample_without_replacement(1000, k, a, x);
    sample_without_replacement(1000, k, b, y);
    EXPECT_EQ(x, y);
    ASSERT_EQ(x.size(), static_cast<std::size_t>(k));
    std::set<std::uint64_t> s(x.begin(), x.end());
    EXPECT_EQ(s.size(), x.size());
    EXPECT_LT(*s.rbegin(), 1000u);
  }
}

TEST(UniformSampling, AllWhenFanoutCoversDegree) {
  Rng r(1);
  std::vector<std::uint64_t> out;
  sample_without_replacement(4, -1, r, out);
  EXPECT_EQ(out, (std::vector<std::uint64_t>{0, 1, 2, 3}));
  out.clear();
  sample_without_replacement(4, 7, r, out);
  EXPECT_EQ(out.size(), 4u);
}

TEST(UniformSampling, RoughlyUniform) {
  // Each of 10 items drawn with k=3 should appear ~30% of the time over many trials.
  Rng r(7);
  std::vector<int> hits(10, 0);
  const int trials = 20000;
  for (int t = 0; t < trials; ++t) {
    std::vector<std::uint64_t> out;
    sample_without_replacement(10, 3, r, out);
    for (auto i : out) ++hits[i];
  }
  for (int h : hits) EXPECT_NEAR(h / double(trials), 0.3, 0.02);
}

// ---- blocks, shard store, schedule -----------------------------------------------------------
#include <filesystem>

#include "flotilla/datasets.h"
#include "flotilla/partition.h"
#include "test_paths.h"

namespace {

// Shards of a small real graph (add20, 2395 nodes) split in `k` parts, written once per k.
std::string make_shards(std::uint32_t k) {
  const std::string dir = flotilla::test::scratch_dir() + "/shards" + std::to_string(k);
  std::filesystem::create_directories(dir);
  auto s = open_edge_stream(flotilla::test::shared_data("graphs/add20.graph"));
  PartitionConfig cfg;
  cfg.num_parts = k;
  const auto part = partition_graph(*s, cfg);
  write_shards(*s, part, k, {}, dir);
  return dir;
}

std::vector<std::uint32_t> all_parts(std::uint32_t k) {
  std::vector<std::uint32_t> p(k);
  for (std::uint32_t i = 0; i < k; ++i) p[i] = i;
  return p;
}

// Sampled neighbour set of each seed, in global ids, per layer-0 destination.
std::map<VertexId, std::vector<VertexId>> last_layer(const MiniBatch& b) {
  std::map<VertexId, std::vector<VertexId>> out;
  const Block& k = b.blocks.back();
  for (std::uint32_t d = 0; d < k.num_dst; ++d)
    for (std::uint32_t e = k.offsets[d]; e < k.offsets[d + 1]; ++e) out[b.nodes[d]].push_back(b.nodes[k.indices[e]]);
  return out;
}

}  // namespace

TEST(NeighborSampler, BlocksAreNestedAndEdgesAreRealAndDistinct) {
  const std::string dir = make_shards(3);
  ShardStore store(dir, all_parts(3));
  LocalNeighborSource src(store);
  NeighborSampler sampler({5, 3}, 7);
  std::vector<VertexId> seeds = {0, 17, 400, 2394, 1000};
  const MiniBatch b = sampler.sample(seeds, BatchId{2, BatchPhase::Train, 9}, src);
  ASSERT_NO_THROW(validate(b, "test"));
  ASSERT_EQ(b.blocks.size(), 2u);
  EXPECT_EQ(b.num_seeds, 5u);
  EXPECT_EQ(std::vector<VertexId>(b.nodes.begin(), b.nodes.begin() + 5), seeds);
  std::set<VertexId> distinct(b.nodes.begin(), b.nodes.end());
  EXPECT_EQ(distinct.size(), b.nodes.size());
  for (std::size_t l = 0; l < 2; ++l) {
    const Block& k = b.blocks[l];
    const std::int64_t fanout = l == 0 ? 5 : 3;
    for (std::uint32_t d = 0; d < k.num_dst; ++d) {
      const VertexId v = b.nodes[d];
      const std::uint64_t deg = store.degree(v);
      const std::uint32_t got = k.offsets[d + 1] - k.offsets[d];
      EXPECT_EQ(got, std::min<std::uint64_t>(deg, fanout));
      std::set<VertexId> nb(store.neighbors(v), store.neighbors(v) + deg), seen;
      for (std::uint32_t e = k.offsets[d]; e < k.offsets[d + 1]; ++e) {
        const VertexId u = b.nodes[k.indices[e]];
        EXPECT_TRUE(nb.count(u)) << v << " -> " << u;
        EXPECT_TRUE(seen.insert(u).second);
      }
    }
  }
}

TEST(NeighborSampler, FullFanoutTakesEveryNeighbour) {
  const std::string dir = make_shards(2);
  ShardStore store(dir, all_parts(2));
  LocalNeighborSource src(store);
  NeighborSampler sampler({-1}, 1);
  const MiniBatch b = sampler.sample({5, 6}, BatchId{}, src);
  auto nb = last_layer(b);
  for (VertexId v : {5u, 6u}) {
    std::vector<VertexId> want(store.neighbors(v), store.neighbors(v) + store.degree(v));
    EXPECT_EQ(nb[v], want);
  }
}

TEST(NeighborSampler, NeighbourhoodsDoNotDependOnTheRestOfTheBatch) {
  // The basis of rank-count independence: node v's sample depends on (seed, batch, layer, v) only.
  const std::string dir = make_shards(4);
  ShardStore store(dir, all_parts(4));
  LocalNeighborSource src(store);
  NeighborSampler a({4, 4}, 3), b({4, 4}, 3);
  const BatchId id{1, BatchPhase::Train, 4};
  const auto whole = last_layer(a.sample({10, 20, 30, 40}, id, src));
  const auto left = last_layer(b.sample({10, 20}, id, src));
  const auto right = last_layer(b.sample({30, 40}, id, src));
  EXPECT_EQ(whole.at(10), left.at(10));
  EXPECT_EQ(whole.at(20), left.at(20));
  EXPECT_EQ(whole.at(30), right.at(30));
  EXPECT_EQ(whole.at(40), right.at(40));
  // Another batch id draws differently somewhere.
  const auto other = last_layer(a.sample({10, 20, 30, 40}, BatchId{1, BatchPhase::Train, 5}, src));
  EXPECT_NE(whole, other);
  // And the same id twice is identical.
  EXPECT_EQ(whole, last_layer(a.sample({10, 20, 30, 40}, id, src)));
}

TEST(NeighborSampler, RejectsDuplicateSeedsAndBadFanouts) {
  const std::string dir = make_shards(2);
  ShardStore store(dir, all_parts(2));
  LocalNeighborSource src(store);
  NeighborSampler s({2}, 1);
  EXPECT_THROW(s.sample({3, 3}, BatchId{}, src), std::invalid_argument);
  EXPECT_THROW(NeighborSampler({0}, 1), std::invalid_argument);
  EXPECT_THROW(parse_fanouts("15,x"), std::invalid_argument);
  EXPECT_THROW(parse_fanouts("15,,10"), std::invalid_argument);
  EXPECT_EQ(parse_fanouts("15,10"), (std::vector<std::int64_t>{15, 10}));
  EXPECT_EQ(parse_fanouts("-1"), (std::vector<std::int64_t>{-1}));
}

TEST(ShardStore, PartialStoreRefusesForeignNodes) {
  const std::string dir = make_shards(3);
  ShardStore one(dir, {1});
  const auto& book = one.book();
  EXPECT_TRUE(one.owns(static_cast<VertexId>(book.begin(1))));
  EXPECT_FALSE(one.owns(static_cast<VertexId>(book.begin(0))));
  EXPECT_THROW(one.degree(static_cast<VertexId>(book.begin(0))), std::out_of_range);
  EXPECT_THROW(ShardStore(dir, {3}), std::invalid_argument);
  // A shard from another partitioning is named.
  const std::string other = make_shards(2);
  std::filesystem::copy_file(other + "/part-1.shard", dir + "/part-1.shard",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_NE(flotilla::test::error_of([&] { read_shard_set_info(dir); }).find("part-1.shard"), std::string::npos);
}

TEST(MiniBatchCodec, RoundTripAndCorruption) {
  const std::string dir = make_shards(2);
  ShardStore store(dir, all_parts(2));
  LocalNeighborSource src(store);
  NeighborSampler s({3, 2}, 5);
  const MiniBatch b = s.sample({1, 2, 3}, BatchId{3, BatchPhase::Valid, 11}, src);
  std::vector<std::uint8_t> bytes;
  encode(b, bytes);
  const MiniBatch c = decode_minibatch(bytes.data(), bytes.size(), "rank 1");
  EXPECT_EQ(c.id, b.id);
  EXPECT_EQ(c.nodes, b.nodes);
  ASSERT_EQ(c.blocks.size(), 2u);
  EXPECT_EQ(c.blocks[0].indices, b.blocks[0].indices);
  EXPECT_EQ(c.blocks[1].offsets, b.blocks[1].offsets);
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{20}, bytes.size() - 1})
    EXPECT_THROW(decode_minibatch(bytes.data(), cut, "rank 1"), std::runtime_error) << cut;
  // An index beyond num_src is refused, not used.
  MiniBatch bad = b;
  bad.blocks[0].indices[0] = bad.blocks[0].num_src;
  bytes.clear();
  encode(bad, bytes);
  try {
    decode_minibatch(bytes.data(), bytes.size(), "rank 7");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 7"), std::string::npos);
  }
}

TEST(EpochSchedule, SlicesUnionToTheGlobalBatchForAnyTrainerCount) {
  std::vector<VertexId> nodes(103);
  for (VertexId i = 0; i < 103; ++i) nodes[i] = i * 3;
  EpochSchedule sched(nodes, 10, 42, true);
  EXPECT_EQ(sched.num_batches(), 11u);
  for (std::uint32_t epoch : {0u, 1u}) {
    std::vector<VertexId> all;
    for (std::uint64_t b = 0; b < sched.num_batches(); ++b) {
      const auto whole = sched.batch(epoch, b, 0, 1);
      EXPECT_EQ(whole.size(), sched.global_batch_size(b));
      for (std::uint32_t t : {2u, 3u, 7u}) {
        std::vector<VertexId> joined;
        for (std::uint32_t i = 0; i < t; ++i) {
          const auto part = sched.batch(epoch, b, i, t);
          joined.insert(joined.end(), part.begin(), part.end());
        }
        EXPECT_EQ(joined, whole);
      }
      all.insert(all.end(), whole.begin(), whole.end());
    }
    std::vector<VertexId> sorted = all;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, nodes);  // a permutation of the seed set
    EXPECT_NE(all, nodes);     // shuffled
  }
  EXPECT_NE(sched.batch(0, 0, 0, 1), sched.batch(1, 0, 0, 1));
  EpochSchedule fixed(nodes, 10, 42, false);
  EXPECT_EQ(fixed.batch(5, 0, 0, 1), std::vector<VertexId>(nodes.begin(), nodes.begin() + 10));
}

TEST(EpochSchedule, LocalModeGivesEachTrainerItsOwnChunk) {
  std::vector<VertexId> nodes(101);
  for (VertexId i = 0; i < 101; ++i) nodes[i] = i;
  const EpochSchedule s = EpochSchedule::local(nodes, 3, 20, 9, true);
  EXPECT_EQ(s.num_batches(), 5u);  // chunks of 33/34/34, 7 seeds per trainer per step: ceil(34 / 7)
  for (std::uint32_t epoch : {0u, 1u}) {
    std::vector<VertexId> all;
    for (std::uint32_t t = 0; t < 3; ++t) {
      std::vector<VertexId> mine;
      for (std::uint64_t b = 0; b < s.num_batches(); ++b) {
        const auto part = s.batch(epoch, b, t, 3);
        EXPECT_LE(part.size(), 7u);
        mine.insert(mine.end(), part.begin(), part.end());
      }
      std::sort(mine.begin(), mine.end());
      // Trainer t's seeds are exactly its contiguous chunk of the ordered nodes.
      EXPECT_EQ(mine.front(), static_cast<VertexId>(101 * t / 3));
      EXPECT_EQ(mine.back(), static_cast<VertexId>(101 * (t + 1) / 3 - 1));
      all.insert(all.end(), mine.begin(), mine.end());
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, nodes);
  }
  std::uint64_t total = 0;
  for (std::uint64_t b = 0; b < s.num_batches(); ++b) {
    std::uint64_t sum = 0;
    for (std::uint32_t t = 0; t < 3; ++t) sum += s.batch(0, b, t, 3).size();
    EXPECT_EQ(sum, s.global_batch_size(b));
    total += sum;
  }
  EXPECT_EQ(total, 101u);
  EXPECT_NE(s.batch(0, 0, 1, 3), s.batch(1, 0, 1, 3));  // reshuffled per epoch
  EXPECT_THROW(s.batch(0, 0, 0, 2), std::invalid_argument);
}
