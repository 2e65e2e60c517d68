// Stochastic block model with class-correlated Gaussian features, written in the OGB raw
// node-property layout (gzipped CSV).
//
// Model (all randomness derived from the seed through independent, domain-separated streams):
// - Classes: a seeded random permutation `order` of the nodes; the node at position p of
//   `order` has class p % k, so class sizes differ by at most one and ids carry no class.
// - Edges: node v draws Poisson(avg_degree / 2) edges from Rng(hash(seed, v)); each picks,
//   with probability intra_fraction, a uniform node of v's class other than v, otherwise a
//   uniform node of another class, and is written once as "v,target". Every node both
//   emits and receives about avg_degree / 2 edges, so the expected undirected degree is
//   avg_degree. No self-loops; duplicates (the same pair drawn twice, or once from each end)
//   are kept, as SBM samplers without rejection produce them: about avg_degree^2 / (2 n/k)
//   per node pair of one class, i.e. rare for large blocks.
// - Features: class means mu_c ~ N(0, feature_separation^2) per dimension; node v's row is
//   mu_{class(v)} + N(0, 1) noise from its own stream.
// - Split: a seeded permutation; the first round(train*n) nodes train, the next
//   round(valid*n) valid, the rest test; each file lists its node ids sorted.
// Determinism: nodes are processed in fixed blocks (sizes from the options only), each block
// from per-node streams, compressed as its own gzip member, and written in order: the bytes
// are the same whatever the thread count.
//
// Graph only (generate_sbm_graph): the same classes and per-node edge streams, so the same
// edges in the same order, written as a Flotilla binary edge list; no features, labels or
// split. Memory: the class order (4 bytes per node) and classes (1 byte per node up to 256
// classes, else 2) plus the blocks in flight, independent of the number of edges.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "flotilla/datasets/atomic_output.h"
#include "flotilla/datasets/durable.h"
#include "flotilla/datasets/generators.h"
#include "flotilla/datasets/graph_io.h"
#include "flotilla/datasets/random.h"
#include "flotilla/datasets/types.h"
#include "gen_util.h"

namespace fs = std::filesystem;

