// Reliability of every reader (issue #5, item 5): for each reader a small valid input is
// derived into an empty file, truncations, single-byte corruptions and header counts replaced
// by huge values. Every variant must give an InputError naming a file of the input, or a parse
// whose output is in range; never a crash, another exception type, or an allocation sized by
// an unchecked count (operator new below refuses single requests above 256 MiB while a reader
// runs, so such a bug shows up as std::bad_alloc instead of exhausting the machine). Formats
// with checksums (binary edge lists, shards, old_to_new.bin) must reject every corruption and
// truncation; "fixcrc" variants corrupt a byte and recompute the checksums to reach the
// checks behind them.
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <unistd.h>

#include "flotilla/datasets.h"
#include "flotilla/datasets/bytes.h"
#include "flotilla/datasets/ogb.h"
#include "flotilla/datasets/traffic.h"
#include "flotilla/partition.h"
#include "flotilla/sampler/shard_store.h"
#include "test_paths.h"

// ---- allocation guard ---------------------------------------------------------------------------
// GCC flags free() in a replaced operator delete as a mismatch with the replaced operator new
// (which calls malloc): both are ours, so the pair matches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<std::size_t> g_alloc_limit{0};     // 0 = no limit
std::atomic<std::size_t> g_refused_bytes{0};  // last refused request
std::atomic<bool> g_count_allocs{false};       // while set, g_allocated_bytes sums every request
std::atomic<std::size_t> g_allocated_bytes{0};

void* guarded_alloc(std::size_t n) {
  if (g_count_allocs.load(std::memory_order_relaxed)) g_allocated_bytes.fetch_add(n, std::memory_order_relaxed);
  const std::size_t limit = g_alloc_limit.load(std::memory_order_relaxed);
  if (limit && n > limit) {
    g_refused_bytes.store(n, std::memory_order_relaxed);
    return nullptr;
  }
  return std::malloc(n ? n : 1);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = guarded_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = guarded_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return guarded_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return guarded_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace flotilla;
using flotilla::test::scratch_dir;
using flotilla::test::test_data;

namespace {

constexpr std::size_t kAllocLimit = std::size_t{256} << 20;
constexpr std::uint64_t kHuge40 = std::uint64_t{1} << 40;

// ---- crash reporting: name the variant that was running ----------------------------------------
char g_current[512] = "";
extern "C" void on_fatal_signal(int sig) {
  const char msg[] = "\n*** reader crashed on variant: ";
  (void)!::write(2, msg, sizeof msg - 1);
  (void)!::write(2, g_current, std::strlen(g_current));
  (void)!::write(2, "\n", 1);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}
void set_current(const std::string& s) {
  std::snprintf(g_current, sizeof g_current, "%s", s.c_str());
}

// ---- bytes helpers -------------------------------------------------------------------------------
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
// Unlinks and recreates rather than truncating: ext4 flushes a file truncated and rewritten
// (auto_da_alloc), which would make each of the thousands of variants wait for the disk.
void put_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  ::unlink(path.c_str());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}
std::string gzip(const std::string& text) {
  uLongf cap = compressBound(static_cast<uLong>(text.size())) + 64;
  std::string out(cap, '\0');
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}
std::uint32_t crc(const std::string& b, std::size_t from, std::size_t to) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(b.data() + from), static_cast<uInt>(to - from)));
}
template <typename T>
void set_le(std::string& b, std::size_t at, T v) {
  put_le<T>(reinterpret_cast<unsigned char*>(&b[at]), v);
}
std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "fixture lacks '" << from << "'";
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// ---- fixtures --------------------------------------------------------------------------------------
// A file of the input that is mutated. `fix` recomputes its checksums (for "fixcrc" variants
// and count fields); `counts` are variants with header counts replaced by huge values.
struct MutableFile {
  std::string rel;                  // path relative to the fixture root ("" = the root is this file)
  bool checksummed = false;         // every corruption/truncation must be rejected
  std::function<void(std::string&)> fix;
  std::vector<std::pair<std::string, std::string>> counts;  // (label, whole new content)
};

struct Fixture {
  std::string root;    // what the reader is given (file or folder)
  std::string dir;     // folder holding the files
  std::vector<MutableFile> files;
};

struct ReaderCase {
  std::string name;
  std::function<Fixture(const std::string& dir)> make;
  std::function<void(const std::string& root)> read;  // reads everything; throws InputError on bad input
  bool empty_is_a_graph = false;  // an empty file reads as a graph with no nodes
};

// Reads a graph stream to the end (chunks of 7 edges), checks ids against num_nodes and, when
// the graph is small, builds the CSR as `flotilla info` does.
void drain_stream(const std::string& path, GraphFormat fmt) {
  EdgeStreamOptions o;
  o.format = fmt;
  auto s = open_edge_stream(path, o);
  const std::uint64_t n = s->info().num_nodes;
  ASSERT_LT(n, kMaxVertices + 1) << path;
  EdgeChunk c;
  std::uint64_t edges = 0;
  while (s->next_chunk(c, 7)) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      ASSERT_LT(c.src[i], n) << path;
      ASSERT_LT(c.dst[i], n) << path;
      ASSERT_NE(c.src[i], c.dst[i]) << path << ": self-loop yielded";
    }
    if (!c.weight.empty()) {
      ASSERT_EQ(c.weight.size(), c.size());
    }
    edges += c.size();
  }
  if (n <= (1u << 20)) {
    const CsrGraph g = build_csr(*s);
    ASSERT_EQ(g.num_nodes(), n);
  }
  (void)edges;
}

std::string bin_edges_file(const std::string& path, std::uint32_t id_bytes) {
  BinaryEdgeWriter w(path, 7, id_bytes, true);
  for (auto [u, v] : std::vector<std::pair<int, int>>{{0, 1}, {1, 2}, {2, 3}, {3, 0}, {4, 5}, {5, 6}, {6, 6}}) w.append(u, v);
  w.finish();
  return path;
}

void fix_binary_edges(std::string& b) {
  if (b.size() < 64) return;
  set_le<std::uint32_t>(b, 36, crc(b, 64, b.size()));
  set_le<std::uint32_t>(b, 60, crc(b, 0, 60));
}

void fix_shard(std::string& b) {
  if (b.size() < ShardHeader::kSize) return;
  set_le<std::uint32_t>(b, 72, crc(b, ShardHeader::kSize, b.size()));
  set_le<std::uint32_t>(b, 124, crc(b, 0, 124));
}

// Variants of a binary header with one count replaced (checksums recomputed).
template <typename T>
void add_binary_counts(MutableFile& f, const std::string& original, std::size_t offset, const char* field,
                       std::vector<std::uint64_t> values) {
  for (std::uint64_t v : values) {
    std::string b = original;
    set_le<T>(b, offset, static_cast<T>(v));
    f.fix(b);
    f.counts.emplace_back(std::string(field) + "=" + std::to_string(static_cast<T>(v)), b);
  }
}

