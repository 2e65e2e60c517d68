// Synthetic generators: R-MAT and RGG (binary edge lists), SBM (OGB raw folder or binary
// edge list), and the table-free Feistel permutation.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "flotilla/datasets.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::scratch_dir;

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whole content of a gzip file (all members).
std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  if (!f) return {};
  std::string out;
  char buf[1 << 16];
  int got;
  while ((got = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(got));
  EXPECT_EQ(got, 0) << "gzread error in " << path;
  gzclose(f);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::vector<std::uint64_t> ints_of(const std::string& text) {
  std::vector<std::uint64_t> v;
  for (const auto& l : lines_of(text)) v.push_back(std::stoull(l));
  return v;
}

struct Edges {
  std::uint64_t num_nodes = 0;
  std::vector<VertexId> src, dst;
};

Edges read_edges(const std::string& path) {
  auto s = open_edge_stream(path);
  Edges e;
  e.num_nodes = s->info().num_nodes;
  EdgeChunk c;
  while (s->next_chunk(c, 1 << 16)) {
    e.src.insert(e.src.end(), c.src.begin(), c.src.end());
    e.dst.insert(e.dst.end(), c.dst.begin(), c.dst.end());
  }
  return e;
}

RmatOptions small_rmat(int scale, int edge_factor, std::uint64_t seed, int threads) {
  RmatOptions o;
  o.scale = scale;
  o.edge_factor = edge_factor;
  o.seed = seed;
  o.threads = threads;
  return o;
}

}  // namespace

// ---- R-MAT --------------------------------------------------------------------------------

TEST(GenerateRmat, EdgeCountIdsAndReadBack) {
  const std::string out = scratch_dir() + "/g.bin";
  std::uint64_t last_done = 0, last_total = 0;
  const RmatResult r = generate_rmat(small_rmat(10, 8, 7, 2), out, [&](std::uint64_t d, std::uint64_t t) {
    EXPECT_GE(d, last_done);
    last_done = d;
    last_total = t;
  });
  EXPECT_EQ(r.num_nodes, 1024u);
  EXPECT_EQ(r.num_edges, 8192u);
  EXPECT_EQ(last_done, 8192u);
  EXPECT_EQ(last_total, 8192u);
  EXPECT_EQ(r.bytes, 64u + 8192u * 8u);
  EXPECT_EQ(fs::file_size(out), r.bytes);
  EXPECT_FALSE(fs::exists(temp_path_for(out)));

  auto s = open_edge_stream(out);
  EXPECT_EQ(s->info().format, GraphFormat::Binary);
  EXPECT_EQ(s->info().num_nodes, 1024u);
  EXPECT_EQ(s->info().num_edges_hint, 8192u);
  const Edges e = read_edges(out);
  EXPECT_LE(e.src.size(), 8192u);         // self-loops dropped by the reader
  EXPECT_GT(e.src.size(), 8192u * 9 / 10);
  for (std::size_t i = 0; i < e.src.size(); ++i) {
    ASSERT_LT(e.src[i], 1024u);
    ASSERT_LT(e.dst[i], 1024u);
  }
  // 8-byte ids: the same edges.
  RmatOptions o8 = small_rmat(10, 8, 7, 2);
  o8.id_bytes = 8;
  const std::string out8 = scratch_dir() + "/g8.bin";
  EXPECT_EQ(generate_rmat(o8, out8).bytes, 64u + 8192u * 16u);
  const Edges e8 = read_edges(out8);
  EXPECT_EQ(e8.src, e.src);
  EXPECT_EQ(e8.dst, e.dst);
}

TEST(GenerateRmat, DeterministicAcrossRunsAndThreadCounts) {
  const std::string dir = scratch_dir();
  // scale 15, edge factor 16: 524288 edges, several generation blocks.
  generate_rmat(small_rmat(15, 16, 42, 1), dir + "/t1.bin");
  generate_rmat(small_rmat(15, 16, 42, 1), dir + "/t1b.bin");
  generate_rmat(small_rmat(15, 16, 42, 3), dir + "/t3.bin");
  generate_rmat(small_rmat(15, 16, 43, 2), dir + "/s43.bin");
  const std::string a = read_bytes(dir + "/t1.bin");
  ASSERT_EQ(a.size(), 64u + 524288u * 8u);
  EXPECT_TRUE(a == read_bytes(dir + "/t1b.bin")) << "same seed, same threads: different bytes";
  EXPECT_TRUE(a == read_bytes(dir + "/t3.bin")) << "1 vs 3 threads: different bytes";
  EXPECT_FALSE(a == read_bytes(dir + "/s43.bin")) << "different seeds: same bytes";
}