namespace flotilla {

namespace {

constexpr int kGzipLevel = 1;
constexpr std::size_t kTargetBlockBytes = std::size_t{1} << 20;  // text per block, about
constexpr std::uint64_t kClassStream = 0x53424d434c415353ULL;    // "SBMCLASS"
constexpr std::uint64_t kMeanStream = 0x53424d4d45414e53ULL;     // "SBMMEANS"
constexpr std::uint64_t kEdgeStream = 0x53424d4544474553ULL;     // "SBMEDGES"
constexpr std::uint64_t kFeatStream = 0x53424d4645415453ULL;     // "SBMFEATS"
constexpr std::uint64_t kSplitStream = 0x53424d53504c4954ULL;    // "SBMSPLIT"

void validate(const SbmOptions& o, bool graph_only) {
  auto fin = [](double x) { return std::isfinite(x); };
  if (o.num_classes < 1 || o.num_classes > 65535)
    throw std::invalid_argument("sbm: classes must be in 1..65535, got " + std::to_string(o.num_classes));
  if (o.num_nodes < 2 * static_cast<std::uint64_t>(o.num_classes))
    throw std::invalid_argument("sbm: need at least 2 nodes per class (nodes >= 2 * classes), got " +
                                std::to_string(o.num_nodes) + " nodes for " + std::to_string(o.num_classes) +
                                " classes");
  if (o.num_nodes >= kMaxVertices)
    throw std::invalid_argument("sbm: nodes must be below " + std::to_string(kMaxVertices) + " (32-bit vertex ids)");
  if (!fin(o.avg_degree) || o.avg_degree < 0)
    throw std::invalid_argument("sbm: average degree must be a finite number >= 0");
  if (!fin(o.intra_fraction) || o.intra_fraction < 0 || o.intra_fraction > 1)
    throw std::invalid_argument("sbm: intra-block fraction must be in [0, 1]");
  if (o.threads < 0) throw std::invalid_argument("sbm: threads must be >= 0 (0 = all hardware threads)");
  if (graph_only) return;  // features, labels and split are not written
  if (o.num_features < 0) throw std::invalid_argument("sbm: features must be >= 0, got " + std::to_string(o.num_features));
  if (!fin(o.feature_separation) || o.feature_separation < 0)
    throw std::invalid_argument("sbm: feature separation must be a finite number >= 0");
  if (!fin(o.train_fraction) || !fin(o.valid_fraction) || o.train_fraction < 0 || o.valid_fraction < 0 ||
      o.train_fraction + o.valid_fraction > 1.0 + 1e-9)
    throw std::invalid_argument("sbm: train and valid fractions must be >= 0 with train + valid <= 1");
}

// Poisson(lambda) by inversion (sequential search; O(lambda) cheap steps, and the node then
// emits about lambda edges anyway). Normal approximation above 500, where exp(-lambda)
// would lose precision.
std::uint64_t poisson(Rng& rng, double lambda) {
  if (lambda <= 0) return 0;
  if (lambda > 500) {
    const long long x = std::llround(lambda + std::sqrt(lambda) * rng.normal());
    return x < 0 ? 0 : static_cast<std::uint64_t>(x);
  }
  const double u = rng.uniform();
  double p = std::exp(-lambda);
  double cdf = p;
  std::uint64_t k = 0;
  const std::uint64_t cap = static_cast<std::uint64_t>(10 * lambda) + 100;
  while (u > cdf && k < cap) {
    ++k;
    p *= lambda / static_cast<double>(k);
    cdf += p;
  }
  return k;
}

// Classes: position p of a seeded random order of the nodes has class p % k. `order` is
// kept: order[c + k * j] is the j-th node of class c.
template <typename ClassT>
void assign_classes(const SbmOptions& o, std::vector<VertexId>& order, std::vector<ClassT>& cls) {
  const std::uint64_t n = o.num_nodes, k = static_cast<std::uint64_t>(o.num_classes);
  order.resize(n);
  cls.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) order[i] = static_cast<VertexId>(i);
  Rng rng(splitmix64(o.seed ^ kClassStream));
  for (std::uint64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  for (std::uint64_t p = 0; p < n; ++p) cls[order[p]] = static_cast<ClassT>(p % k);
}

// Node v's edges: Poisson(avg_degree / 2) targets from v's own stream, each calling
// emit(target). Returns the number drawn. The one definition for both outputs.
template <typename Emit>
std::uint64_t draw_edges(const SbmOptions& o, const std::vector<VertexId>& order, std::uint64_t edge_key,
                         std::uint64_t v, std::uint64_t c, Emit&& emit) {
  const std::uint64_t n = o.num_nodes, k = static_cast<std::uint64_t>(o.num_classes);
  Rng er(edge_key ^ v);
  const std::uint64_t deg = poisson(er, o.avg_degree / 2.0);
  const std::uint64_t own_size = (n - c + k - 1) / k;  // positions p < n with p % k == c
  for (std::uint64_t e = 0; e < deg; ++e) {
    VertexId t;
    if (k == 1 || er.uniform() < o.intra_fraction) {
      do {
        t = order[c + k * er.below(own_size)];
      } while (t == v);
    } else {
      std::uint64_t p;
      do {
        p = er.below(n);
      } while (p % k == c);
      t = order[p];
    }
    emit(t);
  }
  return deg;
}

struct Block {
  gen::TextBuf edge_txt, feat_txt, label_txt;
  std::string edge_gz, feat_gz, label_gz;
  std::uint64_t edges = 0;
};

// Writes a small gzip file whose content is `text`.
std::uint64_t write_small_gz(const std::string& path, const char* text, std::size_t size) {
  std::string gz;
  gen::gzip_append(gz, text, size, kGzipLevel);
  gen::OutFile f(path);
  f.write(gz);
  f.close();
  return f.bytes();
}


}  // namespace

SbmResult generate_sbm(const SbmOptions& opts, const std::string& out_dir_arg, const GenProgressFn& progress) {
  validate(opts, /*graph_only=*/false);
  if (out_dir_arg.empty()) throw std::invalid_argument("sbm: output folder is empty");
  const auto t0 = std::chrono::steady_clock::now();
  const int threads = gen::resolve_threads(opts.threads);
  const std::string out_dir = normalise_out_dir(out_dir_arg);

  std::error_code ec;
  if (fs::exists(out_dir, ec)) {
    if (!fs::is_directory(out_dir, ec)) throw_file(out_dir, "output exists and is not a folder");
    if (!fs::is_empty(out_dir, ec))
      throw_file(out_dir, "output folder exists and is not empty (refusing to overwrite; remove it or pick another)");
  }
  const fs::path parent = fs::path(out_dir).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  const std::string tmp = temp_path_for(out_dir);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp + "/raw");
  fs::create_directories(tmp + "/split/random");
  // Removes the partial folder unless the rename into place happened.
  struct TmpGuard {
    std::string path;
    bool keep = false;
    ~TmpGuard() {
      std::error_code e;
      if (!keep) fs::remove_all(path, e);
    }
  } guard{tmp};

  const std::uint64_t n = opts.num_nodes;
  const std::uint64_t k = static_cast<std::uint64_t>(opts.num_classes);
  const int F = opts.num_features;