const std::string kOgbEdges = "0,1\n1,2\n2,3\n3,4\n4,5\n5,0\n1,4\n";
const std::string kOgbFeat = "0.5,1,-1\n1.5,2,0\n-2,0.25,1e3\n3,3,3\n0,0,0\n1,-1,1\n";
const std::string kOgbLabels = "0\n1\n2\n-1\n1\n0\n";

// OGB raw folder; `gz` writes edge.csv and node-feat.csv compressed.
Fixture ogb_fixture(const std::string& dir, bool gz) {
  Fixture fx{dir, dir, {}};
  auto put = [&](const std::string& rel, const std::string& text, bool compress) {
    put_bytes(dir + "/" + rel + (compress ? ".gz" : ""), compress ? gzip(text) : text);
    MutableFile f{rel + (compress ? ".gz" : ""), false, nullptr, {}};
    fx.files.push_back(f);
    return &fx.files.back();
  };
  MutableFile* nodes = put("raw/num-node-list.csv", "6\n", false);
  nodes->counts = {{"n=2^40", std::to_string(kHuge40) + "\n"},
                   {"n=2^32-2", "4294967294\n"},
                   {"n=2^64-1", "18446744073709551615\n"},
                   {"n=2^64", "18446744073709551616\n"}};
  MutableFile* edges_count = put("raw/num-edge-list.csv", "7\n", false);
  edges_count->counts = {{"m=2^40", std::to_string(kHuge40) + "\n"}};
  MutableFile* edges = put("raw/edge.csv", kOgbEdges, gz);
  if (!gz) edges->counts = {{"id=2^40", replaced(kOgbEdges, "3,4", "3," + std::to_string(kHuge40))}};
  put("raw/node-feat.csv", kOgbFeat, gz);
  MutableFile* labels = put("raw/node-label.csv", kOgbLabels, false);
  labels->counts = {{"label=2^40", replaced(kOgbLabels, "2\n", std::to_string(kHuge40) + "\n")},
                    {"label=1e300", replaced(kOgbLabels, "2\n", "1e300\n")}};
  MutableFile* train = put("split/s/train.csv", "0\n1\n2\n", false);
  train->counts = {{"id=2^40", "0\n" + std::to_string(kHuge40) + "\n"}};
  put("split/s/valid.csv", "3\n", false);
  put("split/s/test.csv", "4\n5\n", false);
  return fx;
}

void read_ogb_everything(const std::string& dir) {
  const OgbNodeDataset ds = read_ogb_node_dataset(dir);
  ASSERT_EQ(ds.labels.size(), ds.num_nodes);
  ASSERT_EQ(ds.features.size(), ds.num_nodes * ds.num_features);
  for (VertexId v : ds.split.train) ASSERT_LT(v, ds.num_nodes);
  const OgbInfo info = describe_ogb(dir);
  ASSERT_EQ(info.num_nodes, ds.num_nodes);
  drain_stream(dir, GraphFormat::Ogb);
}

const std::string kSensors = "index,sensor_id,latitude,longitude\n0,400001,34.1,-118.2\n1,400002,34.2,-118.3\n"
                             "2,400003,34.3,-118.4\n";
const std::string kSpeed = "timestamp,400001,400002,400003\n2012-03-01 00:00:00,64.5,60,0\n"
                           "2012-03-01 00:05:00,63,61.25,55\n2012-03-01 00:10:00,62,58,57\n";
const std::string kDistances = "from,to,distance\n400001,400002,1200.5\n400002,400001,1300\n400002,400003,900\n"
                               "400003,400002,950\n400001,400001,0\n400009,400001,10\n";
const std::string kAdj = "from,to,weight\n400001,400002,0.5\n400002,400001,0.75\n400002,400003,1\n400003,400001,0.25\n";

Fixture traffic_csv_fixture(const std::string& dir) {
  Fixture fx{dir, dir, {}};
  put_bytes(dir + "/sensors.csv", kSensors);
  put_bytes(dir + "/speed.csv", kSpeed);
  put_bytes(dir + "/distances.csv", kDistances);
  fx.files.push_back({"sensors.csv", false, nullptr, {{"index=2^40", replaced(kSensors, "\n2,", "\n" + std::to_string(kHuge40) + ",")}}});
  fx.files.push_back({"speed.csv", false, nullptr, {}});
  fx.files.push_back({"distances.csv", false, nullptr, {}});
  return fx;
}

Fixture traffic_npy_fixture(const std::string& dir) {
  Fixture fx{dir, dir, {}};
  put_bytes(dir + "/sensors.csv", kSensors);
  put_bytes(dir + "/adj.csv.gz", gzip(kAdj));
  const std::vector<std::uint64_t> shape = {4, 3, 2};
  std::vector<float> data(24);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i) * 0.5f + 1;
  write_npy(dir + "/signal.npy", shape, data);
  const std::string payload = read_bytes(dir + "/signal.npy").substr(encode_npy_header(NpyType::Float32, shape).size());
  MutableFile sig{"signal.npy", false, nullptr, {}};
  for (const auto& s : std::vector<std::vector<std::uint64_t>>{{kHuge40, 3, 2}, {4, 3, kHuge40}, {1, 3, std::uint64_t{1} << 62}, {0, 3, std::uint64_t{1} << 62}})
    sig.counts.emplace_back("shape=" + npy_shape_string(s), encode_npy_header(NpyType::Float32, s) + payload);
  fx.files.push_back({"sensors.csv", false, nullptr, {}});
  fx.files.push_back({"adj.csv.gz", false, nullptr, {}});
  fx.files.push_back(sig);
  return fx;
}

void read_traffic_everything(const std::string& dir) {
  const TrafficData t = read_traffic(dir);
  ASSERT_EQ(t.signal.size(), t.num_steps * t.num_sensors * t.num_features);
  for (std::size_t i = 0; i < t.graph.src.size(); ++i) {
    ASSERT_LT(t.graph.src[i], t.num_sensors);
    ASSERT_LT(t.graph.dst[i], t.num_sensors);
  }
  const TrafficInfo info = describe_traffic(dir);
  ASSERT_EQ(info.num_sensors, t.num_sensors);
  (void)read_traffic_graph(dir);
  drain_stream(dir, GraphFormat::Traffic);
}