TEST(GenerateRmat, SkewedDegreesAndCsr) {
  const std::string out = scratch_dir() + "/g.bin";
  generate_rmat(small_rmat(12, 16, 3, 2), out);
  auto s = open_edge_stream(out);
  const CsrGraph g = build_csr(*s);
  EXPECT_EQ(g.num_nodes(), 4096u);
  EXPECT_TRUE(g.is_symmetric());
  const DegreeStats d = degree_stats(g);
  EXPECT_GT(d.mean, 5.0);
  EXPECT_GT(static_cast<double>(d.max), 15.0 * d.mean) << "max " << d.max << " mean " << d.mean;
  EXPECT_GT(d.isolated, 0u);  // typical of Graph500 graphs
}

TEST(GenerateRmat, QuadrantProbabilitiesWithoutPermutation) {
  // Without relabelling, the top bit of src is 0 with probability a + b, of dst with a + c.
  RmatOptions o = small_rmat(12, 16, 5, 2);
  o.permute = false;
  o.a = 0.45;
  o.b = 0.25;
  o.c = 0.15;
  const std::string out = scratch_dir() + "/g.bin";
  generate_rmat(o, out);
  // Read raw pairs (the stream drops self-loops, which would bias the counts slightly).
  const std::string bytes = read_bytes(out);
  const std::size_t m = (bytes.size() - 64) / 8;
  ASSERT_EQ(m, 65536u);
  std::size_t src_low = 0, dst_low = 0;
  for (std::size_t i = 0; i < m; ++i) {
    std::uint32_t u, v;
    std::memcpy(&u, bytes.data() + 64 + 8 * i, 4);
    std::memcpy(&v, bytes.data() + 64 + 8 * i + 4, 4);
    src_low += (u >> 11) == 0;
    dst_low += (v >> 11) == 0;
  }
  EXPECT_NEAR(static_cast<double>(src_low) / m, 0.70, 0.01);
  EXPECT_NEAR(static_cast<double>(dst_low) / m, 0.60, 0.01);
}

TEST(GenerateRmat, RejectsBadOptions) {
  const std::string out = scratch_dir() + "/bad.bin";
  auto expect_bad = [&](RmatOptions o) { EXPECT_THROW(generate_rmat(o, out), std::invalid_argument); };
  RmatOptions o = small_rmat(4, 2, 1, 1);
  o.scale = 0;
  expect_bad(o);
  o.scale = 32;
  expect_bad(o);
  o = small_rmat(4, 0, 1, 1);
  expect_bad(o);
  o = small_rmat(4, 2, 1, 1);
  o.a = 0.7;
  o.b = 0.2;
  o.c = 0.2;
  expect_bad(o);
  o = small_rmat(4, 2, 1, 1);
  o.b = -0.1;
  expect_bad(o);
  o = small_rmat(4, 2, 1, 1);
  o.id_bytes = 5;
  expect_bad(o);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(temp_path_for(out)));
}

// ---- SBM ----------------------------------------------------------------------------------

namespace {

SbmOptions small_sbm(std::uint64_t seed, int threads) {
  SbmOptions o;
  o.num_nodes = 20000;  // several generation blocks
  o.num_classes = 5;
  o.avg_degree = 10;
  o.intra_fraction = 0.7;
  o.num_features = 8;
  o.feature_separation = 2.0;
  o.seed = seed;
  o.threads = threads;
  return o;
}

const char* const kSbmFiles[] = {"raw/edge.csv.gz",          "raw/node-feat.csv.gz",      "raw/node-label.csv.gz",
                                 "raw/num-node-list.csv.gz", "raw/num-edge-list.csv.gz",  "split/random/train.csv.gz",
                                 "split/random/valid.csv.gz", "split/random/test.csv.gz"};

}  // namespace

