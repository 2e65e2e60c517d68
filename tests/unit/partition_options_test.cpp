// Partitioner options and inputs: FENNEL's edge count m for edge lists listed once or in both
// directions, the chunk-size cap, METIS with edge weights, durable output helpers and
// stale temp folders of killed runs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include "flotilla/datasets.h"
#include "flotilla/partition.h"
#include "test_paths.h"
#include "../../partition/src/metis_weights.h"

using namespace flotilla;
using flotilla::test::scratch_dir;
using flotilla::test::shared_data;
using flotilla::test::write_file;

namespace {

std::string both_directions_copy(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  std::string line, text;
  while (std::getline(in, line)) {
    std::uint64_t u = 0, v = 0;
    if (std::sscanf(line.c_str(), "%lu %lu", &u, &v) != 2) continue;
    text += std::to_string(u) + " " + std::to_string(v) + "\n" + std::to_string(v) + " " + std::to_string(u) + "\n";
  }
  return write_file(name, text);
}

// An empty folder under the test's scratch folder (which persists between runs).
std::string fresh_dir(const std::string& name) {
  const std::string dir = scratch_dir() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST(FennelAlpha, EdgeCountForListsListedOnceOrBothWays) {
  // facebook_combined.txt lists each of its 88234 edges once; the METIS copy says m = 88234.
  const std::string once = shared_data("graphs/facebook_combined.txt");
  const std::string twice = both_directions_copy(once, "fb-both.txt");
  auto s1 = open_edge_stream(once);
  auto s2 = open_edge_stream(twice);
  auto s3 = open_edge_stream(shared_data("graphs/facebook_combined.graph"));
  ASSERT_FALSE(s1->info().each_edge_once);
  ASSERT_EQ(s1->info().num_edges_hint, 88234u);
  ASSERT_EQ(s2->info().num_edges_hint, 2u * 88234u);
  bool counted = false;
  EXPECT_EQ(fennel_edge_count(*s1, 10000, &counted), 88234u);
  EXPECT_TRUE(counted);
  EXPECT_EQ(fennel_edge_count(*s2, 10000, &counted), 88234u);
  EXPECT_TRUE(counted);
  EXPECT_EQ(fennel_edge_count(*s3, 10000, &counted), 88234u);
  EXPECT_FALSE(counted);  // from the header
  // The stream is usable afterwards (rewound).
  EdgeChunk c;
  ASSERT_TRUE(s1->next_chunk(c, 5));
  EXPECT_EQ(c.src[0], 0u);

  // alpha = sqrt(K) m / n^1.5, the same for all three inputs.
  const double want = std::sqrt(8.0) * 88234.0 / std::pow(4039.0, 1.5);
  EXPECT_DOUBLE_EQ(fennel_alpha(4039, 88234, 8), want);
  EXPECT_DOUBLE_EQ(fennel_alpha(0, 5, 8), 0.0);
  EXPECT_DOUBLE_EQ(fennel_alpha(100, 0, 4), std::sqrt(4.0) / 1000.0);  // m at least 1

  // A small list with one edge listed once more than the other way: counted as listed once.
  auto s4 = open_edge_stream(write_file("mixed.txt", "0 1\n1 0\n1 2\n2 3\n3 2\n"));
  EXPECT_EQ(fennel_edge_count(*s4, 2), 5u);
  auto s5 = open_edge_stream(write_file("sym.txt", "0 1\n1 2\n1 0\n2 3\n3 2\n2 1\n"));
  EXPECT_EQ(fennel_edge_count(*s5, 2), 3u);
}

TEST(FennelAlpha, CountingPassIsReported) {
  // Edge lists need one counting pass for m; METIS files take m from the header.
  const std::string once = shared_data("graphs/facebook_combined.txt");
  auto s = open_edge_stream(once);
  PartitionConfig cfg;
  cfg.algo = PartitionAlgo::Fennel;
  cfg.num_parts = 4;
  PartitionStats st;
  const auto part = partition_graph(*s, cfg, &st);
  EXPECT_EQ(part.size(), 4039u);
  EXPECT_EQ(st.passes_done, 2);  // the counting pass + 1 FENNEL pass
  auto m = open_edge_stream(shared_data("graphs/facebook_combined.graph"));
  partition_graph(*m, cfg, &st);
  EXPECT_EQ(st.passes_done, 1);  // m from the header
}

TEST(ChunkEdges, CappedBelowTwoToThe31) {
  PartitionConfig cfg;
  EXPECT_EQ(effective_chunk_edges(cfg), (std::size_t{256} << 20) / 64);
  cfg.memory_budget = std::uint64_t{1} << 40;  // 1 TiB / 64 = 2^34 edges: capped
  EXPECT_EQ(effective_chunk_edges(cfg), kMaxChunkEdges);
  EXPECT_EQ(kMaxChunkEdges, (std::size_t{1} << 31) - 1);
  cfg.chunk_edges = kMaxChunkEdges;
  EXPECT_EQ(effective_chunk_edges(cfg), kMaxChunkEdges);
  cfg.chunk_edges = std::size_t{1} << 31;
  EXPECT_THROW(effective_chunk_edges(cfg), std::invalid_argument);
  auto s = open_edge_stream(shared_data("graphs/add20.graph"));
  cfg.algo = PartitionAlgo::Hash;
  EXPECT_THROW(partition_graph(*s, cfg), std::invalid_argument);
}

TEST(MetisWeights, UsedWhenTheInputHasThem) {
  // A ladder of two 30-vertex rails: rail edges weigh 100, rungs 1. Unweighted, the best
  // bisection cuts the two rails in the middle (2 edges, weight 200); weighted, it cuts the
  // 30 rungs (weight 30).
  const int len = 30;
  std::vector<std::vector<std::pair<int, int>>> adj(2 * len);
  auto add = [&](int a, int b, int w) {
    adj[a].push_back({b, w});
    adj[b].push_back({a, w});
  };
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i + 1 < len; ++i) add(r * len + i, r * len + i + 1, 100);
  for (int i = 0; i < len; ++i) add(i, len + i, 1);
  std::string text = std::to_string(2 * len) + " " + std::to_string(2 * (len - 1) + len) + " 1\n";
  for (const auto& l : adj) {
    for (auto [v, w] : l) text += std::to_string(v + 1) + " " + std::to_string(w) + " ";
    text += "\n";
  }
  auto s = open_edge_stream(write_file("ladder.graph", text));
  ASSERT_TRUE(s->info().has_edge_weights);
  PartitionConfig cfg;
  cfg.algo = PartitionAlgo::Metis;
  cfg.num_parts = 2;
  const auto part = partition_graph(*s, cfg);
  double cut = 0;
  for (int u = 0; u < 2 * len; ++u)
    for (auto [v, w] : adj[u])
      if (u < v && part[u] != part[v]) cut += w;
  EXPECT_EQ(cut, 30.0);
  for (int i = 1; i < len; ++i) {
    EXPECT_EQ(part[i], part[0]);
    EXPECT_EQ(part[len + i], part[len]);
  }
}

TEST(MetisWeights, IntegerConversion) {
  using detail::metis_edge_weights;
  EXPECT_EQ(metis_edge_weights({1, 5, 100}), (std::vector<std::int32_t>{1, 5, 100}));
  // Fractions: scaled in proportion, largest = min(2^20, (2^31 - 1) / entries), at least 1.
  const auto f = metis_edge_weights({0.5f, 1.0f, 0.0f, 1e-9f});
  EXPECT_EQ(f[1], 1 << 20);
  EXPECT_EQ(f[0], 1 << 19);
  EXPECT_EQ(f[2], 1);
  EXPECT_EQ(f[3], 1);
  // Integral but with a total beyond idx_t: scaled down.
  const auto big = metis_edge_weights(std::vector<float>(300, 16000000.0f));
  for (auto w : big) EXPECT_LE(static_cast<double>(w) * 300, 2147483647.0);
  EXPECT_GE(big[0], 1);
}

TEST(Durable, WriteSyncedAndPublish) {
  const std::string dir = fresh_dir("d");
  const std::string tmp = dir + "/out.tmp-1", out = dir + "/out";
  std::filesystem::create_directories(tmp);
  std::filesystem::create_directories(out);  // an empty folder is replaced
  write_file_synced(tmp + "/a.json", "{}\n");
  write_part_file(tmp + "/g.part.2", {0, 1, 1});
  publish_dir(tmp, out);
  EXPECT_FALSE(std::filesystem::exists(tmp));
  std::ifstream in(out + "/a.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "{}\n");
  EXPECT_EQ(read_part_file(out + "/g.part.2", 3), (std::vector<PartId>{0, 1, 1}));
  EXPECT_FALSE(std::filesystem::exists(out + "/g.part.2.tmp"));
  // A non-empty destination is not replaced.
  std::filesystem::create_directories(tmp);
  EXPECT_THROW(publish_dir(tmp, out), InputError);
  EXPECT_TRUE(std::filesystem::exists(out + "/a.json"));
}

TEST(StaleTemp, OnlyExactNamesOfDeadProcesses) {
  const std::string dir = fresh_dir("s");
  std::uint64_t pid_max = 4194304;
  {
    std::ifstream in("/proc/sys/kernel/pid_max");
    in >> pid_max;
  }
  const std::string out = dir + "/res";
  const std::string dead = out + ".tmp-" + std::to_string(pid_max + 1);  // no process can have it
  const std::string alive = out + ".tmp-" + std::to_string(::getpid());
  const std::string init = out + ".tmp-1";
  for (const auto& d : {dead, alive, init, out + ".tmp-0123", out + ".tmp-12x", out + ".tmp-", dir + "/other.tmp-" +
                        std::to_string(pid_max + 1), out + "x.tmp-" + std::to_string(pid_max + 1)})
    std::filesystem::create_directories(d);
  write_file("s/res.tmp-" + std::to_string(pid_max + 2), "a file, not a folder");
  {
    std::ofstream(dead + "/partial.shard") << "x";
  }
  const auto found = find_stale_temp_dirs(out);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, dead);
  EXPECT_EQ(found[0].pid, pid_max + 1);
  const auto removed = remove_stale_temp_dirs(out);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dead));
  std::size_t left = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++left;
  }
  EXPECT_EQ(left, 8u);  // everything else stays
}