// Shards of a 6-node OGB graph (features, labels, split) or of a weighted edge list.
Fixture shard_fixture(const std::string& dir, bool weighted) {
  const std::string src = dir + "-input";
  std::filesystem::remove_all(src);
  std::string input;
  ShardNodeData nd;
  if (weighted) {
    input = src + "/g.txt";
    put_bytes(input, "0 1 1.5\n1 2 2\n2 3 0.5\n3 4 1\n4 0 3\n1 3 2.5\n5 1 1\n");
  } else {
    ogb_fixture(src, false);
    input = src;
    const OgbNodeDataset ds = read_ogb_node_dataset(src);
    nd.labels = ds.labels;
    nd.split.assign(ds.num_nodes, 0);
    for (VertexId v : ds.split.train) nd.split[v] = 1;
    for (VertexId v : ds.split.valid) nd.split[v] = 2;
    for (VertexId v : ds.split.test) nd.split[v] = 3;
    nd.feature_file = src + "/raw/node-feat.csv";
    nd.feature_dim = ds.num_features;
  }
  auto stream = open_edge_stream(input);
  const std::vector<PartId> part = {0, 1, 1, 0, 1, 0};
  std::filesystem::create_directories(dir);
  write_shards(*stream, part, 2, nd, dir);
  Fixture fx{dir, dir, {}};
  for (const char* name : {"part-0.shard", "part-1.shard", "old_to_new.bin"}) {
    MutableFile f{name, true, fix_shard, {}};
    const std::string b = read_bytes(dir + "/" + name);
    add_binary_counts<std::uint32_t>(f, b, 12, "part", {1, 7, 0xffffffffu});
    add_binary_counts<std::uint32_t>(f, b, 16, "num_parts", {0, 1, 0xffffffffu});
    add_binary_counts<std::uint32_t>(f, b, 20, "flags", {0, 15, 16});
    add_binary_counts<std::uint64_t>(f, b, 24, "num_nodes", {0, 5, 4294967294ull, kHuge40, ~0ull});
    add_binary_counts<std::uint64_t>(f, b, 32, "begin", {1, 6, kHuge40, ~0ull});
    add_binary_counts<std::uint64_t>(f, b, 40, "end", {0, 7, kHuge40, ~0ull});
    add_binary_counts<std::uint64_t>(f, b, 48, "num_arcs", {0, 1, kHuge40, ~0ull, ~0ull / 4 + 1});
    add_binary_counts<std::uint64_t>(f, b, 56, "num_halo", {0, kHuge40, ~0ull, ~0ull / 4 + 1});
    add_binary_counts<std::uint64_t>(f, b, 64, "feature_dim", {0, 1, kHuge40, ~0ull, ~0ull / 4 + 1});
    fx.files.push_back(f);
  }
  return fx;
}

void check_shard(const Shard& s) {
  const ShardHeader& h = s.header;
  ASSERT_LE(h.begin, h.end);
  ASSERT_LE(h.end, h.num_nodes);
  ASSERT_EQ(s.offsets.size(), h.owned() + 1);
  ASSERT_EQ(s.offsets.back(), s.targets.size());
  for (std::size_t i = 0; i + 1 < s.offsets.size(); ++i) ASSERT_LE(s.offsets[i], s.offsets[i + 1]);
  for (VertexId t : s.targets) ASSERT_LT(t, h.num_nodes);
  for (std::int64_t l : s.labels) {
    ASSERT_GE(l, -1);
    ASSERT_LT(l, std::int64_t{1} << 31);
  }
  for (std::uint8_t c : s.split) ASSERT_LE(c, 3);
  ASSERT_EQ(s.features.size(), (h.flags & ShardHeader::kFeatures) ? h.owned() * h.feature_dim : 0);
}

void read_shards_everything(const std::string& dir) {
  const ShardSetInfo info = read_shard_set_info(dir);
  std::vector<std::uint32_t> parts;
  for (std::uint32_t p = 0; p < info.num_parts; ++p) {
    parts.push_back(p);
    const std::string path = dir + "/part-" + std::to_string(p) + ".shard";
    (void)read_shard_header(path);
    check_shard(read_shard(path));
  }
  const ShardStore store(dir, parts);
  ASSERT_GE(store.num_classes(), 0);
  const std::vector<VertexId> o2n = read_old_to_new(dir + "/old_to_new.bin");
  ASSERT_EQ(o2n.size(), info.num_nodes);
}