TEST(GenerateSbm, StructureFeaturesLabelsSplit) {
  const std::string dir = scratch_dir() + "/sbm";
  fs::remove_all(dir);
  const SbmOptions o = small_sbm(11, 2);
  std::uint64_t last_done = 0;
  const SbmResult r = generate_sbm(o, dir, [&](std::uint64_t d, std::uint64_t t) {
    EXPECT_GE(d, last_done);
    EXPECT_EQ(t, o.num_nodes);
    last_done = d;
  });
  EXPECT_EQ(last_done, o.num_nodes);
  const std::uint64_t n = o.num_nodes;
  EXPECT_EQ(r.num_nodes, n);
  std::uint64_t total_bytes = 0;
  for (const char* f : kSbmFiles) {
    ASSERT_TRUE(fs::exists(dir + "/" + f)) << f;
    total_bytes += fs::file_size(dir + "/" + f);
  }
  EXPECT_EQ(r.bytes, total_bytes);
  for (const auto& entry : fs::directory_iterator(fs::path(dir).parent_path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();

  EXPECT_EQ(ints_of(gunzip(dir + "/raw/num-node-list.csv.gz")), std::vector<std::uint64_t>{n});
  EXPECT_EQ(ints_of(gunzip(dir + "/raw/num-edge-list.csv.gz")), std::vector<std::uint64_t>{r.num_edges});

  // Labels: n lines, classes 0..k-1 of sizes n/k (+-1).
  const std::vector<std::uint64_t> labels = ints_of(gunzip(dir + "/raw/node-label.csv.gz"));
  ASSERT_EQ(labels.size(), n);
  std::vector<std::uint64_t> class_size(5, 0);
  for (auto l : labels) {
    ASSERT_LT(l, 5u);
    ++class_size[l];
  }
  for (auto s : class_size) EXPECT_NEAR(static_cast<double>(s), static_cast<double>(n) / 5, 1.0);

  // Edges through the OGB edge stream: count, range, intra-block fraction, mean degree.
  auto stream = open_edge_stream(dir);
  EXPECT_EQ(stream->info().format, GraphFormat::Ogb);
  const Edges e = read_edges(dir);
  EXPECT_EQ(e.num_nodes, n);
  ASSERT_EQ(e.src.size(), r.num_edges);  // no self-loops, so the stream drops none
  std::uint64_t intra = 0;
  for (std::size_t i = 0; i < e.src.size(); ++i) {
    ASSERT_LT(e.src[i], n);
    ASSERT_LT(e.dst[i], n);
    ASSERT_NE(e.src[i], e.dst[i]);
    intra += labels[e.src[i]] == labels[e.dst[i]];
  }
  EXPECT_NEAR(static_cast<double>(intra) / static_cast<double>(e.src.size()), o.intra_fraction, 0.05);
  EXPECT_NEAR(2.0 * static_cast<double>(r.num_edges) / static_cast<double>(n), o.avg_degree, 0.5);

  // Features: n rows of 8 floats; class means differ, within-class spread ~ unit noise.
  const std::vector<std::string> rows = lines_of(gunzip(dir + "/raw/node-feat.csv.gz"));
  ASSERT_EQ(rows.size(), n);
  std::vector<double> sum(5 * 8, 0), sumsq(5 * 8, 0);
  for (std::uint64_t v = 0; v < n; ++v) {
    std::istringstream ss(rows[v]);
    std::string tok;
    int f = 0;
    while (std::getline(ss, tok, ',')) {
      ASSERT_LT(f, 8) << "row " << v;
      const double x = std::stod(tok);
      sum[labels[v] * 8 + static_cast<std::uint64_t>(f)] += x;
      sumsq[labels[v] * 8 + static_cast<std::uint64_t>(f)] += x * x;
      ++f;
    }
    ASSERT_EQ(f, 8) << "row " << v;
  }
  double between = 0;
  for (int f = 0; f < 8; ++f) {
    double mean_of_means = 0;
    for (int c = 0; c < 5; ++c) mean_of_means += sum[c * 8 + f] / static_cast<double>(class_size[c]) / 5;
    for (int c = 0; c < 5; ++c) {
      const double mu = sum[c * 8 + f] / static_cast<double>(class_size[c]);
      const double var = sumsq[c * 8 + f] / static_cast<double>(class_size[c]) - mu * mu;
      EXPECT_NEAR(var, 1.0, 0.1) << "class " << c << " feature " << f;
      between += (mu - mean_of_means) * (mu - mean_of_means) / (8 * 4);
    }
  }
  EXPECT_GT(between, 1.0) << "class means barely differ (separation 2 => variance ~4)";

  // Split: sorted, disjoint, covering, sizes by fraction.
  std::vector<std::vector<std::uint64_t>> split;
  for (const char* name : {"train", "valid", "test"})
    split.push_back(ints_of(gunzip(dir + "/split/random/" + name + ".csv.gz")));
  EXPECT_EQ(split[0].size(), 12000u);
  EXPECT_EQ(split[1].size(), 4000u);
  EXPECT_EQ(split[2].size(), 4000u);
  std::vector<int> seen(n, 0);
  for (const auto& s : split) {
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    for (auto v : s) {
      ASSERT_LT(v, n);
      ++seen[v];
    }
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
}

TEST(GenerateSbm, DeterministicAcrossThreadCounts) {
  const std::string base = scratch_dir();
  fs::remove_all(base + "/t1");
  fs::remove_all(base + "/t3");
  fs::remove_all(base + "/s2");
  SbmOptions o = small_sbm(5, 1);
  o.num_features = 4;
  generate_sbm(o, base + "/t1");
  o.threads = 3;
  generate_sbm(o, base + "/t3");
  for (const char* f : kSbmFiles)
    EXPECT_TRUE(read_bytes(base + "/t1/" + f) == read_bytes(base + "/t3/" + f)) << f << " differs between 1 and 3 threads";
  o.seed = 6;
  generate_sbm(o, base + "/s2");
  EXPECT_FALSE(read_bytes(base + "/t1/raw/edge.csv.gz") == read_bytes(base + "/s2/raw/edge.csv.gz"));
  EXPECT_FALSE(read_bytes(base + "/t1/raw/node-feat.csv.gz") == read_bytes(base + "/s2/raw/node-feat.csv.gz"));
}

TEST(GenerateSbm, RefusesNonEmptyOutputAndBadOptions) {
  const std::string dir = scratch_dir() + "/busy";
  fs::remove_all(dir);
  fs::create_directories(dir);
  { std::ofstream(dir + "/keep.txt") << "mine\n"; }
  SbmOptions o = small_sbm(1, 2);
  o.num_nodes = 200;
  EXPECT_THROW(generate_sbm(o, dir), InputError);
  EXPECT_EQ(read_bytes(dir + "/keep.txt"), "mine\n");
  EXPECT_FALSE(fs::exists(dir + "/raw"));

  // An existing empty folder is fine (replaced).
  const std::string empty = scratch_dir() + "/empty";
  fs::remove_all(empty);
  fs::create_directories(empty);
  EXPECT_EQ(generate_sbm(o, empty + "/").num_nodes, 200u);
  EXPECT_TRUE(fs::exists(empty + "/raw/edge.csv.gz"));

  const std::string out = scratch_dir() + "/never";
  auto expect_bad = [&](SbmOptions b) { EXPECT_THROW(generate_sbm(b, out), std::invalid_argument); };
  SbmOptions b = o;
  b.num_classes = 0;
  expect_bad(b);
  b = o;
  b.num_classes = 101;  // fewer than 2 nodes per class
  expect_bad(b);
  b = o;
  b.intra_fraction = 1.5;
  expect_bad(b);
  b = o;
  b.num_features = -1;  // 0 is allowed: no features
  expect_bad(b);
  b = o;
  b.train_fraction = 0.9;
  b.valid_fraction = 0.2;
  expect_bad(b);
  b = o;
  b.avg_degree = -1;
  expect_bad(b);
  EXPECT_FALSE(fs::exists(out));
}

TEST(GenerateSbm, SingleClassAndNoEdges) {
  const std::string base = scratch_dir();
  fs::remove_all(base + "/one");
  fs::remove_all(base + "/none");
  SbmOptions o = small_sbm(3, 2);
  o.num_nodes = 500;
  o.num_classes = 1;
  o.intra_fraction = 0.0;  // ignored: there is no other block
  const SbmResult r = generate_sbm(o, base + "/one");
  EXPECT_EQ(read_edges(base + "/one").src.size(), r.num_edges);
  EXPECT_GT(r.num_edges, 0u);
  o.avg_degree = 0;
  const SbmResult z = generate_sbm(o, base + "/none");
  EXPECT_EQ(z.num_edges, 0u);
  EXPECT_EQ(gunzip(base + "/none/raw/edge.csv.gz"), "");
  EXPECT_EQ(read_edges(base + "/none").src.size(), 0u);
}

TEST(GenerateSbm, TrailingSlashesAndDotNameTheSameFolder) {
  // "DIR/", "DIR//" and "DIR/." name DIR: the temp folder DIR.tmp-PID is built beside it.
  const std::string base = scratch_dir() + "/sbmslash";
  fs::remove_all(base);
  SbmOptions o = small_sbm(5, 1);
  o.num_nodes = 300;
  o.num_classes = 3;
  generate_sbm(o, base + "/a/");
  generate_sbm(o, base + "/b//");
  generate_sbm(o, base + "/c/.");
  for (const char* name : {"b", "c"})
    EXPECT_EQ(read_bytes(base + "/" + name + "/raw/edge.csv.gz"), read_bytes(base + "/a/raw/edge.csv.gz")) << name;
  EXPECT_THROW(generate_sbm(o, base + "/a/."), InputError);  // not empty, however it is spelled
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(base)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"a", "b", "c"}));
  for (const auto& e : fs::directory_iterator(base + "/a")) EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos);
}