  // Classes: position p in a random order has class p % k.
  std::vector<VertexId> order;
  std::vector<std::uint16_t> cls;
  assign_classes(opts, order, cls);
  // Class means.
  std::vector<double> means(k * static_cast<std::uint64_t>(F));
  {
    Rng rng(splitmix64(opts.seed ^ kMeanStream));
    for (auto& x : means) x = opts.feature_separation * rng.normal();
  }

  const double half_degree = opts.avg_degree / 2.0;
  const double est_bytes = 10.0 * F + 18.0 * half_degree + 8.0;
  const std::uint64_t nodes_per_block = std::max<std::uint64_t>(
      64, std::min<std::uint64_t>(65536, static_cast<std::uint64_t>(static_cast<double>(kTargetBlockBytes) / est_bytes)));
  const std::uint64_t num_blocks = (n + nodes_per_block - 1) / nodes_per_block;
  const std::uint64_t edge_key = splitmix64(opts.seed ^ kEdgeStream);
  const std::uint64_t feat_key = splitmix64(opts.seed ^ kFeatStream);
  const bool with_features = F > 0;

  auto produce = [&](std::uint64_t block, Block& b) {
    const std::uint64_t first = block * nodes_per_block;
    const std::uint64_t last = std::min(n, first + nodes_per_block);
    b.edge_txt.clear();
    b.feat_txt.clear();
    b.label_txt.clear();
    b.edges = 0;
    for (std::uint64_t v = first; v < last; ++v) {
      const std::uint64_t c = cls[v];
      // Edges.
      b.edges += draw_edges(opts, order, edge_key, v, c, [&](VertexId t) {
        b.edge_txt.reserve_more(44);
        b.edge_txt.put_u64(v);
        b.edge_txt.put(',');
        b.edge_txt.put_u64(t);
        b.edge_txt.put('\n');
      });
      // Label.
      b.label_txt.reserve_more(8);
      b.label_txt.put_u64(c);
      b.label_txt.put('\n');
      if (!with_features) continue;
      // Features: class mean + unit Gaussian noise (Box-Muller, both values of each pair).
      Rng fr(feat_key ^ v);
      const double* mu = &means[c * static_cast<std::uint64_t>(F)];
      b.feat_txt.reserve_more(static_cast<std::size_t>(F) * 16 + 2);
      for (int f = 0; f < F; f += 2) {
        double u1 = fr.uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        const double r = std::sqrt(-2.0 * std::log(u1));
        const double th = 6.283185307179586 * fr.uniform();
        if (f > 0) b.feat_txt.put(',');
        b.feat_txt.put_float6(static_cast<float>(mu[f] + r * std::cos(th)));
        if (f + 1 < F) {
          b.feat_txt.put(',');
          b.feat_txt.put_float6(static_cast<float>(mu[f + 1] + r * std::sin(th)));
        }
      }
      b.feat_txt.put('\n');
    }
    b.edge_gz.clear();
    b.feat_gz.clear();
    b.label_gz.clear();
    if (b.edge_txt.size() > 0) gen::gzip_append(b.edge_gz, b.edge_txt.data(), b.edge_txt.size(), kGzipLevel);
    if (with_features)
      gen::gzip_append(b.feat_gz, b.feat_txt.data(), b.feat_txt.size(), kGzipLevel, Z_HUFFMAN_ONLY);  // random digits
    gen::gzip_append(b.label_gz, b.label_txt.data(), b.label_txt.size(), kGzipLevel);
  };

  const std::string raw = tmp + "/raw/";
  gen::OutFile edge_file(raw + "edge.csv.gz");
  std::optional<gen::OutFile> feat_file;  // none without features
  if (with_features) feat_file.emplace(raw + "node-feat.csv.gz");
  gen::OutFile label_file(raw + "node-label.csv.gz");
  std::uint64_t m = 0, nodes_done = 0;
  if (progress) progress(0, n);
  auto consume = [&](std::uint64_t block, Block& b) {
    edge_file.write(b.edge_gz);
    if (feat_file) feat_file->write(b.feat_gz);
    label_file.write(b.label_gz);
    m += b.edges;
    nodes_done = std::min(n, (block + 1) * nodes_per_block);
    if (progress) progress(nodes_done, n);
  };
  gen::run_ordered_blocks<Block>(num_blocks, threads, produce, consume);
  if (edge_file.bytes() == 0) {  // no edges at all: still a valid (empty) gzip file
    std::string empty;
    gen::gzip_append(empty, "", 0, kGzipLevel);
    edge_file.write(empty);
  }
  edge_file.close();
  if (feat_file) feat_file->close();
  label_file.close();
  std::uint64_t bytes = edge_file.bytes() + (feat_file ? feat_file->bytes() : 0) + label_file.bytes();
  const std::string n_line = std::to_string(n) + "\n", m_line = std::to_string(m) + "\n";
  bytes += write_small_gz(raw + "num-node-list.csv.gz", n_line.data(), n_line.size());
  bytes += write_small_gz(raw + "num-edge-list.csv.gz", m_line.data(), m_line.size());

