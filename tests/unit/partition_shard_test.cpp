// Shards: read back they reconstruct the input graph (and node data) exactly; any flipped
// byte is caught by a checksum; the result does not depend on the adjacency buffer size, even
// below one part's adjacency; every section is 8-byte aligned (version 2 and 3); versions 1
// and 2 are read; every file carries the partition run's id (version 3) and
// check_shard_set refuses a folder mixing two runs, naming two files (issue 16 item 6).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "flotilla/datasets.h"
#include "flotilla/datasets/bytes.h"
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

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
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
  const std::string a = scratch_dir() + "/big", b = scratch_dir() + "/small", c = scratch_dir() + "/tiny";
  for (const auto& d : {a, b, c}) std::filesystem::create_directories(d);
  const auto sa = write_shards(*s, part, 6, {}, a);
  const auto sb = write_shards(*s, part, 6, {}, b, 100000);  // forces several groups
  // Far smaller than one part's adjacency (about 15k arcs x 4 bytes): every part is cut
  // into vertex ranges.
  const auto sc = write_shards(*s, part, 6, {}, c, 5000);
  EXPECT_EQ(sa.adjacency_passes, 2u);
  EXPECT_GT(sb.adjacency_passes, 2u);
  EXPECT_GE(sc.adjacency_passes, 6u * 2u * 10u);
  EXPECT_EQ(sa.arcs, sc.arcs);
  EXPECT_EQ(sa.halo, sc.halo);
  for (int p = 0; p < 6; ++p) {
    const std::string f = "/part-" + std::to_string(p) + ".shard";
    const std::string ref = read_bytes(a + f);
    EXPECT_EQ(ref, read_bytes(b + f)) << f;
    EXPECT_EQ(ref, read_bytes(c + f)) << f;
  }
  EXPECT_EQ(read_bytes(a + "/old_to_new.bin"), read_bytes(c + "/old_to_new.bin"));
  // No scratch files left behind.
  for (const auto& d : {a, b, c}) {
    std::size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(d)) {
      EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
      ++files;
    }
    EXPECT_EQ(files, 7u);
  }
}

TEST(Shards, BufferSmallerThanOnePartWithWeightsAndNodeData) {
  // Weighted edge list with repeated entries (dedup keeps the first weight) and a hub whose
  // adjacency alone exceeds the tiny buffer; cora-style node data on top.
  Rng rng(7);
  const std::uint32_t n = 1500;
  std::string text;
  for (int i = 0; i < 12000; ++i) {
    const auto u = rng.below(n), v = rng.below(n);
    text += std::to_string(u) + " " + std::to_string(v) + " " + std::to_string(1 + rng.below(9)) + ".5\n";
  }
  for (std::uint32_t v = 1; v < n; v += 2) text += "0 " + std::to_string(v) + " 2\n";  // hub 0
  const std::string g = write_file("w.el", text);
  EdgeStreamOptions so;
  so.keep_ids = true;
  auto s = open_edge_stream(g, so);
  ASSERT_TRUE(s->info().has_edge_weights);
  ASSERT_EQ(s->info().num_nodes, n);
  const auto part = grem_parts(*s, 3);
  ShardNodeData nd;
  for (std::uint32_t v = 0; v < n; ++v) {
    nd.labels.push_back(v % 7 == 0 ? -1 : static_cast<std::int64_t>(v % 5));
    nd.split.push_back(static_cast<std::uint8_t>(v % 4));
  }
  std::string feat;
  for (std::uint32_t v = 0; v < n; ++v) feat += std::to_string(v) + ",0.25," + std::to_string(v % 3) + "\n";
  nd.feature_file = write_file("feat.csv", feat);
  nd.feature_dim = 3;
  const std::string a = scratch_dir() + "/a", b = scratch_dir() + "/b";
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  write_shards(*s, part, 3, nd, a);
  const auto sb = write_shards(*s, part, 3, nd, b, 2000);  // 250 weighted arcs per segment
  EXPECT_GT(sb.adjacency_passes, 3u * 2u * 10u);
  for (int p = 0; p < 3; ++p) {
    const std::string f = "/part-" + std::to_string(p) + ".shard";
    EXPECT_EQ(read_bytes(a + f), read_bytes(b + f)) << f;
  }
  // And the content is right: weights of the first occurrence, symmetric adjacency.
  std::map<std::pair<VertexId, VertexId>, float> first;
  {
    EdgeChunk c;
    s->rewind();
    while (s->next_chunk(c, 1000))
      for (std::size_t i = 0; i < c.size(); ++i) {
        first.emplace(std::make_pair(c.src[i], c.dst[i]), c.weight[i]);
        first.emplace(std::make_pair(c.dst[i], c.src[i]), c.weight[i]);
      }
  }
  std::vector<std::uint64_t> new_to_old;
  const auto edges = edges_from_shards(b, 3, &new_to_old);
  EXPECT_EQ(edges.size(), first.size());
  for (int p = 0; p < 3; ++p) {
    const Shard sh = read_shard(b + "/part-" + std::to_string(p) + ".shard");
    ASSERT_EQ(sh.weights.size(), sh.targets.size());
    for (std::uint64_t i = 0; i < sh.header.owned(); ++i) {
      const auto v = sh.old_ids[i];
      EXPECT_EQ(sh.labels[i], nd.labels[v]);
      EXPECT_EQ(sh.split[i], nd.split[v]);
      EXPECT_EQ(sh.features[i * 3], static_cast<float>(v));
      for (EdgeIndex e = sh.offsets[i]; e < sh.offsets[i + 1]; ++e)
        ASSERT_EQ(sh.weights[e], first.at({static_cast<VertexId>(v), static_cast<VertexId>(new_to_old[sh.targets[e]])}));
    }
  }
}