TEST(GenerateSbm, ZeroFeaturesWritesNoFeatureFile) {
  const std::string dir = scratch_dir() + "/sbm-nofeat";
  fs::remove_all(dir);
  SbmOptions o = small_sbm(4, 2);
  o.num_features = 0;
  const SbmResult r = generate_sbm(o, dir);
  EXPECT_FALSE(fs::exists(dir + "/raw/node-feat.csv.gz"));
  std::uint64_t total_bytes = 0;
  for (const char* f : kSbmFiles)
    if (std::string(f) != "raw/node-feat.csv.gz") total_bytes += fs::file_size(dir + "/" + f);
  EXPECT_EQ(r.bytes, total_bytes);
  const OgbNodeDataset ds = read_ogb_node_dataset(dir);
  EXPECT_EQ(ds.num_features, 0u);
  EXPECT_EQ(ds.labels.size(), o.num_nodes);
  // The graph, labels and split do not depend on the features (the gzip members do: block
  // sizes follow the row width).
  const std::string with = scratch_dir() + "/sbm-feat";
  fs::remove_all(with);
  o.num_features = 3;
  generate_sbm(o, with);
  for (const char* f : {"raw/edge.csv.gz", "raw/node-label.csv.gz", "split/random/train.csv.gz"})
    EXPECT_TRUE(gunzip(dir + "/" + f) == gunzip(with + "/" + f)) << f;
}