std::vector<ReaderCase> reader_cases() {
  std::vector<ReaderCase> cases;
  auto single = [](const std::string& name, const std::string& content, std::function<void(MutableFile&, const std::string&)> counts = nullptr) {
    return [name, content, counts](const std::string& dir) {
      const std::string path = dir + "/" + name;
      put_bytes(path, content);
      MutableFile f{"", false, nullptr, {}};
      if (counts) counts(f, content);
      return Fixture{path, dir, {f}};
    };
  };
  const std::string edgelist = "# a comment\nsrc,dst,weight\n0,1,1.5\n1 2 2\n2\t3 0.5\n10 3 1\n7,7,1\n";
  cases.push_back({"edgelist", single("g.csv", edgelist), [](const std::string& p) { drain_stream(p, GraphFormat::EdgeList); }, true});
  const std::string fl = "# flotilla edge list: 6 nodes, from x\n0 1\n1 2\n2 3\n4 5\n";
  cases.push_back({"edgelist_flotilla_header",
                   single("g.txt", fl, [](MutableFile& f, const std::string& c) {
                     f.counts = {{"n=2^40", replaced(c, "6 nodes", std::to_string(kHuge40) + " nodes")},
                                 {"n=2^32-2", replaced(c, "6 nodes", "4294967294 nodes")},
                                 {"id=2^64-1", replaced(c, "4 5", "4 18446744073709551615")},
                                 {"id=2^64", replaced(c, "4 5", "4 18446744073709551616")}};
                   }),
                   [](const std::string& p) { drain_stream(p, GraphFormat::EdgeList); }, true});
  cases.push_back({"edgelist_gz", single("g.txt.gz", gzip(edgelist)), [](const std::string& p) { drain_stream(p, GraphFormat::EdgeList); }, true});
  const std::string metis = "% comment\n5 5 1\n2 1 3 2\n1 1 3 1\n1 2 2 1 4 3\n3 3 5 1\n4 1\n";
  auto metis_counts = [](MutableFile& f, const std::string& c) {
    f.counts = {{"n=2^40", replaced(c, "5 5 1", std::to_string(kHuge40) + " 5 1")},
                {"n=2^32-2", replaced(c, "5 5 1", "4294967294 5 1")},
                {"n=100000", replaced(c, "5 5 1", "100000 5 1")},
                {"m=2^40", replaced(c, "5 5 1", "5 " + std::to_string(kHuge40) + " 1")},
                {"m=2^64-1", replaced(c, "5 5 1", "5 18446744073709551615 1")},
                {"ncon=2^40", replaced(c, "5 5 1", "5 5 11 " + std::to_string(kHuge40))},
                {"neighbour=2^40", replaced(c, "4 1\n", std::to_string(kHuge40) + " 1\n")}};
  };
  cases.push_back({"metis_stream", single("g.graph", metis, metis_counts), [](const std::string& p) { drain_stream(p, GraphFormat::Metis); }});
  cases.push_back({"metis_whole", single("g.graph", metis, metis_counts), [](const std::string& p) {
                     const MetisGraph g = read_metis(p);
                     ASSERT_EQ(g.vertex_weights.size(), g.graph.num_nodes() * static_cast<std::uint64_t>(g.ncon));
                   }});
  // read_metis_vertex_weights on fmt 111 (size, two weights, then neighbour/edge-weight pairs):
  // whatever it accepts is n * ncon weights, and the same as read_metis's where that accepts too.
  const std::string metis_vw = "% comment\n5 5 111 2\n1 4 0 2 1 3 2\n2 5 1 1 1 3 1\n1 6 2 1 2 2 1 4 3\n3 7 3 3 3 5 1\n1 8 4 4 1\n";
  auto metis_vw_counts = [](MutableFile& f, const std::string& c) {
    f.counts = {{"n=2^40", replaced(c, "5 5 111 2", std::to_string(kHuge40) + " 5 111 2")},
                {"n=2^32-2", replaced(c, "5 5 111 2", "4294967294 5 111 2")},
                {"n=100000", replaced(c, "5 5 111 2", "100000 5 111 2")},
                {"n=12", replaced(c, "5 5 111 2", "12 5 111 2")},
                {"ncon=2^40", replaced(c, "5 5 111 2", "5 5 111 " + std::to_string(kHuge40))},
                {"ncon=64", replaced(c, "5 5 111 2", "5 5 111 64")},
                {"weight=2^32", replaced(c, "1 8 4 4 1", "1 4294967296 4 4 1")},
                {"weight=2^63", replaced(c, "1 8 4 4 1", "1 9223372036854775808 4 4 1")},
                {"weight=2^64", replaced(c, "1 8 4 4 1", "1 18446744073709551616 4 4 1")},
                {"size=2^64", replaced(c, "1 8 4 4 1", "18446744073709551616 8 4 4 1")}};
  };
  auto read_vertex_weights = [](const std::string& p) {
    const VertexWeights vw = read_metis_vertex_weights(p);
    ASSERT_LE(vw.ncon, 64u);
    if (vw.ncon == 0) {
      ASSERT_TRUE(vw.w.empty());
    }  // (n = 0 with fmt 10: ncon = 1, no weights)
    if (vw.ncon == 0) return;
    ASSERT_EQ(vw.w.size() % vw.ncon, 0u);
    MetisGraph g;
    try {
      g = read_metis(p);
    } catch (const InputError&) {
      return;  // e.g. a corrupt adjacency list, which read_metis_vertex_weights does not parse
    }
    ASSERT_EQ(static_cast<std::uint32_t>(g.ncon), vw.ncon);
    ASSERT_EQ(vw.w.size(), g.graph.num_nodes() * static_cast<std::uint64_t>(vw.ncon));
    for (std::size_t i = 0; i < vw.w.size(); ++i) ASSERT_EQ(static_cast<std::int64_t>(vw.w[i]), g.vertex_weights[i]);
  };
  cases.push_back({"metis_vertex_weights", single("g.graph", metis_vw, metis_vw_counts), read_vertex_weights});
  cases.push_back({"metis_vertex_weights_gz", single("g.graph.gz", gzip(metis_vw)), read_vertex_weights});
  for (std::uint32_t w : {4u, 8u}) {
    cases.push_back({"binary_edges_" + std::to_string(w),
                     [w](const std::string& dir) {
                       const std::string path = bin_edges_file(dir + "/g.bin", w);
                       MutableFile f{"", true, fix_binary_edges, {}};
                       const std::string b = read_bytes(path);
                       add_binary_counts<std::uint64_t>(f, b, 16, "num_nodes", {0, 3, 4294967294ull, 4294967295ull, kHuge40, ~0ull});
                       add_binary_counts<std::uint64_t>(f, b, 24, "num_edges", {0, 5, 1000, kHuge40, ~0ull / 8 + 1, ~0ull});
                       add_binary_counts<std::uint32_t>(f, b, 12, "id_bytes", {0, 2, 16, 0xffffffffu});
                       return Fixture{path, dir, {f}};
                     },
                     [](const std::string& p) { drain_stream(p, GraphFormat::Binary); }});
  }
  {
    std::string raw;
    for (std::uint32_t v : {0u, 1u, 1u, 2u, 2u, 5u, 5u, 5u}) raw.append(reinterpret_cast<const char*>(&v), 4);
    cases.push_back({"bin32", single("g.bin32", raw), [](const std::string& p) { drain_stream(p, GraphFormat::RawBin32); }, true});
    std::string raw64;
    for (std::uint64_t v : {0ull, 1ull, 1ull, 2ull, 2ull, 5ull}) raw64.append(reinterpret_cast<const char*>(&v), 8);
    cases.push_back({"bin64", single("g.bin64", raw64), [](const std::string& p) { drain_stream(p, GraphFormat::RawBin64); }, true});
  }
  auto npy_counts = [](NpyType t, std::vector<std::vector<std::uint64_t>> shapes) {
    return [t, shapes](MutableFile& f, const std::string& c) {
      // Re-encode the header with another shape; the data stays.
      const std::size_t hlen = 10 + (static_cast<unsigned char>(c[8]) | static_cast<unsigned char>(c[9]) << 8);
      for (const auto& s : shapes)
        f.counts.emplace_back("shape=" + npy_shape_string(s), encode_npy_header(t, s) + c.substr(hlen));
    };
  };
  const std::uint64_t big = std::uint64_t{1} << 62;
  cases.push_back({"npy_edges_rows",
                   single("e.npy", read_bytes(test_data("npy/i4_edges_5x2.npy")),
                          npy_counts(NpyType::Int32, {{kHuge40, 2}, {big, 2}, {2, kHuge40}, {0, 2}, {~0ull, 2}})),
                   [](const std::string& p) { drain_stream(p, GraphFormat::Npy); }});
  cases.push_back({"npy_edge_index",
                   single("e.npy", read_bytes(test_data("npy/i8_edge_index_2x5.npy")),
                          npy_counts(NpyType::Int64, {{2, kHuge40}, {2, big}, {kHuge40, 2}, {2, 0}})),
                   [](const std::string& p) { drain_stream(p, GraphFormat::Npy); }});
  auto npy_whole = [](const std::string& p) {
    const NpyArray a = read_npy(p);
    ASSERT_EQ(a.to_float().size(), a.size());
    NpyRowReader r(p);
    std::vector<unsigned char> row(static_cast<std::size_t>(r.row_bytes()));
    std::vector<float> rowf(static_cast<std::size_t>(r.row_elements()));
    while (r.read_rows(row.data(), 1) == 1) {
    }
    r.seek_row(0);
    while (r.read_rows_float(rowf.data(), 1) == 1) {
    }
    (void)read_npy_header(p);
  };
  cases.push_back({"npy_f4",
                   single("a.npy", read_bytes(test_data("npy/f4_2x3.npy")),
                          npy_counts(NpyType::Float32, {{kHuge40, 3}, {2, kHuge40}, {big, big}, {0, big}, {3, 2}})),
                   npy_whole});
  cases.push_back({"npy_f8_v2", single("a.npy", read_bytes(test_data("npy/f8_v2_3x1.npy"))), npy_whole});
  cases.push_back({"ogb", [](const std::string& dir) { return ogb_fixture(dir, false); }, read_ogb_everything});
  cases.push_back({"ogb_gz", [](const std::string& dir) { return ogb_fixture(dir, true); }, read_ogb_everything});
  cases.push_back({"traffic_speed_distances", traffic_csv_fixture, read_traffic_everything});
  cases.push_back({"traffic_signal_adj", traffic_npy_fixture, read_traffic_everything});
  cases.push_back({"shards_ogb", [](const std::string& dir) { return shard_fixture(dir, false); }, read_shards_everything});
  cases.push_back({"shards_weighted", [](const std::string& dir) { return shard_fixture(dir, true); }, read_shards_everything});
  const std::string part = "0\n1\n1\n0\n2\n";
  auto part_counts = [](MutableFile& f, const std::string& c) {
    f.counts = {{"id=2^40", replaced(c, "2\n", std::to_string(kHuge40) + "\n")},
                {"id=2^32-1", replaced(c, "2\n", "4294967295\n")},
                {"id=2^64", replaced(c, "2\n", "18446744073709551616\n")}};
  };
  cases.push_back({"part_file", single("g.part.3", part, part_counts), [](const std::string& p) {
                     std::uint32_t k = 0;
                     const std::vector<PartId> a = read_part_file(p, 5, &k);
                     ASSERT_EQ(a.size(), 5u);
                     for (PartId x : a) ASSERT_LT(x, k);
                     std::uint32_t k3 = 3;
                     (void)read_part_file(p, 5, &k3);
                   }});
  return cases;
}