TEST(Shards, EverySectionIsEightByteAligned) {
  // Cora: 1433 features (4-byte rows: odd owned counts end 4 mod 8), labels, split; odd
  // arc and halo counts. The layout is parsed here from docs/formats.md, independently of
  // read_shard.
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
  const std::string dir = scratch_dir() + "/cora";
  std::filesystem::create_directories(dir);
  write_shards(*s, part, 3, nd, dir);
  bool saw_odd = false;
  for (int p = 0; p < 3; ++p) {
    const std::string path = dir + "/part-" + std::to_string(p) + ".shard";
    const std::string bytes = read_bytes(path);
    const Shard sh = read_shard(path);
    const ShardHeader& h = sh.header;
    EXPECT_EQ(h.version, 3u);
    EXPECT_EQ(read_shard_header(path).version, 3u);
    const std::uint64_t owned = h.owned();
    saw_odd = saw_odd || owned % 2 == 1 || h.num_arcs % 2 == 1 || h.num_halo % 2 == 1;
    std::uint64_t at = ShardHeader::kSize;
    auto section = [&](const void* want, std::uint64_t size) {
      ASSERT_EQ(at % 8, 0u) << "section at " << at;
      ASSERT_LE(at + size, bytes.size());
      EXPECT_EQ(std::memcmp(bytes.data() + at, want, size), 0) << "section at " << at;
      at += size;
      for (; at % 8; ++at) ASSERT_EQ(bytes[at], 0) << "padding byte " << at;
    };
    section(sh.old_ids.data(), owned * 8);
    section(sh.labels.data(), owned * 8);
    section(sh.split.data(), owned);
    section(sh.features.data(), owned * 1433 * 4);
    section(sh.offsets.data(), (owned + 1) * 8);
    section(sh.targets.data(), h.num_arcs * 4);
    section(sh.halo.data(), h.num_halo * 4);
    EXPECT_EQ(at, bytes.size());
  }
  EXPECT_TRUE(saw_odd);
  const std::string o2n = read_bytes(dir + "/old_to_new.bin");
  EXPECT_EQ(o2n.size(), ShardHeader::kSize + (2708 * 4 + 7) / 8 * 8);
  EXPECT_EQ(read_old_to_new(dir + "/old_to_new.bin").size(), 2708u);
}