TEST(GenerateSbm, GraphOnlyBinaryHasTheFolderEdges) {
  const std::string dir = scratch_dir() + "/sbm-folder";
  const std::string bin = scratch_dir() + "/sbm-graph.bin";
  fs::remove_all(dir);
  SbmOptions o = small_sbm(9, 2);
  o.num_features = 2;
  const SbmResult folder = generate_sbm(o, dir);
  o.num_features = 0;
  std::uint64_t last_done = 0;
  const SbmResult r = generate_sbm_graph(o, bin, [&](std::uint64_t d, std::uint64_t t) {
    EXPECT_GE(d, last_done);
    EXPECT_EQ(t, o.num_nodes);
    last_done = d;
  });
  EXPECT_EQ(last_done, o.num_nodes);
  EXPECT_EQ(r.num_nodes, o.num_nodes);
  EXPECT_EQ(r.num_edges, folder.num_edges);
  EXPECT_EQ(r.bytes, 64u + 8u * r.num_edges);
  EXPECT_EQ(fs::file_size(bin), r.bytes);
  EXPECT_FALSE(fs::exists(temp_path_for(bin)));
  auto s = open_edge_stream(bin);
  EXPECT_EQ(s->info().format, GraphFormat::Binary);
  EXPECT_TRUE(s->info().each_edge_once);
  const Edges a = read_edges(dir), b = read_edges(bin);
  EXPECT_EQ(b.num_nodes, o.num_nodes);
  EXPECT_EQ(a.src, b.src);  // the same edges in the same order
  EXPECT_EQ(a.dst, b.dst);

  // Same bytes whatever the thread count; more than 256 classes (2-byte classes) works too.
  const std::string bin1 = scratch_dir() + "/sbm-graph-1.bin";
  o.threads = 1;
  generate_sbm_graph(o, bin1);
  EXPECT_TRUE(read_bytes(bin) == read_bytes(bin1));
  o.num_classes = 300;
  o.threads = 3;
  const SbmResult many = generate_sbm_graph(o, bin1);
  EXPECT_EQ(read_edges(bin1).src.size(), many.num_edges);
  // Features, separation and fractions are not used, so not checked.
  o.num_features = -5;
  o.train_fraction = 7;
  EXPECT_NO_THROW(generate_sbm_graph(o, bin1));
  o.num_classes = 0;
  EXPECT_THROW(generate_sbm_graph(o, bin1), std::invalid_argument);
}

