// R-MAT / Graph500 Kronecker generator: edge_factor * 2^scale edges, each placed by
// descending `scale` levels of the 2x2 probability matrix [[a, b], [c, d]].
//
// Determinism: edge e's random bits come only from Rng(splitmix64(key ^ e)) (a counter-based
// stream per edge), blocks of edges have fixed boundaries, and blocks are written in order,
// so the output file is the same bytes for a seed whatever the thread count.
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "flotilla/datasets/generators.h"
#include "flotilla/datasets/graph_io.h"
#include "flotilla/datasets/random.h"
#include "gen_util.h"

namespace flotilla {

namespace {

constexpr std::uint64_t kEdgesPerBlock = std::uint64_t{1} << 18;  // 2 MiB of 32-bit pairs
// Domain separators so the edge stream and the permutation use unrelated randomness.
constexpr std::uint64_t kEdgeStream = 0x52'4d'41'54'45'44'47'45ULL;  // "RMATEDGE"
constexpr std::uint64_t kPermStream = 0x52'4d'41'54'50'45'52'4dULL;  // "RMATPERM"

void validate(const RmatOptions& o) {
  if (o.scale < 1 || o.scale > 31)
    throw std::invalid_argument("rmat: scale must be in 1..31 (2^scale vertices with 32-bit ids), got " +
                                std::to_string(o.scale));
  if (o.edge_factor < 1) throw std::invalid_argument("rmat: edge factor must be >= 1, got " + std::to_string(o.edge_factor));
  auto prob_ok = [](double p) { return std::isfinite(p) && p >= 0.0 && p <= 1.0; };
  if (!prob_ok(o.a) || !prob_ok(o.b) || !prob_ok(o.c))
    throw std::invalid_argument("rmat: probabilities a, b, c must each be in [0, 1]");
  if (o.a + o.b + o.c > 1.0 + 1e-9)
    throw std::invalid_argument("rmat: a + b + c must be <= 1 (d = 1 - a - b - c), got " +
                                std::to_string(o.a + o.b + o.c));
  if (o.id_bytes != 4 && o.id_bytes != 8)
    throw std::invalid_argument("rmat: id width must be 4 or 8 bytes, got " + std::to_string(o.id_bytes));
  if (o.threads < 0) throw std::invalid_argument("rmat: threads must be >= 0 (0 = all hardware threads)");
}

// Probability p as a threshold on 32-bit uniforms: P(r < t) = t / 2^32.
std::uint64_t threshold(double p) {
  if (p <= 0) return 0;
  if (p >= 1) return std::uint64_t{1} << 32;
  return static_cast<std::uint64_t>(std::llround(p * 4294967296.0));
}

}  // namespace

RmatResult generate_rmat(const RmatOptions& opts, const std::string& out, const GenProgressFn& progress) {
  validate(opts);
  const auto t0 = std::chrono::steady_clock::now();
  const int threads = gen::resolve_threads(opts.threads);
  const int scale = opts.scale;
  const std::uint64_t n = std::uint64_t{1} << scale;
  const std::uint64_t m = static_cast<std::uint64_t>(opts.edge_factor) << scale;

  // Cumulative quadrant thresholds: r < tA -> a (0,0); < tAB -> b (0,1); < tABC -> c (1,0); else d (1,1).
  const std::uint64_t tA = threshold(opts.a);
  const std::uint64_t tAB = std::max(tA, threshold(opts.a + opts.b));
  const std::uint64_t tABC = std::max(tAB, threshold(opts.a + opts.b + opts.c));

  // The output first: an unwritable path fails before any work.
  BinaryEdgeWriter writer(out, n, opts.id_bytes, /*each_edge_once=*/true);

  // Vertex label permutation (Fisher-Yates), shared read-only by the workers.
  std::vector<VertexId> perm;
  if (opts.permute) {
    perm.resize(n);
    for (std::uint64_t i = 0; i < n; ++i) perm[i] = static_cast<VertexId>(i);
    Rng rng(splitmix64(opts.seed ^ kPermStream));
    for (std::uint64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
  }

  const std::uint64_t key = splitmix64(opts.seed ^ kEdgeStream);
  auto produce = [&](std::uint64_t block, std::vector<VertexId>& pairs) {
    const std::uint64_t first = block * kEdgesPerBlock;
    const std::uint64_t count = std::min(kEdgesPerBlock, m - first);
    pairs.resize(2 * count);
    VertexId* out_pairs = pairs.data();
    for (std::uint64_t k = 0; k < count; ++k) {
      Rng rng(key ^ (first + k));
      std::uint64_t u = 0, v = 0;
      std::uint64_t bits = 0;
      for (int level = 0; level < scale; ++level) {
        std::uint64_t r;
        if ((level & 1) == 0) {
          bits = rng.next_u64();
          r = bits & 0xffffffffULL;
        } else {
          r = bits >> 32;
        }
        // Branch-free quadrant index 0..3 (a, b, c, d).
        const std::uint64_t q = static_cast<std::uint64_t>(r >= tA) + static_cast<std::uint64_t>(r >= tAB) +
                                static_cast<std::uint64_t>(r >= tABC);
        u = (u << 1) | (q >> 1);
        v = (v << 1) | (q & 1);
      }
      out_pairs[2 * k] = static_cast<VertexId>(u);
      out_pairs[2 * k + 1] = static_cast<VertexId>(v);
    }
    if (opts.permute) {
      // Relabel in a separate pass with prefetching: the lookups are random accesses into
      // a 4 * 2^scale byte table, latency-bound without memory-level parallelism.
      const std::size_t total = pairs.size();
      constexpr std::size_t kAhead = 32;
      const VertexId* p = perm.data();
      for (std::size_t i = 0; i < total; ++i) {
        if (i + kAhead < total) __builtin_prefetch(p + out_pairs[i + kAhead]);
        out_pairs[i] = p[out_pairs[i]];
      }
    }
  };

  const std::uint64_t num_blocks = (m + kEdgesPerBlock - 1) / kEdgesPerBlock;
  std::uint64_t done = 0;
  if (progress) progress(0, m);
  auto consume = [&](std::uint64_t, std::vector<VertexId>& pairs) {
    const std::size_t count = pairs.size() / 2;
    for (std::size_t k = 0; k < count; ++k) writer.append(pairs[2 * k], pairs[2 * k + 1]);
    done += count;
    if (progress) progress(done, m);
  };
  gen::run_ordered_blocks<std::vector<VertexId>>(num_blocks, threads, produce, consume);
  writer.finish();

  RmatResult res;
  res.num_nodes = n;
  res.num_edges = m;
  struct stat st {};
  res.bytes = ::stat(out.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size)
                                             : BinaryEdgeHeader::kSize + m * 2 * opts.id_bytes;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace flotilla