TEST(Shards, VersionOneAndTwoFilesAreStillReadOthersRefused) {
  // A version 1 file (only the split section padded) built by hand from a version 3 shard;
  // a version 2 file is a version 3 file without the run id.
  auto s = open_edge_stream(shared_data("graphs/add20.graph"));
  const auto part = grem_parts(*s, 3);
  const std::string dir = scratch_dir() + "/v";
  std::filesystem::create_directories(dir);
  ShardNodeData nd;
  nd.split.assign(s->info().num_nodes, 2);
  write_shards(*s, part, 3, nd, dir);
  const Shard v2 = read_shard(dir + "/part-1.shard");  // (version 3: the layout of version 2)
  // old_to_new.bin: n = 2395 is odd, so 4 zero bytes pad the ids to a multiple of 8.
  const std::string o2n = read_bytes(dir + "/old_to_new.bin");
  ASSERT_EQ(o2n.size(), ShardHeader::kSize + 2396u * 4u);
  EXPECT_EQ(o2n.substr(o2n.size() - 4), std::string(4, '\0'));
  EXPECT_EQ(read_old_to_new(dir + "/old_to_new.bin").size(), 2395u);
  std::string payload;
  auto put = [&](const void* p, std::size_t size) { payload.append(static_cast<const char*>(p), size); };
  const std::uint64_t owned = v2.header.owned();
  put(v2.old_ids.data(), owned * 8);
  put(v2.split.data(), owned);
  payload.append((8 - owned % 8) % 8, '\0');
  put(v2.offsets.data(), (owned + 1) * 8);
  put(v2.targets.data(), v2.targets.size() * 4);
  put(v2.halo.data(), v2.halo.size() * 4);
  const std::string v2_bytes = read_bytes(dir + "/part-1.shard");
  ASSERT_NE(payload.size() + ShardHeader::kSize, v2_bytes.size());  // the layouts differ here
  auto header = [&](std::uint32_t version) {
    std::string hb = v2_bytes.substr(0, ShardHeader::kSize);
    auto* b = reinterpret_cast<unsigned char*>(hb.data());
    put_le<std::uint32_t>(b + 8, version);
    put_le<std::uint32_t>(b + 72, crc32_update(0, payload.data(), payload.size()));
    put_le<std::uint32_t>(b + 124, crc32_update(0, b, 124));
    return hb;
  };
  const Shard v1 = read_shard(write_file("v1.shard", header(1) + payload));
  EXPECT_EQ(v1.header.version, 1u);
  EXPECT_EQ(v1.old_ids, v2.old_ids);
  EXPECT_EQ(v1.split, v2.split);
  EXPECT_EQ(v1.offsets, v2.offsets);
  EXPECT_EQ(v1.targets, v2.targets);
  EXPECT_EQ(v1.halo, v2.halo);
  {
    std::string hb = v2_bytes.substr(0, ShardHeader::kSize);
    auto* b = reinterpret_cast<unsigned char*>(hb.data());
    EXPECT_NE(get_le<std::uint64_t>(b + 80), 0u);  // the run id
    put_le<std::uint32_t>(b + 8, 2);
    std::memset(b + 80, 0, 8);
    put_le<std::uint32_t>(b + 124, crc32_update(0, b, 124));
    const Shard old = read_shard(write_file("v2.shard", hb + v2_bytes.substr(ShardHeader::kSize)));
    EXPECT_EQ(old.header.version, 2u);
    EXPECT_EQ(old.header.run_id, 0u);
    EXPECT_EQ(old.targets, v2.targets);
    EXPECT_EQ(old.halo, v2.halo);
  }
  for (std::uint32_t bad : {0u, 4u}) {
    const std::string err = error_of([&] { read_shard_header(write_file("v.shard", header(bad) + payload)); });
    EXPECT_NE(err.find("unsupported shard version " + std::to_string(bad)), std::string::npos) << err;
    EXPECT_NE(err.find("re-partition"), std::string::npos) << err;
  }
}

// 64-bit adjacency counts in a shard (issue 15, item 4), without writing 16 GiB: a real
// shard's header made to say 2^32 + 5 arcs (header checksum redone). The header reader keeps
// the count whole, and the shard reader's size check computes the bytes those counts need
// (targets alone 2^34 + 20) exactly, with no wrap, and refuses before allocating anything.
TEST(Shards, ArcCountsAboveTwoToThe32AreKeptWholeAndSizedExactly) {
  auto s = open_edge_stream(shared_data("graphs/add20.graph"));
  const auto part = grem_parts(*s, 2);
  const std::string dir = scratch_dir() + "/arcs64";
  std::filesystem::create_directories(dir);
  write_shards(*s, part, 2, ShardNodeData{}, dir);
  const std::string path = dir + "/part-0.shard";
  const Shard orig = read_shard(path);
  std::string bytes = read_bytes(path);
  const std::uint64_t arcs = (std::uint64_t{1} << 32) + 5;
  auto* b = reinterpret_cast<unsigned char*>(bytes.data());
  put_le<std::uint64_t>(b + 48, arcs);
  put_le<std::uint32_t>(b + 124, crc32_update(0, b, 124));
  const std::string big = write_file("arcs64.shard", bytes);
  EXPECT_EQ(read_shard_header(big).num_arcs, arcs);
  auto padded = [](std::uint64_t x) { return (x + 7) / 8 * 8; };
  const std::uint64_t need = bytes.size() - padded(4 * orig.header.num_arcs) + padded(4 * arcs);
  ASSERT_GT(need, std::uint64_t{1} << 34);
  const std::string err = error_of([&] { (void)read_shard(big); });
  EXPECT_NE(err.find("size " + std::to_string(bytes.size()) + " bytes, but the header's counts need " + std::to_string(need)),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("arcs64.shard"), std::string::npos) << err;
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
  // A cut file is caught from its size, before any array is allocated.
  EXPECT_NE(error_of([&] { read_shard(write_file("cut.shard", bytes.substr(0, bytes.size() - 4))); }).find("truncated"),
            std::string::npos);
}

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// add20 in K parts: GREM, or part v mod K (another assignment of the same graph).
std::string write_run(const std::string& name, std::uint32_t k, bool modulo, std::uint64_t* run_id = nullptr) {
  auto s = open_edge_stream(shared_data("graphs/add20.graph"));
  std::vector<PartId> part = grem_parts(*s, k);
  if (modulo)
    for (std::size_t v = 0; v < part.size(); ++v) part[v] = static_cast<PartId>(v % k);
  const std::string dir = scratch_dir() + "/" + name;
  std::filesystem::create_directories(dir);
  const auto stats = write_shards(*s, part, k, {}, dir);
  if (run_id) *run_id = stats.run_id;
  return dir;
}