// ---- Feistel permutation -------------------------------------------------------------------

TEST(FeistelPermutation, IsABijectionOnAnyRange) {
  for (std::uint64_t n : {1ull, 2ull, 3ull, 5ull, 16ull, 1000ull, 1024ull, 2048ull, 4103ull}) {
    const FeistelPermutation p(n, 42);
    std::vector<char> seen(n, 0);
    std::uint64_t fixed = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t y = p(i);
      ASSERT_LT(y, n) << "n " << n;
      ASSERT_FALSE(seen[y]) << "n " << n << ": " << y << " hit twice";
      seen[y] = 1;
      fixed += y == i;
    }
    if (n >= 1000) {
      EXPECT_LT(fixed, 10u) << "n " << n;  // about 1 expected for a random permutation
    }
  }
  // Another seed, another permutation.
  const FeistelPermutation a(1024, 1), b(1024, 2);
  int same = 0;
  for (std::uint64_t i = 0; i < 1024; ++i) same += a(i) == b(i);
  EXPECT_LT(same, 10);
}

// ---- Random geometric graph ----------------------------------------------------------------

namespace {

// The pairs of a binary edge list as written (no reader in between: self-loops show).
std::vector<std::pair<std::uint64_t, std::uint64_t>> raw_pairs(const std::string& path, std::uint64_t* num_nodes) {
  const std::string bytes = read_bytes(path);
  EXPECT_GE(bytes.size(), 64u);
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  auto le = [&](std::size_t at, int width) {
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | b[at + static_cast<std::size_t>(i)];
    return v;
  };
  const int w = static_cast<int>(le(12, 4));
  *num_nodes = le(16, 8);
  const std::uint64_t m = le(24, 8);
  EXPECT_EQ(le(32, 4) & 1u, 1u) << "each-edge-once flag";
  EXPECT_EQ(bytes.size(), 64u + m * 2 * static_cast<std::uint64_t>(w));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pairs;
  for (std::uint64_t e = 0; e < m; ++e)
    pairs.emplace_back(le(64 + 2 * w * e, w), le(64 + 2 * w * e + w, w));
  return pairs;
}

RggOptions small_rgg(int dim, int scale, bool permute, std::uint64_t seed, int threads) {
  RggOptions o;
  o.dim = dim;
  o.scale = scale;
  o.permute = permute;
  o.seed = seed;
  o.threads = threads;
  return o;
}

using EdgeSet = std::set<std::pair<std::uint64_t, std::uint64_t>>;

// All pairs of points within the radius, by brute force over the generator's own points,
// as (smaller id, larger id).
EdgeSet brute_force_rgg(const RggOptions& o) {
  const std::uint64_t n = std::uint64_t{1} << o.scale;
  const std::vector<double> xyz = rgg_points(o);
  EXPECT_EQ(xyz.size(), n * static_cast<std::uint64_t>(o.dim));
  for (double x : xyz) {
    EXPECT_GE(x, 0.0);
    EXPECT_LE(x, 1.0);
  }
  const double r = rgg_radius(o.dim, n);
  std::vector<std::uint64_t> id(n);
  for (std::uint64_t i = 0; i < n; ++i) id[i] = rgg_vertex_id(o, i);
  EdgeSet edges;
  for (std::uint64_t i = 0; i < n; ++i)
    for (std::uint64_t j = i + 1; j < n; ++j)
      if (rgg_within(&xyz[i * o.dim], &xyz[j * o.dim], o.dim, r * r))
        edges.insert(std::minmax(id[i], id[j]));
  return edges;
}

}  // namespace