// Offsets to cut or corrupt at: every `step`-th byte of small files, about `samples` spread
// over larger ones, plus every byte of a binary header.
std::vector<std::size_t> offsets(std::size_t size, std::size_t step, std::size_t samples, std::size_t header) {
  std::vector<std::size_t> out;
  if (size == 0) return out;
  const std::size_t stride = size <= samples * step ? step : size / samples;
  for (std::size_t i = 0; i < size; i += stride) out.push_back(i);
  for (std::size_t i = 0; i < std::min(header, size); ++i) out.push_back(i);
  out.push_back(size - 1);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void PrintTo(const ReaderCase& c, std::ostream* os) { *os << c.name; }

class ReaderReliability : public ::testing::TestWithParam<ReaderCase> {};

TEST_P(ReaderReliability, BadInputGivesInputErrorNamingTheFile) {
  std::signal(SIGSEGV, on_fatal_signal);
  std::signal(SIGABRT, on_fatal_signal);
  std::signal(SIGBUS, on_fatal_signal);
  std::signal(SIGFPE, on_fatal_signal);
  const ReaderCase& rc = GetParam();
  const std::string dir = scratch_dir() + "/in";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const Fixture fx = rc.make(dir);
  // The valid input reads.
  set_current(rc.name + ": original");
  ASSERT_NO_THROW(rc.read(fx.root)) << rc.name << ": the valid fixture must read";

  std::uint64_t variants = 0, rejected = 0;
  for (const MutableFile& f : fx.files) {
    const std::string path = f.rel.empty() ? fx.root : fx.dir + "/" + f.rel;
    const std::string original = read_bytes(path);
    const bool binary = f.checksummed || original.compare(0, 6, "\x93NUMPY") == 0 ||
                        (f.rel.size() > 3 && f.rel.substr(f.rel.size() - 3) == ".gz");
    std::vector<std::pair<std::string, std::string>> vars;  // (label, bytes)
    vars.emplace_back("empty", "");
    for (std::size_t cut : offsets(original.size(), 7, 160, binary ? 128 : 0)) vars.emplace_back("truncated at " + std::to_string(cut), original.substr(0, cut));
    static const unsigned char kValues[] = {0x00, 0xff, '9', '-', '\n', ',', ' ', 'a', '.', 0x80, '0', '#'};
    std::size_t which = 0;
    for (std::size_t at : offsets(original.size(), 1, 400, binary ? 128 : 0)) {
      for (int round = 0; round < 2; ++round) {
        std::string b = original;
        b[at] = round == 0 ? static_cast<char>(kValues[which++ % sizeof kValues]) : static_cast<char>(b[at] ^ 0x01);
        if (b == original) continue;
        vars.emplace_back("byte " + std::to_string(at) + " := " + std::to_string(static_cast<unsigned char>(b[at])), b);
        if (f.fix) {
          f.fix(b);
          vars.emplace_back("fixcrc byte " + std::to_string(at) + " := " + std::to_string(static_cast<unsigned char>(b[at])), b);
        }
      }
    }
    for (const auto& c : f.counts) vars.emplace_back("count " + c.first, c.second);

    for (const auto& [label, bytes] : vars) {
      const std::string what = rc.name + ": " + (f.rel.empty() ? std::string("file") : f.rel) + ": " + label;
      set_current(what);
      put_bytes(path, bytes);
      ++variants;
      bool threw = false;
      g_alloc_limit = kAllocLimit;
      try {
        rc.read(fx.root);
      } catch (const InputError& e) {
        threw = true;
        g_alloc_limit = 0;
        const std::string msg = e.what();
        EXPECT_EQ(e.file().rfind(fx.dir, 0), 0u) << what << ": the error names no file of the input: " << msg;
        EXPECT_NE(msg.find(e.file()), std::string::npos) << what << ": " << msg;
      } catch (const std::bad_alloc&) {
        threw = true;
        g_alloc_limit = 0;
        ADD_FAILURE() << what << ": allocation of " << g_refused_bytes.load() << " bytes (sized by an unchecked count?)";
      } catch (const std::exception& e) {
        threw = true;
        g_alloc_limit = 0;
        ADD_FAILURE() << what << ": expected InputError, got another exception: " << e.what();
      }
      g_alloc_limit = 0;
      if (threw) ++rejected;
      const bool fixed = label.rfind("fixcrc", 0) == 0 || label.rfind("count", 0) == 0;
      if (f.checksummed && !fixed && bytes != original) {
        EXPECT_TRUE(threw) << what << ": a corrupt or truncated checksummed file was accepted";
      }
      // An empty edge list or raw pair file is a graph without nodes (datasets_graph_test);
      // every other single-file format needs a header.
      if (label == "empty" && f.rel.empty() && !rc.empty_is_a_graph) {
        EXPECT_TRUE(threw) << what << ": an empty input was accepted";
      }
      if (HasFatalFailure()) {
        put_bytes(path, original);
        return;
      }
    }
    put_bytes(path, original);
  }
  set_current(rc.name + ": restored");
  ASSERT_NO_THROW(rc.read(fx.root));
  RecordProperty("variants", static_cast<int>(variants));
  RecordProperty("rejected", static_cast<int>(rejected));
}

INSTANTIATE_TEST_SUITE_P(Readers, ReaderReliability, ::testing::ValuesIn(reader_cases()),
                         [](const ::testing::TestParamInfo<ReaderCase>& p) { return p.param.name; });

// The guard itself: a request above the limit fails while it is armed, and only then.
TEST(ReaderReliability, AllocationGuardRefusesOversizedRequests) {
  // Direct calls of the replaceable operator new (unlike new-expressions, never elided).
  void* p = nullptr;
  g_alloc_limit = kAllocLimit;
  EXPECT_THROW(p = ::operator new(kAllocLimit + 1), std::bad_alloc);
  EXPECT_EQ(p, nullptr);
  g_alloc_limit = 0;
  EXPECT_NO_THROW(p = ::operator new(kAllocLimit + 1));  // not touched: no memory used
  ::operator delete(p);
}

// read_shard and read_old_to_new hold a file's bytes once: straight into their arrays,
// never the whole file in a buffer and then a copy (which peaked at twice the shard).
TEST(ReaderReliability, ShardReadersAllocateTheFileOnce) {
  const std::string cora = flotilla::test::shared_data("nodeclass/cora");
  const OgbNodeDataset ds = read_ogb_node_dataset(cora);
  ShardNodeData nd;
  nd.feature_file = cora + "/raw/node-feat.csv.gz";
  nd.feature_dim = ds.num_features;
  nd.labels = ds.labels;
  nd.split.assign(ds.num_nodes, 1);
  std::vector<PartId> part(ds.num_nodes);
  for (std::size_t v = 0; v < part.size(); ++v) part[v] = static_cast<PartId>(v % 2);
  const std::string dir = scratch_dir() + "/cora-shards";
  std::filesystem::create_directories(dir);
  auto stream = open_edge_stream(cora);
  write_shards(*stream, part, 2, nd, dir);
  auto allocated_by = [](auto&& read) {
    g_allocated_bytes = 0;
    g_count_allocs = true;
    read();
    g_count_allocs = false;
    return static_cast<std::uint64_t>(g_allocated_bytes.load());
  };
  for (const std::string name : {"part-0.shard", "part-1.shard", "old_to_new.bin"}) {
    const std::string path = dir + "/" + name;
    const std::uint64_t size = std::filesystem::file_size(path);
    const std::uint64_t bytes = name == "old_to_new.bin" ? allocated_by([&] { (void)read_old_to_new(path); })
                                                         : allocated_by([&] { (void)read_shard(path); });
    // (Cora's shards are ~3.8 MB, mostly features; the slack covers the path strings)
    EXPECT_GT(size, 10000u) << name;
    EXPECT_LE(bytes, size + 4096) << name << ": " << bytes << " bytes allocated to read a " << size << "-byte file";
  }
}

// A header count far beyond the file never reaches an allocation (direct checks, one per reader).
TEST(ReaderReliability, HugeCountsAreCheckedAgainstTheFileSize) {
  const std::string dir = scratch_dir();
  g_alloc_limit = kAllocLimit;
  // METIS: n beyond the lines the file can hold.
  const std::string metis = dir + "/huge.graph";
  put_bytes(metis, "4294967294 1\n2\n1\n");
  EXPECT_NE(test::error_of([&] { read_metis(metis); }).find("too small"), std::string::npos);
  // ... and n lines of ncon weights beyond the bytes the file holds (ncon = 64: 128 bytes a line).
  put_bytes(metis, "2000000 0 10 64\n" + std::string(2000000, '\n'));
  EXPECT_NE(test::error_of([&] { read_metis_vertex_weights(metis); }).find("too small"), std::string::npos);
  // npy: a shape whose data the file does not hold.
  const std::string npy = dir + "/huge.npy";
  put_bytes(npy, encode_npy_header(NpyType::Float32, {kHuge40, 4}) + std::string(16, '\0'));
  EXPECT_NE(test::error_of([&] { read_npy(npy); }).find("truncated data"), std::string::npos);
  g_alloc_limit = 0;
}


// ---- issue 16 ------------------------------------------------------------------------------------
// Item 1: a value that is a finite double but not a finite float32 (1e39) must not become inf.
std::string traffic_folder(const std::string& name, const std::string& speed, const std::string& graph_file,
                           const std::string& graph) {
  const std::string dir = scratch_dir() + "/" + name;
  put_bytes(dir + "/speed.csv", speed);
  put_bytes(dir + "/" + graph_file, graph);
  return dir;
}

TEST(Issue16, TrafficSpeedBeyondFloat32IsAnErrorNamingRowAndColumn) {
  const std::string adj = "from,to,weight\n10,20,1\n20,10,1\n";
  const std::string dir = traffic_folder(
      "inf", "timestamp,10,20\n2020-01-06 00:00:00,60,61\n2020-01-06 00:05:00,62,1e39\n2020-01-06 00:10:00,1,2\n",
      "adj.csv", adj);
  const std::string err = test::error_of([&] { read_traffic(dir); });
  EXPECT_NE(err.find("speed.csv:3:"), std::string::npos) << err;
  EXPECT_NE(err.find("sensor 20"), std::string::npos) << err;
  EXPECT_NE(err.find("'1e39'"), std::string::npos) << err;
  EXPECT_NE(err.find("column 3"), std::string::npos) << err;
  EXPECT_NE(err.find("float32"), std::string::npos) << err;
  // The largest float32 is still a value.
  const std::string ok = traffic_folder("max", "timestamp,10,20\n2020-01-06 00:00:00,60,3.4e38\n", "adj.csv", adj);
  EXPECT_EQ(read_traffic(ok).signal.back(), 3.4e38f);
}

TEST(Issue16, GraphValuesBeyondFloat32AreErrorsNamingTheColumn) {
  const std::string speed = "timestamp,10,20\n2020-01-06 00:00:00,60,61\n";
  const std::string adj = traffic_folder("adj", speed, "adj.csv", "from,to,weight\n10,20,1\n20,10,1e39\n");
  std::string err = test::error_of([&] { read_traffic(adj); });
  EXPECT_NE(err.find("adj.csv:3: weight '1e39' (column 3) is beyond the float32 range"), std::string::npos) << err;
  const std::string dist = traffic_folder("dist", speed, "distances.csv", "from,to,distance\n10,20,5\n20,10,-1e39\n");
  err = test::error_of([&] { read_traffic(dist); });
  EXPECT_NE(err.find("distances.csv:3:"), std::string::npos) << err;
  put_bytes(dist + "/distances.csv", "from,to,distance\n10,20,5\n20,10,1e39\n");
  err = test::error_of([&] { read_traffic(dist); });
  EXPECT_NE(err.find("distances.csv:3: distance '1e39' (column 3) is beyond the float32 range"), std::string::npos)
      << err;
  // Weighted text edge list: the stream's weights are float32.
  const std::string el = scratch_dir() + "/w.txt";
  put_bytes(el, "0 1 2.5\n1 2 1e39\n");
  err = test::error_of([&] { drain_stream(el, GraphFormat::Auto); });
  EXPECT_NE(err.find("w.txt:2: edge weight '1e39' in column 3 is not a finite float32 value"), std::string::npos)
      << err;
  // OGB node features (and so the shards' feature rows, read the same way).
  const std::string ogb = scratch_dir() + "/ogb";
  put_bytes(ogb + "/raw/edge.csv", "0,1\n1,2\n");
  put_bytes(ogb + "/raw/num-node-list.csv", "3\n");
  put_bytes(ogb + "/raw/num-edge-list.csv", "2\n");
  put_bytes(ogb + "/raw/node-label.csv", "0\n1\n0\n");
  put_bytes(ogb + "/raw/node-feat.csv", "0.5,1\n1,2\n3,1e39\n");
  err = test::error_of([&] { read_ogb_node_dataset(ogb); });
  EXPECT_NE(err.find("node-feat.csv:3:"), std::string::npos) << err;
  EXPECT_NE(err.find("column 2"), std::string::npos) << err;
}

// Item 10a: a UTF-8 byte order mark before the first field is not part of it, in every text format.
TEST(Issue16, Utf8ByteOrderMarkIsStripped) {
  const std::string bom = "\xEF\xBB\xBF";
  // CSV edge list with a header line: the BOM used to hide the header ('\xEF\xBB\xBFsrc' is no letter).
  const std::string el = scratch_dir() + "/bom.csv";
  put_bytes(el, bom + "src,dst\n0,1\n1,2\n");
  {
    auto s = open_edge_stream(el);
    EXPECT_EQ(s->info().num_nodes, 3u);
    EXPECT_EQ(s->info().num_edges_hint, 2u);
  }
  // No header: the first id parses.
  put_bytes(el, bom + "0,1\n1,2\n");
  EXPECT_EQ(open_edge_stream(el)->info().num_edges_hint, 2u);
  // gzip-compressed, with a bad field: the message shows the field without the invisible BOM.
  const std::string gz = scratch_dir() + "/bom.txt.gz";
  put_bytes(gz, gzip(bom + "-1 2\n"));
  const std::string err = test::error_of([&] { open_edge_stream(gz); });
  EXPECT_NE(err.find("bom.txt.gz:1: expected non-negative integer node id, found '-1'"), std::string::npos) << err;
  EXPECT_EQ(err.find(bom), std::string::npos) << err;
  // METIS header, traffic speed.csv header (the timestamp column is recognised), OGB counts.
  const std::string metis = scratch_dir() + "/bom.graph";
  put_bytes(metis, bom + "2 1\n2\n1\n");
  EXPECT_EQ(open_edge_stream(metis)->info().num_nodes, 2u);
  const std::string tr = traffic_folder("bomtraffic", bom + "timestamp,10,20\n2020-01-06 00:00:00,60,61\n", "adj.csv",
                                        bom + "from,to,weight\n10,20,1\n");
  const TrafficData td = read_traffic(tr);
  EXPECT_EQ(td.num_sensors, 2u);
  EXPECT_EQ(td.timestamps.size(), 1u);
  // Only at the start of the file: a BOM on a later line is an error naming it.
  put_bytes(el, "0,1\n" + bom + "1,2\n");
  EXPECT_NE(test::error_of([&] { open_edge_stream(el); }).find("bom.csv:2:"), std::string::npos);
  // After a rewind, line 1 is stripped again.
  put_bytes(metis, bom + "2 1\n2\n1\n");
  auto s = open_edge_stream(metis);
  EdgeChunk c;
  for (int pass = 0; pass < 2; ++pass) {
    std::uint64_t edges = 0;
    while (s->next_chunk(c, 7)) edges += c.size();
    EXPECT_EQ(edges, 1u);
    s->rewind();
  }
}


// Item 2: writers use OUT.tmp-PID (unique to the process), never a name another run shares;
// a writer that is not finished removes its temp file.
TEST(Issue16, WritersUseATempNameOfTheirOwn) {
  namespace fs = std::filesystem;
  const std::string dir = scratch_dir() + "/w";  // the scratch folder is kept between runs: start empty
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string pid = std::to_string(::getpid());
  for (const std::string name : {"e.bin", "a.npy", "g.graph"}) {
    const std::string out = dir + "/" + name;
    EXPECT_EQ(temp_path_for(out), out + ".tmp-" + pid);
    put_bytes(out + ".tmp", "another run");
    auto check_open = [&] {
      EXPECT_TRUE(fs::exists(temp_path_for(out))) << name;
      EXPECT_EQ(read_bytes(out + ".tmp"), "another run") << name;
    };
    if (name == "e.bin") {
      {
        BinaryEdgeWriter w(out, 3, 4, true);
        w.append(0, 1);
        check_open();
      }
      EXPECT_FALSE(fs::exists(temp_path_for(out)));  // not finished: removed, nothing published
      EXPECT_FALSE(fs::exists(out));
      BinaryEdgeWriter w(out, 3, 4, true);
      w.append(0, 1);
      w.finish();
      EXPECT_EQ(open_edge_stream(out)->info().num_edges_hint, 1u);
    } else if (name == "a.npy") {
      {
        NpyWriter w(out, NpyType::Float32, {2});
        check_open();
      }
      EXPECT_FALSE(fs::exists(temp_path_for(out)));
      const float v[2] = {1, 2};
      write_npy(out, NpyType::Float32, {2}, v);
      EXPECT_EQ(read_npy(out).to_float()[1], 2.0f);
    } else {
      write_metis(build_csr(3, {0, 1}, {1, 2}), out);
      EXPECT_EQ(open_edge_stream(out)->info().num_edges_hint, 2u);
    }
    EXPECT_FALSE(fs::exists(temp_path_for(out))) << name;
    EXPECT_EQ(read_bytes(out + ".tmp"), "another run") << name;
  }
  // Temp files of processes that no longer run are found (exact name, regular files only).
  const std::string out = dir + "/x.bin";
  put_bytes(out + ".tmp-4294967295", "killed");   // beyond any pid_max: not running
  put_bytes(out + ".tmp-" + pid, "mine");          // this process: never stale
  put_bytes(out + ".tmp-12abc", "not a pid");
  fs::create_directories(out + ".tmp-4294967294");  // a folder: not a temp file
  const auto stale = find_stale_temp_files(out);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].path, out + ".tmp-4294967295");
  EXPECT_EQ(remove_stale_temp_files(out).size(), 1u);
  EXPECT_FALSE(fs::exists(out + ".tmp-4294967295"));
  EXPECT_TRUE(fs::exists(out + ".tmp-" + pid));
  EXPECT_EQ(find_stale_temp_dirs(out).size(), 1u);
}