void copy_over(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

}  // namespace

TEST(ShardSet, EveryFileCarriesTheRunIdOfItsContent) {
  std::uint64_t a = 0, a2 = 0, b = 0, c = 0;
  const std::string da = write_run("a", 2, false, &a);
  write_run("a2", 2, false, &a2);
  write_run("b", 2, true, &b);
  write_run("c", 3, false, &c);
  EXPECT_NE(a, 0u);
  EXPECT_EQ(a, a2);  // same graph, assignment and node data: the same bytes, the same id
  EXPECT_NE(a, b);   // another assignment
  EXPECT_NE(a, c);   // another K
  for (const char* f : {"/part-0.shard", "/part-1.shard", "/old_to_new.bin"}) {
    EXPECT_EQ(read_shard_header(da + f).run_id, a) << f;
    EXPECT_EQ(read_shard_header(da + f).version, 3u) << f;
  }
  EXPECT_EQ(format_run_id(a).size(), 16u);
  EXPECT_EQ(format_run_id(0x1f), "000000000000001f");
  const ShardSetCheck ok = check_shard_set(da);
  EXPECT_EQ(ok.run_id, a);
  EXPECT_EQ(ok.num_parts, 2u);
  EXPECT_EQ(ok.num_nodes, 2395u);
  EXPECT_EQ(ok.files.size(), 3u);
}

TEST(ShardSet, MixedFolderIsRefusedNamingBothFiles) {
  std::uint64_t a = 0, b = 0;
  const std::string da = write_run("a", 2, false, &a), db = write_run("b", 2, true, &b);
  // One shard of run b copied over part 1 of run a: named beside part-0.shard, which agrees
  // with the rest of the folder (old_to_new.bin).
  copy_over(db + "/part-1.shard", da + "/part-1.shard");
  std::string err = error_of([&] { check_shard_set(da); });
  EXPECT_TRUE(has(err, da + "/part-1.shard: comes from another partition run than " + da + "/part-0.shard")) << err;
  EXPECT_TRUE(has(err, "run id " + format_run_id(b))) << err;
  EXPECT_TRUE(has(err, "run id " + format_run_id(a))) << err;
  EXPECT_TRUE(has(err, "re-partition")) << err;
  // The same through the file list.
  err = error_of([&] { check_shard_files({da + "/part-0.shard", da + "/part-1.shard"}); });
  EXPECT_TRUE(has(err, da + "/part-1.shard: comes from another partition run than " + da + "/part-0.shard")) << err;
  EXPECT_TRUE(has(error_of([&] { check_shard_files({db + "/part-1.shard", da + "/part-1.shard"}); }),
                  "one part given twice"));
  EXPECT_EQ(check_shard_files({db + "/part-1.shard", db + "/part-0.shard"}).run_id, b);

  // Part 0 replaced instead: part-0.shard is named, beside part-1.shard.
  const std::string dc = write_run("c", 2, false);
  copy_over(db + "/part-0.shard", dc + "/part-0.shard");
  err = error_of([&] { check_shard_set(dc); });
  EXPECT_TRUE(has(err, dc + "/part-0.shard: comes from another partition run than " + dc + "/part-1.shard")) << err;

  // Both shards of another run with the same K and n: old_to_new.bin tells.
  const std::string dd = write_run("d", 2, false);
  copy_over(db + "/part-0.shard", dd + "/part-0.shard");
  copy_over(db + "/part-1.shard", dd + "/part-1.shard");
  err = error_of([&] { check_shard_set(dd); });
  EXPECT_TRUE(has(err, dd + "/part-0.shard: comes from another partition run than " + dd + "/old_to_new.bin")) << err;

  // A stray part of a 3-part run.
  const std::string de = write_run("e", 2, false), d3 = write_run("three", 3, false);
  copy_over(d3 + "/part-2.shard", de + "/part-2.shard");
  err = error_of([&] { check_shard_set(de); });
  EXPECT_TRUE(has(err, de + "/part-2.shard: comes from another partition run than " + de + "/part-0.shard")) << err;
  EXPECT_TRUE(has(err, "part 2 of 3 parts")) << err;

  // A missing part.
  const std::string df = write_run("f", 3, false);
  std::filesystem::remove(df + "/part-1.shard");
  EXPECT_TRUE(has(error_of([&] { check_shard_set(df); }), df + "/part-1.shard: cannot open")) << df;
}