class RggBruteForce : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(RggBruteForce, EdgesAreExactlyThePairsWithinTheRadius) {
  const auto [dim, permute] = GetParam();
  const RggOptions o = small_rgg(dim, 10, permute, 17, 2);
  const std::string out = scratch_dir() + "/rgg-bf.bin";
  const RggResult r = generate_rgg(o, out);
  EXPECT_EQ(r.num_nodes, 1024u);
  EXPECT_DOUBLE_EQ(r.radius, 0.55 * std::pow(std::log(1024.0) / 1024.0, 1.0 / dim));
  EXPECT_GE(1.0 / static_cast<double>(r.cells_per_dim), r.radius);
  EXPECT_FALSE(fs::exists(temp_path_for(out)));
  std::uint64_t n = 0;
  const auto pairs = raw_pairs(out, &n);
  EXPECT_EQ(n, 1024u);
  ASSERT_EQ(pairs.size(), r.num_edges);
  EdgeSet got;
  std::uint64_t last_src = 0;
  for (const auto& [u, v] : pairs) {
    ASSERT_LT(u, n);
    ASSERT_LT(v, n);
    ASSERT_NE(u, v) << "self-loop";
    ASSERT_TRUE(got.insert(std::minmax(u, v)).second) << "duplicate edge " << u << "-" << v;
    if (!permute) {  // grid order: (earlier point, later point), grouped by the earlier one
      EXPECT_LT(u, v);
      EXPECT_GE(u, last_src);
      last_src = u;
    }
  }
  const EdgeSet want = brute_force_rgg(o);
  EXPECT_GT(want.size(), 1000u);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "the edge set differs from the pairs within the radius";
}

INSTANTIATE_TEST_SUITE_P(DimAndPermute, RggBruteForce,
                         ::testing::Combine(::testing::Values(2, 3), ::testing::Bool()),
                         [](const auto& p) {
                           return "dim" + std::to_string(std::get<0>(p.param)) +
                                  (std::get<1>(p.param) ? "_permuted" : "_grid_order");
                         });

TEST(GenerateRgg, PermuteRelabelsTheSameGraph) {
  for (int dim : {2, 3}) {
    const std::string a = scratch_dir() + "/rgg-grid.bin", b = scratch_dir() + "/rgg-perm.bin";
    const RggOptions plain = small_rgg(dim, 12, false, 5, 2), perm = small_rgg(dim, 12, true, 5, 2);
    generate_rgg(plain, a);
    generate_rgg(perm, b);
    std::uint64_t n = 0;
    const auto pa = raw_pairs(a, &n), pb = raw_pairs(b, &n);
    ASSERT_EQ(pa.size(), pb.size());
    // Sorted degree sequences agree ...
    std::vector<std::uint64_t> da(n, 0), db(n, 0);
    for (const auto& [u, v] : pa) ++da[u], ++da[v];
    for (const auto& [u, v] : pb) ++db[u], ++db[v];
    EXPECT_NE(da, db) << "dim " << dim << ": the permutation changed no degree";
    std::sort(da.begin(), da.end());
    std::sort(db.begin(), db.end());
    EXPECT_EQ(da, db) << "dim " << dim;
    // ... and the permutation maps one edge list onto the other, pair by pair.
    for (std::size_t e = 0; e < pa.size(); ++e) {
      ASSERT_EQ(rgg_vertex_id(perm, pa[e].first), pb[e].first) << "dim " << dim << " edge " << e;
      ASSERT_EQ(rgg_vertex_id(perm, pa[e].second), pb[e].second) << "dim " << dim << " edge " << e;
    }
  }
}