// Item 7: an asymmetric METIS adjacency is refused, naming the first offending line (the
// smallest vertex listing a neighbour whose line does not list it back) and that neighbour's
// line; repeated neighbours too (as gpmetis' graphchk does); --symmetrize accepts both.
std::string metis_error(const std::string& text, bool whole_graph = false) {
  const std::string p = scratch_dir() + "/g.graph";
  put_bytes(p, text);
  return test::error_of([&] {
    if (whole_graph) {
      read_metis(p);
    } else {
      auto s = open_edge_stream(p);
      EdgeChunk c;
      while (s->next_chunk(c, 2)) {
      }
    }
  });
}

TEST(Issue16, AsymmetricMetisIsRefusedNamingTheFirstOffendingLine) {
  // 1 lists 2, 4 lists 3: the entry count (2 = 2m) matches, and the stream used to yield 1-2
  // and drop 4-3 silently.
  const std::string tail = "but vertex 2's line (line 3) does not list 1 (METIS needs every edge at both ends";
  std::string err = metis_error("4 1\n2\n\n\n3\n");
  EXPECT_NE(err.find("g.graph:2: adjacency is not symmetric: vertex 1 lists neighbour 2, " + tail), std::string::npos)
      << err;
  EXPECT_NE(err.find("--symmetrize"), std::string::npos) << err;
  // The whole-graph reader says the same.
  err = metis_error("4 1\n2\n\n\n3\n", true);
  EXPECT_NE(err.find("g.graph:2: adjacency is not symmetric: vertex 1 lists neighbour 2, " + tail), std::string::npos)
      << err;
  // Vertex 1 is only missing a reverse: the offending line is vertex 4's (comments counted).
  err = metis_error("% c\n4 1\n\n\n% c\n\n1\n");
  EXPECT_NE(err.find("g.graph:7: adjacency is not symmetric: vertex 4 lists neighbour 1, but vertex 1's line (line 3) "
                     "does not list 4"),
            std::string::npos)
      << err;
  // Different weights at the two ends.
  err = metis_error("2 1 1\n2 3\n1 4\n");
  EXPECT_NE(err.find("g.graph:2: adjacency is not symmetric: vertex 1 lists neighbour 2 with edge weight 3, but vertex "
                     "2's line (line 3) lists 1 with weight 4"),
            std::string::npos)
      << err;
  // Each vertex lists only its predecessor (every vertex is an end of an unmatched entry):
  // the first offending line is vertex 2's.
  std::string path = "3000 1500\n\n";
  for (int v = 2; v <= 3000; ++v) path += std::to_string(v - 1) + "\n";
  err = metis_error(path);
  EXPECT_NE(err.find("g.graph:3: adjacency is not symmetric: vertex 2 lists neighbour 1, but vertex 1's line (line 2) "
                     "does not list 2"),
            std::string::npos)
      << err;
  // The shared graphs are symmetric: read without complaint (4elt: 15606 vertices).
  EXPECT_EQ(build_csr(*open_edge_stream(flotilla::test::shared_data("graphs/4elt.graph"))).num_undirected_edges(),
            45878u);
}

