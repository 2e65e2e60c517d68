// Shards: read back they reconstruct the input graph (and node data) exactly; any flipped
// byte is caught by a checksum; the result does not depend on the adjacency buffer size.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "flotilla/datasets.h"
#include "flotilla/datasets/ogb.h"
#include "flotilla/partition.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::error_of;
using flotilla::test::scratch_dir;
using flotilla::test::shared_data;
using flotilla::test::write_file;

namespace {

std::vector<PartId> grem_parts(EdgeStream& s, std::uint32_t k) {
  PartitionConfig cfg;
  cfg.num_parts = k;
  return partition_graph(s, cfg);
}

// Edge set {old u, old v} rebuilt from all shards.
std::set<std::pair<VertexId, VertexId>> edges_from_shards(const std::string& dir, std::uint32_t k,
                                                          std::vector<std::uint64_t>* new_to_old) {
  std::set<std::pair<VertexId, VertexId>> edges;
  std::uint64_t n = 0;
  std::vector<Shard> shards;
  for (std::uint32_t p = 0; p < k; ++p) {
    shards.push_back(read_shard(dir + "/part-" + std::to_string(p) + ".shard"));
    n = shards.back().header.num_nodes;
  }
  new_to_old->assign(n, ~std::uint64_t{0});
  for (const Shard& s : shards)
    for (std::uint64_t i = 0; i < s.header.owned(); ++i) (*new_to_old)[s.header.begin + i] = s.old_ids[i];
  for (const Shard& s : shards) {
    std::set<VertexId> halo;
    for (std::uint64_t i = 0; i < s.header.owned(); ++i)
      for (EdgeIndex e = s.offsets[i]; e < s.offsets[i + 1]; ++e) {
        const VertexId t = s.targets[e];
        edges.insert({static_cast<VertexId>(s.old_ids[i]), static_cast<VertexId>((*new_to_old)[t])});
        if (t < s.header.begin || t >= s.header.end) halo.insert(t);
      }
    EXPECT_EQ(std::vector<VertexId>(halo.begin(), halo.end()), s.halo);
  }
  return edges;
}

std::set<std::pair<VertexId, VertexId>> edges_of(const CsrGraph& g) {
  std::set<std::pair<VertexId, VertexId>> edges;
  for (VertexId u = 0; u < g.num_nodes(); ++u)
    for (VertexId v : g.neighbors(u)) edges.insert({u, v});
  return edges;
}

}  // namespace

TEST(Shards, ReconstructTheGraphExactly) {
  for (const char* rel : {"graphs/add20.graph", "graphs/facebook_combined.txt"}) {
    SCOPED_TRACE(rel);
    auto s = open_edge_stream(shared_data(rel));
    const auto part = grem_parts(*s, 5);
    const std::string dir = scratch_dir() + "/" + std::filesystem::path(rel).filename().string();
    std::filesystem::create_directories(dir);
    write_shards(*s, part, 5, {}, dir);
    std::vector<std::uint64_t> new_to_old;
    const auto edges = edges_from_shards(dir, 5, &new_to_old);
    EXPECT_EQ(edges, edges_of(build_csr(*s)));
    const std::vector<VertexId> old_to_new = read_old_to_new(dir + "/old_to_new.bin");
    for (std::uint64_t v = 0; v < old_to_new.size(); ++v) {
      ASSERT_EQ(new_to_old[old_to_new[v]], v);
    }
  }
}

TEST(Shards, SmallBufferGivesIdenticalFiles) {
  auto s = open_edge_stream(shared_data("graphs/4elt.graph"));
  const auto part = grem_parts(*s, 6);
  const std::string a = scratch_dir() + "/big", b = scratch_dir() + "/small";
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  const auto sa = write_shards(*s, part, 6, {}, a);
  const auto sb = write_shards(*s, part, 6, {}, b, 100000);  // forces several groups
  EXPECT_EQ(sa.adjacency_passes, 2u);
  EXPECT_GT(sb.adjacency_passes, 2u);
  for (int p = 0; p < 6; ++p) {
    const std::string f = "/part-" + std::to_string(p) + ".shard";
    std::ifstream x(a + f, std::ios::binary), y(b + f, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(x), {}), std::string(std::istreambuf_iterator<char>(y), {}));
  }
}

TEST(Shards, CarryFeaturesLabelsAndSplit) {
  const std::string cora = shared_data("nodeclass/cora");
  auto s = open_edge_stream(cora);
  const auto part = grem_parts(*s, 3);
  const OgbNodeDataset ds = read_ogb_node_dataset(cora);
  ShardNodeData nd;
  nd.feature_file = cora + "/raw/node-feat.csv.gz";
  nd.feature_dim = ds.num_features;
  nd.labels = ds.labels;
  nd.split.assign(ds.num_nodes, 0);
  for (auto v : ds.split.train) nd.split[v] = 1;
  for (auto v : ds.split.valid) nd.split[v] = 2;
  for (auto v : ds.split.test) nd.split[v] = 3;
  const std::string dir = scratch_dir() + "/cora";
  std::filesystem::create_directories(dir);
  write_shards(*s, part, 3, nd, dir);
  std::uint64_t seen = 0;
  for (int p = 0; p < 3; ++p) {
    const Shard sh = read_shard(dir + "/part-" + std::to_string(p) + ".shard");
    ASSERT_EQ(sh.header.feature_dim, 1433u);
    for (std::uint64_t i = 0; i < sh.header.owned(); ++i) {
      const auto v = sh.old_ids[i];
      ASSERT_EQ(part[v], static_cast<PartId>(p));
      EXPECT_EQ(sh.labels[i], ds.labels[v]);
      EXPECT_EQ(sh.split[i], nd.split[v]);
      for (std::size_t d = 0; d < 1433; ++d) ASSERT_EQ(sh.features[i * 1433 + d], ds.feature_row(static_cast<VertexId>(v))[d]);
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2708u);
}

TEST(Shards, FlippedByteIsDetected) {
  auto s = open_edge_stream(shared_data("graphs/add20.graph"));
  const auto part = grem_parts(*s, 2);
  const std::string dir = scratch_dir() + "/flip";
  std::filesystem::create_directories(dir);
  write_shards(*s, part, 2, {}, dir);
  const std::string path = dir + "/part-1.shard";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (std::size_t at : {std::size_t{20}, std::size_t{200}, bytes.size() / 2, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    const auto p = write_file("bad" + std::to_string(at) + ".shard", bad);
    const std::string err = error_of([&] { read_shard(p); });
    EXPECT_NE(err.find("checksum mismatch"), std::string::npos) << at << ": " << err;
  }
  EXPECT_NE(error_of([&] { read_shard(write_file("short.shard", bytes.substr(0, 100))); }).find("truncated"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_shard(write_file("cut.shard", bytes.substr(0, bytes.size() - 4))); }).find("checksum"),
            std::string::npos);
}