TEST(GenerateRgg, DeterministicAcrossThreadCountsAndSeeded) {
  for (int dim : {2, 3}) {
    // Scale 18: several blocks of rows, so that threads really split the work.
    const std::string base = scratch_dir() + "/rgg-det-";
    std::uint64_t last_done = 0, last_total = 0;
    const RggResult r1 = generate_rgg(small_rgg(dim, 18, true, 3, 1), base + "1.bin", [&](std::uint64_t d, std::uint64_t t) {
      EXPECT_GE(d, last_done);
      last_done = d;
      last_total = t;
    });
    EXPECT_EQ(last_done, 1u << 18);
    EXPECT_EQ(last_total, 1u << 18);
    generate_rgg(small_rgg(dim, 18, true, 3, 2), base + "2.bin");
    generate_rgg(small_rgg(dim, 18, true, 3, 3), base + "3.bin");
    const std::string one = read_bytes(base + "1.bin");
    EXPECT_EQ(one.size(), r1.bytes);
    EXPECT_TRUE(one == read_bytes(base + "2.bin")) << "dim " << dim << ": 1 vs 2 threads";
    EXPECT_TRUE(one == read_bytes(base + "3.bin")) << "dim " << dim << ": 1 vs 3 threads";
    generate_rgg(small_rgg(dim, 18, true, 4, 2), base + "s.bin");
    EXPECT_FALSE(one == read_bytes(base + "s.bin")) << "dim " << dim << ": another seed, the same graph";
  }
}

TEST(GenerateRgg, PointsUniformAndDegreeAsExpected) {
  // n = 2^16 in the unit square: each quadrant holds Binomial(n, 1/4) points (sd ~111), and
  // the mean degree is about (n - 1) * pi * r^2 less what the boundary cuts off (a fraction
  // of about 8 r / (3 pi), 0.6 % at r = 0.0072).
  const RggOptions o = small_rgg(2, 16, false, 8, 2);
  const std::vector<double> xy = rgg_points(o);
  const std::uint64_t n = 1u << 16;
  std::uint64_t quad[4] = {0, 0, 0, 0};
  for (std::uint64_t i = 0; i < n; ++i) ++quad[(xy[2 * i] >= 0.5) + 2 * (xy[2 * i + 1] >= 0.5)];
  for (auto q : quad) EXPECT_NEAR(static_cast<double>(q), n / 4.0, 600.0);
  const std::string out = scratch_dir() + "/rgg-stat.bin";
  const RggResult r = generate_rgg(o, out);
  const double interior = static_cast<double>(n) * 3.141592653589793 * r.radius * r.radius;
  const double mean_degree = 2.0 * static_cast<double>(r.num_edges) / static_cast<double>(n);
  EXPECT_LT(mean_degree, interior);
  EXPECT_GT(mean_degree, 0.95 * interior);
  const Edges e = read_edges(out);  // the library's reader takes it as it is
  EXPECT_EQ(e.num_nodes, n);
  EXPECT_EQ(e.src.size(), r.num_edges);
  // 8-byte ids: the same edges.
  RggOptions wide = o;
  wide.id_bytes = 8;
  const std::string out8 = scratch_dir() + "/rgg-stat8.bin";
  generate_rgg(wide, out8);
  const Edges e8 = read_edges(out8);
  EXPECT_EQ(e8.src, e.src);
  EXPECT_EQ(e8.dst, e.dst);
}

TEST(GenerateRgg, RejectsBadOptions) {
  const std::string out = scratch_dir() + "/rgg-bad.bin";
  fs::remove(out);
  auto expect_bad = [&](RggOptions o) { EXPECT_THROW(generate_rgg(o, out), std::invalid_argument); };
  RggOptions o = small_rgg(2, 4, false, 1, 1);
  o.dim = 1;
  expect_bad(o);
  o.dim = 4;
  expect_bad(o);
  o = small_rgg(3, 0, false, 1, 1);
  expect_bad(o);
  o.scale = 32;
  expect_bad(o);
  o = small_rgg(2, 4, false, 1, 1);
  o.id_bytes = 2;
  expect_bad(o);
  o = small_rgg(2, 4, false, 1, 1);
  o.threads = -1;
  expect_bad(o);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(temp_path_for(out)));
  // The smallest graph: 2 points.
  o = small_rgg(3, 1, true, 1, 1);
  EXPECT_EQ(generate_rgg(o, out).num_nodes, 2u);
}