TEST(Issue16, RepeatedMetisNeighboursAreRefused) {
  std::string err = metis_error("3 2\n2 2\n1 1\n\n");
  EXPECT_NE(err.find("g.graph:2: vertex 1 lists neighbour 2 more than once"), std::string::npos) << err;
  // Not in increasing order: found when the line ends.
  err = metis_error("3 3\n3 2 3\n1\n1 1\n");
  EXPECT_NE(err.find("g.graph:2: vertex 1 lists neighbour 3 more than once"), std::string::npos) << err;
  err = metis_error("3 3\n3 2 3\n1\n1 1\n", true);
  EXPECT_NE(err.find("g.graph:2: vertex 1 lists neighbour 3 more than once"), std::string::npos) << err;
}

TEST(Issue16, SymmetrizeTakesEveryMetisEntryAsAnEdge) {
  const std::string p = scratch_dir() + "/s.graph";
  put_bytes(p, "5 9\n2\n\n\n3 5 5\n4\n");  // 1-2 at one end, 4-3 at one end, 4-5 at both, 4 lists 5 twice
  EdgeStreamOptions o;
  o.symmetrize = true;
  auto s = open_edge_stream(p, o);
  EXPECT_FALSE(s->info().each_edge_once);
  EXPECT_EQ(s->info().num_edges_hint, 5u);  // the entries
  const CsrGraph g = build_csr(*s);
  EXPECT_TRUE(g.is_symmetric());
  EXPECT_EQ(g.num_undirected_edges(), 3u);  // 1-2, 3-4, 4-5
  EXPECT_EQ(g.degree(3), 2u);
  // Self-loops stay errors.
  put_bytes(p, "2 1\n1 2\n1\n");
  const std::string err = test::error_of([&] { open_edge_stream(p, o); });
  EXPECT_NE(err.find("s.graph:2: self-loop on vertex 1"), std::string::npos) << err;
}