  // Split: reuse `order`'s storage for a fresh permutation; `cls` becomes the split id.
  {
    for (std::uint64_t i = 0; i < n; ++i) order[i] = static_cast<VertexId>(i);
    Rng rng(splitmix64(opts.seed ^ kSplitStream));
    for (std::uint64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    const double dn = static_cast<double>(n);
    std::uint64_t n_train = std::min<std::uint64_t>(n, static_cast<std::uint64_t>(std::llround(opts.train_fraction * dn)));
    std::uint64_t n_valid =
        std::min<std::uint64_t>(n - n_train, static_cast<std::uint64_t>(std::llround(opts.valid_fraction * dn)));
    for (std::uint64_t p = 0; p < n; ++p) cls[order[p]] = static_cast<std::uint16_t>(p < n_train ? 0 : p < n_train + n_valid ? 1 : 2);
    std::vector<VertexId>().swap(order);
    const char* names[3] = {"train", "valid", "test"};
    for (std::uint16_t s = 0; s < 3; ++s) {
      gen::TextBuf txt;
      for (std::uint64_t v = 0; v < n; ++v) {
        if (cls[v] != s) continue;
        txt.reserve_more(24);
        txt.put_u64(v);
        txt.put('\n');
      }
      bytes += write_small_gz(tmp + "/split/random/" + names[s] + ".csv.gz", txt.data(), txt.size());
    }
  }

  // Into place. rename(2) replaces an empty folder; a non-empty one was refused above.
  fs::rename(tmp, out_dir);
  guard.keep = true;

  SbmResult res;
  res.num_nodes = n;
  res.num_edges = m;
  res.bytes = bytes;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

namespace {

template <typename ClassT>
SbmResult write_sbm_graph(const SbmOptions& opts, const std::string& out, const GenProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const int threads = gen::resolve_threads(opts.threads);
  const std::uint64_t n = opts.num_nodes;
  // The output first: an unwritable path fails before any work.
  BinaryEdgeWriter writer(out, n, 4, /*each_edge_once=*/true);
  std::vector<VertexId> order;
  std::vector<ClassT> cls;
  assign_classes(opts, order, cls);

  // About 2^18 edges (2 MiB of pairs) per block; the bytes do not depend on the block size.
  const double half_degree = opts.avg_degree / 2.0;
  const std::uint64_t nodes_per_block = std::max<std::uint64_t>(
      64, std::min<std::uint64_t>(65536, static_cast<std::uint64_t>(262144.0 / std::max(half_degree, 1.0))));
  const std::uint64_t num_blocks = (n + nodes_per_block - 1) / nodes_per_block;
  const std::uint64_t edge_key = splitmix64(opts.seed ^ kEdgeStream);
  auto produce = [&](std::uint64_t block, std::vector<VertexId>& pairs) {
    pairs.clear();
    const std::uint64_t last = std::min(n, (block + 1) * nodes_per_block);
    for (std::uint64_t v = block * nodes_per_block; v < last; ++v)
      draw_edges(opts, order, edge_key, v, cls[v], [&](VertexId t) {
        pairs.push_back(static_cast<VertexId>(v));
        pairs.push_back(t);
      });
  };
  if (progress) progress(0, n);
  auto consume = [&](std::uint64_t block, std::vector<VertexId>& pairs) {
    const std::size_t count = pairs.size() / 2;
    for (std::size_t i = 0; i < count; ++i) writer.append(pairs[2 * i], pairs[2 * i + 1]);
    if (progress) progress(std::min(n, (block + 1) * nodes_per_block), n);
  };
  gen::run_ordered_blocks<std::vector<VertexId>>(num_blocks, threads, produce, consume);
  writer.finish();

  SbmResult res;
  res.num_nodes = n;
  res.num_edges = writer.edges_written();
  std::error_code ec;
  const auto size = fs::file_size(out, ec);
  res.bytes = ec ? BinaryEdgeHeader::kSize + res.num_edges * 8 : static_cast<std::uint64_t>(size);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace

SbmResult generate_sbm_graph(const SbmOptions& opts, const std::string& out, const GenProgressFn& progress) {
  validate(opts, /*graph_only=*/true);
  if (out.empty()) throw std::invalid_argument("sbm: output file is empty");
  // One byte per node's class up to 256 classes.
  return opts.num_classes <= 256 ? write_sbm_graph<std::uint8_t>(opts, out, progress)
                                 : write_sbm_graph<std::uint16_t>(opts, out, progress);
}

}  // namespace flotilla