TEST(ShardSet, PartitionJsonMustAgree) {
  std::uint64_t a = 0, b = 0;
  const std::string da = write_run("a", 2, false, &a);
  write_run("b", 2, true, &b);
  const auto size = [&](const char* f) { return std::to_string(std::filesystem::file_size(da + f)); };
  auto json = [&](const std::string& id, const std::string& parts, const std::string& bytes0) {
    std::ofstream(da + "/partition.json")
        << "{\"format\":\"flotilla-partition\",\"format_version\":1,\"parameters\":{\"parts\":" << parts
        << "},\"num_parts\":" << parts << ",\"num_nodes\":2395,\"files\":{\"old_to_new.bin\":{\"bytes\":"
        << size("/old_to_new.bin") << ",\"crc32\":1},\"part-0.shard\":{\"bytes\":" << bytes0
        << ",\"crc32\":2},\"part-1.shard\":{\"bytes\":" << size("/part-1.shard") << ",\"crc32\":3}}"
        << (id.empty() ? "" : ",\"run_id\":\"" + id + "\"") << "}\n";
  };
  json(format_run_id(a), "2", size("/part-0.shard"));
  EXPECT_EQ(check_shard_set(da).run_id, a);
  json("", "2", size("/part-0.shard"));  // partition.json without a run id: K, n and sizes
  EXPECT_EQ(check_shard_set(da).run_id, a);
  json(format_run_id(b), "2", size("/part-0.shard"));
  std::string err = error_of([&] { check_shard_set(da); });
  EXPECT_TRUE(has(err, da + "/old_to_new.bin: comes from another partition run than " + da + "/partition.json")) << err;
  json("", "3", size("/part-0.shard"));
  err = error_of([&] { check_shard_set(da); });
  EXPECT_TRUE(has(err, "partition.json: run id " + format_run_id(a) + " of 3 parts")) << err;
  json("", "2", "12345");
  err = error_of([&] { check_shard_set(da); });
  EXPECT_TRUE(has(err, da + "/part-0.shard: " + size("/part-0.shard") + " bytes, but " + da +
                           "/partition.json lists 12345 bytes for it")) << err;
  json("xyz", "2", size("/part-0.shard"));
  EXPECT_TRUE(has(error_of([&] { check_shard_set(da); }), "run_id 'xyz' is not 16 hex digits"));
}

TEST(ShardSet, VersionTwoShardsHaveNoRunIdAndDoNotMixWithVersionThree) {
  const std::string da = write_run("a", 2, false);
  // Version 2: the same layout, no run id.
  auto downgrade = [](const std::string& path) {
    std::string bytes = read_bytes(path);
    auto* b = reinterpret_cast<unsigned char*>(bytes.data());
    put_le<std::uint32_t>(b + 8, 2);
    std::memset(b + 80, 0, 8);
    put_le<std::uint32_t>(b + 124, crc32_update(0, b, 124));
    std::ofstream(path, std::ios::binary) << bytes;
  };
  downgrade(da + "/part-1.shard");
  const std::string err = error_of([&] { check_shard_set(da); });
  EXPECT_TRUE(has(err, da + "/part-1.shard: comes from another partition run than " + da + "/part-0.shard")) << err;
  EXPECT_TRUE(has(err, "run id none (format version 2)")) << err;
  downgrade(da + "/part-0.shard");
  downgrade(da + "/old_to_new.bin");
  const ShardSetCheck old = check_shard_set(da);
  EXPECT_EQ(old.run_id, 0u);
  EXPECT_EQ(old.version, 2u);
  EXPECT_EQ(read_shard(da + "/part-1.shard").header.run_id, 0u);
}