// Item 10e: the edge count a file declares is checked: METIS m against the entries / 2, OGB's
// raw/num-edge-list against the lines of raw/edge.csv (by every reader, not only training's).
TEST(Issue16, DeclaredEdgeCountsAreChecked) {
  std::string err = metis_error("3 1\n2 3\n1 3\n1 2\n");
  EXPECT_NE(err.find("g.graph:1: the header says m = 1 edges but the adjacency lists hold 6 entries, 3 edges"),
            std::string::npos)
      << err;
  const std::string ogb = scratch_dir() + "/ogb";
  put_bytes(ogb + "/raw/edge.csv", "0,1\n1,2\n2,2\n");
  put_bytes(ogb + "/raw/num-node-list.csv", "3\n");
  put_bytes(ogb + "/raw/num-edge-list.csv", "4\n");
  err = test::error_of([&] { open_edge_stream(ogb); });
  EXPECT_NE(err.find("raw/edge.csv: has 3 edge lines, but " + ogb + "/raw/num-edge-list.csv says 4 edges"),
            std::string::npos)
      << err;
  put_bytes(ogb + "/raw/num-edge-list.csv", "3\n");  // the self-loop line counts
  EXPECT_EQ(open_edge_stream(ogb)->info().num_edges_hint, 2u);
  put_bytes(ogb + "/raw/edge.csv", "");
  err = test::error_of([&] { open_edge_stream(ogb); });
  EXPECT_NE(err.find("raw/edge.csv: has no edge lines, but"), std::string::npos) << err;
}

}  // namespace
