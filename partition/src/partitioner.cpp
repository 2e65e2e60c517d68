// Streaming partitioners over an EdgeStream: GREM, FENNEL, LDG, hash; and the METIS
// baseline. See docs/partitioning.md for the algorithms and their memory.
#include "flotilla/partition/partitioner.h"

#include <metis.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "flotilla/datasets/csr.h"
#include "flotilla/datasets/error.h"
#include "flotilla/datasets/progress.h"
#include "flotilla/datasets/random.h"
#include "grem_lp.h"
#include "metis_weights.h"
#include "multilevel.h"
#include "semi_external.h"

namespace flotilla {

const char* algo_name(PartitionAlgo a) {
  switch (a) {
    case PartitionAlgo::Grem: return "grem";
    case PartitionAlgo::Fennel: return "fennel";
    case PartitionAlgo::Ldg: return "ldg";
    case PartitionAlgo::Hash: return "hash";
    case PartitionAlgo::Metis: return "metis";
  }
  return "?";
}

PartitionAlgo parse_algo_name(const std::string& s) {
  for (PartitionAlgo a : {PartitionAlgo::Grem, PartitionAlgo::Fennel, PartitionAlgo::Ldg, PartitionAlgo::Hash,
                          PartitionAlgo::Metis})
    if (s == algo_name(a)) return a;
  throw std::invalid_argument("unknown algorithm '" + s + "' (expected grem, fennel, ldg, hash or metis)");
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint32_t kNoLocal = ~std::uint32_t{0};

// Per-vertex bounded summary of affinity to parts: `slots` (part, weight) pairs, kept by a
// space-saving rule (a new part replaces the lightest slot when it weighs at least as much).
// 4 bytes a slot: parts are uint16 (k <= 65535), weights saturating uint16.
class AffinitySummary {
 public:
  AffinitySummary(std::uint64_t n, int slots) : slots_(slots), part_(n * slots, kEmpty), weight_(n * slots, 0) {}
  void clear() {
    std::fill(part_.begin(), part_.end(), kEmpty);
    std::fill(weight_.begin(), weight_.end(), 0);
  }
  void add(VertexId v, PartId p, std::uint32_t w) {
    std::uint16_t* ps = &part_[static_cast<std::size_t>(v) * slots_];
    std::uint16_t* ws = &weight_[static_cast<std::size_t>(v) * slots_];
    int lightest = 0;
    for (int i = 0; i < slots_; ++i) {
      if (ps[i] == p) { ws[i] = static_cast<std::uint16_t>(std::min<std::uint32_t>(65535u, ws[i] + w)); return; }
      if (ps[i] == kEmpty) { ps[i] = static_cast<std::uint16_t>(p); ws[i] = static_cast<std::uint16_t>(std::min(w, 65535u)); return; }
      if (ws[i] < ws[lightest]) lightest = i;
    }
    if (w >= ws[lightest]) {
      ps[lightest] = static_cast<std::uint16_t>(p);
      ws[lightest] = static_cast<std::uint16_t>(std::min(w, 65535u));
    }
  }
  template <typename F>
  void for_each(VertexId v, F&& f) const {
    const std::size_t b = static_cast<std::size_t>(v) * slots_;
    for (int i = 0; i < slots_; ++i)
      if (part_[b + i] != kEmpty && weight_[b + i] > 0) f(static_cast<PartId>(part_[b + i]), weight_[b + i]);
  }
  std::size_t bytes() const { return part_.size() * 4; }

 private:
  static constexpr std::uint16_t kEmpty = 0xffff;
  int slots_;
  std::vector<std::uint16_t> part_, weight_;
};

// The vertices of one chunk with local ids, and the chunk's edges merged into a local CSR.
struct ChunkGraph {
  std::vector<VertexId> verts;        // local -> global
  std::vector<std::uint32_t> deg;     // scratch
  detail::WeightedGraph g;
};

class StreamingState {
 public:
  StreamingState(std::uint64_t n, const PartitionConfig& cfg)
      : n_(n), k_(cfg.num_parts), cap_(part_capacity(n, cfg.num_parts, cfg.imbalance)),
        part_(n, kNoPart), size_(cfg.num_parts, 0) {}

  // Collects the chunk's vertices (first-appearance order) and a merged local CSR. Returns
  // the number of local vertices.
  void build_chunk(const EdgeChunk& c, ChunkGraph& cg, std::uint32_t extra_vertices) {
    if (local_.size() != n_) local_.assign(n_, kNoLocal);  // allocated on first use
    cg.verts.clear();
    for (std::size_t i = 0; i < c.size(); ++i) {
      for (VertexId x : {c.src[i], c.dst[i]})
        if (local_[x] == kNoLocal) {
          local_[x] = static_cast<std::uint32_t>(cg.verts.size());
          cg.verts.push_back(x);
        }
    }
    const std::uint32_t nl = static_cast<std::uint32_t>(cg.verts.size()) + extra_vertices;
    auto& g = cg.g;
    g.xadj.assign(nl + 1, 0);
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c.src[i] == c.dst[i]) continue;
      ++g.xadj[local_[c.src[i]] + 1];
      ++g.xadj[local_[c.dst[i]] + 1];
    }
    for (std::uint32_t v = 0; v < nl; ++v) g.xadj[v + 1] += g.xadj[v];
    g.adj.resize(g.xadj[nl]);
    g.ew.assign(g.xadj[nl], 1.0f);
    std::vector<EdgeIndex> pos(g.xadj.begin(), g.xadj.end() - 1);
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c.src[i] == c.dst[i]) continue;
      const std::uint32_t a = local_[c.src[i]], b = local_[c.dst[i]];
      g.adj[pos[a]++] = b;
      g.adj[pos[b]++] = a;
    }
    // Merge parallel edges (sum weights) so matching sees true multiplicities.
    std::vector<std::uint32_t> slot(nl, kNoLocal);
    EdgeIndex w = 0, begin = 0;
    for (std::uint32_t v = 0; v < nl; ++v) {
      const EdgeIndex end = g.xadj[v + 1];
      const EdgeIndex start = w;
      for (EdgeIndex e = begin; e < end; ++e) {
        const std::uint32_t u = g.adj[e];
        if (slot[u] != kNoLocal && slot[u] >= start) {
          g.ew[slot[u]] += g.ew[e];
        } else {
          slot[u] = static_cast<std::uint32_t>(w);
          g.adj[w] = u;
          g.ew[w] = g.ew[e];
          ++w;
        }
      }
      begin = end;
      g.xadj[v + 1] = w;
    }
    g.adj.resize(w);
    g.ew.resize(w);
    g.vw.assign(nl, 1);
    g.fixed.assign(nl, kNoPart);
  }

  void release_chunk(const ChunkGraph& cg) {
    for (VertexId v : cg.verts) local_[v] = kNoLocal;
  }

  void assign(VertexId v, PartId p) {
    if (part_[v] != kNoPart) {
      --size_[part_[v]];
      if (bw_) add_load(v, part_[v], -1);
    }
    part_[v] = p;
    ++size_[p];
    if (bw_) add_load(v, p, +1);
  }

  // Several balance constraints (null: the vertex count alone, bound cap_).
  void set_constraints(const BalanceWeights* bw) {
    bw_ = bw;
    if (bw_) load_.assign(static_cast<std::size_t>(k_) * bw_->ncon, 0);
  }
  // Whether v (not in p) fits into p under every constraint.
  bool fits(VertexId v, PartId p) const {
    if (!bw_) return size_[p] + 1 <= cap_;
    const std::uint32_t nc = bw_->ncon;
    for (std::uint32_t c = 0; c < nc; ++c)
      if (static_cast<std::uint64_t>(load_[static_cast<std::size_t>(p) * nc + c]) + bw_->at(v, c) > bw_->cap[c]) return false;
    return true;
  }
  // How full p is: its fullest constraint relative to the bound.
  double fill(PartId p) const {
    if (!bw_) return static_cast<double>(size_[p]) / static_cast<double>(std::max<std::uint64_t>(1, cap_));
    double f = 0;
    for (std::uint32_t c = 0; c < bw_->ncon; ++c)
      f = std::max(f, static_cast<double>(load_[static_cast<std::size_t>(p) * bw_->ncon + c]) /
                          static_cast<double>(std::max<std::uint64_t>(1, bw_->cap[c])));
    return f;
  }
  // The part v fits best when nothing else decides: the least full one it fits into (or
  // the least full one).
  PartId emptiest_for(VertexId v) const {
    PartId best = kNoPart, any = 0;
    for (PartId p = 0; p < k_; ++p) {
      if (fill(p) < fill(any)) any = p;
      if (fits(v, p) && (best == kNoPart || fill(p) < fill(best))) best = p;
    }
    return best == kNoPart ? any : best;
  }

  // Parts for vertices no edge mentioned (isolated): fill the emptiest parts.
  void place_isolated() {
    for (std::uint64_t v = 0; v < n_; ++v) {
      if (part_[v] != kNoPart) continue;
      PartId best = 0;
      if (bw_) {
        best = emptiest_for(static_cast<VertexId>(v));
      } else {
        for (PartId p = 1; p < k_; ++p)
          if (size_[p] < size_[best]) best = p;
      }
      assign(static_cast<VertexId>(v), best);
    }
  }

  void add_load(VertexId v, PartId p, std::int64_t sign) {
    for (std::uint32_t c = 0; c < bw_->ncon; ++c) load_[static_cast<std::size_t>(p) * bw_->ncon + c] += sign * bw_->at(v, c);
  }
  const BalanceWeights* bw_ = nullptr;
  std::vector<std::int64_t> load_;

  std::uint64_t n_;
  std::uint32_t k_;
  std::uint64_t cap_;
  std::vector<PartId> part_;
  std::vector<std::uint64_t> size_;
  std::vector<std::uint32_t> local_;
};

std::size_t default_chunk_edges(const PartitionConfig& cfg) { return effective_chunk_edges(cfg); }

// ---- GREM ---------------------------------------------------------------------------------
void run_grem_multilevel(EdgeStream& stream, const PartitionConfig& cfg, StreamingState& st, PartitionStats& stats,
              const PartitionProgressFn& progress) {
  const std::uint32_t k = cfg.num_parts;
  if (k > 65535) throw std::invalid_argument("GREM supports at most 65535 parts");
  const int passes = cfg.passes > 0 ? cfg.passes : 3;
  const std::size_t chunk_edges = default_chunk_edges(cfg);
  stats.chunk_edges = chunk_edges;
  AffinitySummary summary(st.n_, std::max(1, cfg.summary_slots));
  EdgeChunk chunk;
  ChunkGraph cg;
  std::vector<PartId> local_part;
  const std::uint64_t total_edges = stream.info().num_edges_hint;
  for (int pass = 0; pass < passes; ++pass) {
    // Each pass rebuilds the summaries from the current assignment, so they never double
    // count an edge and stale parts from earlier passes fade out.
    if (pass > 0) summary.clear();
    stream.rewind();
    std::uint64_t done = 0;
    while (stream.next_chunk(chunk, chunk_edges)) {
      st.build_chunk(chunk, cg, k);
      const std::uint32_t nl = static_cast<std::uint32_t>(cg.verts.size());
      auto& g = cg.g;
      // Anchors: local vertices nl..nl+k-1, fixed to their part, weight 0; edges from each
      // chunk vertex to the anchors of the parts its summary remembers.
      {
        std::vector<std::vector<std::pair<std::uint32_t, float>>> anchor_adj(k);
        std::vector<EdgeIndex> xadj(nl + k + 1, 0);
        std::vector<std::uint32_t> adj;
        std::vector<float> ew;
        adj.reserve(g.adj.size() + nl * 2);
        ew.reserve(g.adj.size() + nl * 2);
        for (std::uint32_t v = 0; v < nl; ++v) {
          for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) {
            adj.push_back(g.adj[e]);
            ew.push_back(g.ew[e]);
          }
          summary.for_each(cg.verts[v], [&](PartId p, std::uint32_t w) {
            adj.push_back(nl + p);
            ew.push_back(static_cast<float>(w));
            anchor_adj[p].push_back({v, static_cast<float>(w)});
          });
          xadj[v + 1] = adj.size();
        }
        for (std::uint32_t p = 0; p < k; ++p) {
          for (auto& [v, w] : anchor_adj[p]) {
            adj.push_back(v);
            ew.push_back(w);
          }
          xadj[nl + p + 1] = adj.size();
        }
        g.xadj = std::move(xadj);
        g.adj = std::move(adj);
        g.ew = std::move(ew);
        for (std::uint32_t p = 0; p < k; ++p) {
          g.vw[nl + p] = 0;
          g.fixed[nl + p] = p;
        }
      }
      detail::MultilevelParams mp;
      mp.k = k;
      mp.sweeps = cfg.refine_sweeps;
      mp.seed = splitmix64(cfg.seed ^ (stats.chunks * 0x9e3779b97f4a7c15ULL));
      mp.capacity.assign(k, static_cast<std::int64_t>(st.cap_));
      local_part.assign(nl + k, kNoPart);
      for (std::uint32_t v = 0; v < nl; ++v) {
        const PartId p = st.part_[cg.verts[v]];
        local_part[v] = p;
      }
      // Capacity left for chunk vertices: the bound minus what lies outside the chunk.
      std::vector<std::int64_t> inside(k, 0);
      for (std::uint32_t v = 0; v < nl; ++v)
        if (local_part[v] != kNoPart) ++inside[local_part[v]];
      for (std::uint32_t p = 0; p < k; ++p)
        mp.capacity[p] = static_cast<std::int64_t>(st.cap_) - (static_cast<std::int64_t>(st.size_[p]) - inside[p]);
      const auto res = detail::multilevel_partition(g, mp, local_part);
      stats.moves += res.moves;
      for (std::uint32_t v = 0; v < nl; ++v) st.assign(cg.verts[v], local_part[v]);
      for (std::uint32_t p = 0; p < k; ++p)
        if (st.size_[p] > st.cap_)  // multilevel_partition's rebalance makes this unreachable
          throw std::logic_error("GREM: part " + std::to_string(p) + " exceeds the balance bound after chunk " +
                                 std::to_string(stats.chunks));
      // Remember each chunk edge's far-end part at both ends.
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        const VertexId u = chunk.src[i], v = chunk.dst[i];
        if (u == v) continue;
        summary.add(u, st.part_[v], 1);
        summary.add(v, st.part_[u], 1);
      }
      st.release_chunk(cg);
      ++stats.chunks;
      done += chunk.size();
      if (progress) progress(done, total_edges, pass);
    }
    if (pass == 0) st.place_isolated();
    stats.passes_done = pass + 1;
  }
}

void run_grem_semi_external(EdgeStream& stream, const PartitionConfig& cfg, StreamingState& st, PartitionStats& stats,
                            const PartitionProgressFn& progress) {
  detail::SemiExternalParams sp;
  sp.k = cfg.num_parts;
  sp.cap = st.cap_;
  sp.imbalance = cfg.imbalance;
  sp.budget_edges = default_chunk_edges(cfg);
  sp.seed = cfg.seed;
  sp.refine_sweeps = cfg.refine_sweeps;
  sp.temp_dir = cfg.temp_dir;
  sp.direct_io = cfg.scratch_direct_io;
  sp.wide_cluster_min_vertices_per_part = cfg.wide_cluster_min_vertices_per_part;
  sp.refine_skip_entry_ratio = cfg.refine_skip_entry_ratio;
  sp.jet_iterations = cfg.jet_iterations;
  sp.threads = std::max(1u, cfg.threads);
  if (cfg.passes > 0) sp.refine_rounds = cfg.passes;
  if (st.bw_) {
    sp.vertex_weights = &st.bw_->w;
    sp.ncon = st.bw_->ncon;
    sp.caps = st.bw_->cap;
    sp.totals = st.bw_->total;
    for (const auto& c : st.bw_->constraints) sp.eps.push_back(c.eps);
    for (std::uint32_t c = 0; c < st.bw_->ncon && sp.degree_column < 0; ++c)
      if (st.bw_->constraints[c].kind == BalanceKind::Edges && !st.bw_->w.empty()) sp.degree_column = static_cast<int>(c);
  }
  const detail::SemiExternalResult r = detail::semi_external_partition(stream, st.n_, sp, st.part_, progress);
  std::fill(st.size_.begin(), st.size_.end(), 0);
  for (PartId p : st.part_) ++st.size_[p];
  if (!st.bw_)
    for (std::uint32_t p = 0; p < cfg.num_parts; ++p)
      if (st.size_[p] > st.cap_) throw std::logic_error("GREM: part " + std::to_string(p) + " exceeds the balance bound");
  stats.balanced = r.balanced;
  stats.engine = "semi-external";
  stats.chunk_edges = sp.budget_edges;
  stats.passes_done = r.input_passes + r.block_passes;
  stats.chunks = r.blocks_read;
  stats.moves = r.moves;
  stats.levels = r.levels;
  stats.coarsest_nodes = r.coarsest_nodes;
  stats.coarsest_edges = r.coarsest_edges;
  stats.temp_bytes_peak = r.temp_bytes_peak;
  stats.scratch_direct = r.scratch_direct;
  stats.vcycle_split_blocks = r.vcycle_split_blocks;
  stats.wide_cluster_levels = r.wide_cluster_levels;
  stats.unrefined_levels = r.unrefined_levels;
  stats.level_sizes = r.level_sizes;
  // Each constraint beyond the first adds its weights and its cluster weights (8 B).
  stats.vertex_state_bytes = (kSemiExternalBytesPerVertex + 8 * (st.bw_ ? st.bw_->ncon - 1 : 0)) * st.n_;
  stats.seconds_input = r.seconds_input;
  stats.seconds_coarsen = r.seconds_coarsen;
  stats.seconds_initial = r.seconds_initial;
  stats.seconds_refine = r.seconds_refine;
  stats.cpu_input = r.cpu_input;
  stats.cpu_coarsen = r.cpu_coarsen;
  stats.cpu_initial = r.cpu_initial;
  stats.cpu_refine = r.cpu_refine;
  stats.budget_bytes = 64 * static_cast<std::uint64_t>(sp.budget_edges);
}

detail::DegreeLpParams degree_lp_params(const PartitionConfig& cfg, const StreamingState& st, std::size_t read_chunk) {
  detail::DegreeLpParams lp;
  lp.k = cfg.num_parts;
  lp.cap = st.cap_;
  lp.rounds = cfg.passes > 0 ? cfg.passes : 3;
  lp.slots = std::max(1, cfg.summary_slots);
  lp.seed = cfg.seed;
  lp.chunk_edges = read_chunk;
  return lp;
}

// Chooses GREM's engine (PartitionConfig::grem_engine; docs/partitioning.md).
void run_grem(EdgeStream& stream, const PartitionConfig& cfg, StreamingState& st, PartitionStats& stats,
              const PartitionProgressFn& progress) {
  const std::uint32_t k = cfg.num_parts;
  if (k > 65535) throw std::invalid_argument("GREM supports at most 65535 parts");
  using Engine = PartitionConfig::GremEngine;
  Engine engine = cfg.grem_engine;
  const std::size_t chunk_edges = default_chunk_edges(cfg);
  const std::uint64_t hint = stream.info().num_edges_hint;
  const bool one_chunk = hint > 0 && hint <= chunk_edges;
  if (engine == Engine::SemiExternal || (st.bw_ && engine == Engine::Auto)) {
    run_grem_semi_external(stream, cfg, st, stats, progress);
    return;
  }
  if (st.bw_)
    throw std::invalid_argument(std::string("GREM's ") + (engine == Engine::Multilevel ? "chunked multilevel" : "degree-LP") +
                                " engine balances vertices only; use the auto or semi-external engine with --balance");
  if (engine == Engine::Multilevel || k < 2 || st.n_ == 0) {
    run_grem_multilevel(stream, cfg, st, stats, progress);
    stats.engine = "multilevel";
    return;
  }
  // Degree pass (cheap: one increment per edge end) and skew test.
  const std::size_t read_chunk = std::min<std::size_t>(chunk_edges, std::size_t{1} << 20);
  std::uint64_t degree_chunks = 0;  // counted after the multilevel engine, whose seeds depend on the chunk count
  std::vector<std::uint32_t> deg = detail::stream_degrees(stream, st.n_, read_chunk, &degree_chunks);
  stats.degree_skew = detail::degree_block_score(deg, k, st.cap_);
  const bool skewed = stats.degree_skew >= 0.3;
  if (engine == Engine::Auto && !one_chunk) {
    // Larger than one chunk: the semi-external multilevel engine; on skewed graphs the LP
    // engine runs too (after it, so the two never hold their state at once) and the lower
    // cut is kept.
    std::vector<std::uint32_t>().swap(deg);
    run_grem_semi_external(stream, cfg, st, stats, progress);
    stats.passes_done += 1;  // the degree pass
    stats.chunks += degree_chunks;
    if (!skewed) return;
    const std::uint64_t se_cut = detail::stream_cut(stream, st.part_, read_chunk);
    std::vector<std::uint32_t> deg2 = detail::stream_degrees(stream, st.n_, read_chunk, &degree_chunks);
    const detail::DegreeLpParams lp = degree_lp_params(cfg, st, read_chunk);
    std::vector<PartId> lp_part(st.n_, kNoPart);
    const detail::DegreeLpResult r = detail::degree_lp_partition(stream, st.n_, std::move(deg2), lp, lp_part, progress);
    stats.passes_done += 2 + r.passes;  // scoring, degrees, LP rounds
    stats.chunks += degree_chunks + r.chunks;
    if (r.cut < se_cut) {
      st.part_ = std::move(lp_part);
      stats.moves = r.moves;
      stats.engine = "degree-lp";
      std::fill(st.size_.begin(), st.size_.end(), 0);
      for (PartId p : st.part_) ++st.size_[p];
    }
    return;
  }
  if (engine == Engine::Auto && !skewed) {
    deg = {};
    run_grem_multilevel(stream, cfg, st, stats, progress);
    stats.engine = "multilevel";
    ++stats.passes_done;  // the degree pass
    stats.chunks += degree_chunks;
    return;
  }
  std::vector<PartId> ml_part;
  std::uint64_t ml_cut = 0;
  PartitionStats ml_stats;
  if (engine == Engine::Auto && one_chunk) {
    StreamingState ml(st.n_, cfg);
    run_grem_multilevel(stream, cfg, ml, ml_stats, progress);
    ml.place_isolated();
    ml_cut = detail::stream_cut(stream, ml.part_, read_chunk);
    ml_part = std::move(ml.part_);
  }
  const detail::DegreeLpParams lp = degree_lp_params(cfg, st, read_chunk);
  const bool ran_ml = !ml_part.empty();
  const detail::DegreeLpResult r = detail::degree_lp_partition(stream, st.n_, std::move(deg), lp, st.part_, progress);
  stats.chunk_edges = read_chunk;
  if (ran_ml && ml_cut <= r.cut) {
    st.part_ = std::move(ml_part);
    stats.moves = ml_stats.moves;
    stats.chunk_edges = ml_stats.chunk_edges;
    stats.engine = "multilevel";
  } else {
    stats.moves = r.moves;
    stats.engine = "degree-lp";
  }
  stats.chunks += degree_chunks + r.chunks + ml_stats.chunks;
  stats.passes_done = 1 + r.passes + ml_stats.passes_done + (ran_ml ? 1 : 0);
  std::fill(st.size_.begin(), st.size_.end(), 0);
  for (PartId p : st.part_) ++st.size_[p];
  for (std::uint32_t p = 0; p < k; ++p)
    if (st.size_[p] > st.cap_) throw std::logic_error("GREM: part " + std::to_string(p) + " exceeds the balance bound");
}

// ---- FENNEL / LDG (vertex-streaming within each chunk) -------------------------------------
// Each chunk's arcs are grouped by vertex in first-appearance order; a vertex is placed (or,
// in later passes, re-placed) from the parts of its neighbours in the chunk:
//   FENNEL: argmax |N(v) ∩ P_i| - alpha * gamma * |P_i|^(gamma-1),  gamma = 1.5
//   LDG:    argmax |N(v) ∩ P_i| * (1 - |P_i| / C)
// with ties to the smaller part and a hard capacity C.
void run_vertex_stream(EdgeStream& stream, const PartitionConfig& cfg, StreamingState& st, PartitionStats& stats,
                       const PartitionProgressFn& progress, bool fennel) {
  const std::uint32_t k = cfg.num_parts;
  const int passes = cfg.passes > 0 ? cfg.passes : 1;
  const std::size_t chunk_edges = default_chunk_edges(cfg);
  stats.chunk_edges = chunk_edges;
  const double gamma = 1.5;
  double alpha = 0;
  if (fennel) {
    bool counted = false;
    alpha = fennel_alpha(st.n_, fennel_edge_count(stream, std::min(chunk_edges, std::size_t{1} << 20), &counted), k);
    if (counted) ++stats.passes_done;  // folded into the total below
  }
  const int count_pass = stats.passes_done;
  EdgeChunk chunk;
  ChunkGraph cg;
  std::vector<double> conn(k, 0);
  std::vector<PartId> touched;
  for (int pass = 0; pass < passes; ++pass) {
    stream.rewind();
    std::uint64_t done = 0;
    while (stream.next_chunk(chunk, chunk_edges)) {
      st.build_chunk(chunk, cg, 0);
      const auto& g = cg.g;
      for (std::uint32_t lv = 0; lv < cg.verts.size(); ++lv) {
        const VertexId v = cg.verts[lv];
        touched.clear();
        for (EdgeIndex e = g.xadj[lv]; e < g.xadj[lv + 1]; ++e) {
          const PartId p = st.part_[cg.verts[g.adj[e]]];
          if (p == kNoPart) continue;
          if (conn[p] == 0) touched.push_back(p);
          conn[p] += g.ew[e];
        }
        const PartId old = st.part_[v];
        PartId best = kNoPart;
        double best_score = -std::numeric_limits<double>::infinity();
        auto consider = [&](PartId p) {
          const std::uint64_t size = st.size_[p] - (p == old ? 1 : 0);
          if (st.bw_ ? (p != old && !st.fits(v, p)) : size + 1 > st.cap_) return;
          const double room = st.bw_ ? 1.0 - st.fill(p) : 1.0 - static_cast<double>(size) / static_cast<double>(st.cap_);
          // With several constraints FENNEL's size term is the fullest constraint's share,
          // in vertices, so that no constraint runs ahead of the others.
          const double fsize = st.bw_ ? st.fill(p) * static_cast<double>(st.n_) / static_cast<double>(k) : static_cast<double>(size);
          const double s = fennel ? conn[p] - alpha * gamma * std::sqrt(fsize) : conn[p] * room;
          if (s > best_score || (s == best_score && size < st.size_[best] - (best == old ? 1 : 0))) {
            best_score = s;
            best = p;
          }
        };
        for (PartId p : touched) consider(p);
        // Parts without neighbours score -penalty (FENNEL) or 0 (LDG): the smallest wins.
        PartId smallest = 0;
        if (st.bw_) {
          smallest = st.emptiest_for(v);
        } else {
          for (PartId p = 1; p < k; ++p)
            if (st.size_[p] - (p == old ? 1 : 0) < st.size_[smallest] - (smallest == old ? 1 : 0)) smallest = p;
        }
        consider(smallest);
        for (PartId p : touched) conn[p] = 0;
        if (best == kNoPart) best = smallest;
        if (best != old) {
          if (old != kNoPart) ++stats.moves;
          st.assign(v, best);
        }
      }
      st.release_chunk(cg);
      ++stats.chunks;
      done += chunk.size();
      if (progress) progress(done, stream.info().num_edges_hint, pass);
    }
    if (pass == 0) st.place_isolated();
    stats.passes_done = count_pass + pass + 1;
  }
}

// ---- hash -------------------------------------------------------------------------------------
void run_hash(const PartitionConfig& cfg, StreamingState& st, PartitionStats& stats) {
  // Several constraints: the heaviest vertices (relative to the bounds) go first, while
  // every part still has room for them; the rest fill in by hash.
  std::vector<VertexId> order;
  std::uint64_t heavy_until = 0;
  if (st.bw_) {
    order.resize(st.n_);
    std::iota(order.begin(), order.end(), VertexId{0});
    std::vector<float> rel(st.n_, 0);
    for (std::uint64_t v = 0; v < st.n_; ++v)
      for (std::uint32_t c = 0; c < st.bw_->ncon; ++c)
        rel[v] = std::max(rel[v], static_cast<float>(st.bw_->at(v, c)) / static_cast<float>(std::max<std::uint64_t>(1, st.bw_->cap[c])));
    std::stable_sort(order.begin(), order.end(), [&](VertexId a, VertexId b) { return rel[a] > rel[b]; });
    // Heavy vertices (over 4x the mean share of a bound) go to the least full part that
    // fits (LPT scheduling), so that no part fills one constraint with a few hubs and is
    // left unable to take its share of light vertices.
    heavy_until = 0;
    const float heavy = 4.0f * static_cast<float>(cfg.num_parts) / static_cast<float>(std::max<std::uint64_t>(1, st.n_));
    while (heavy_until < st.n_ && rel[order[heavy_until]] > heavy) ++heavy_until;
  }
  for (std::uint64_t i = 0; i < st.n_; ++i) {
    const std::uint64_t v = order.empty() ? i : order[i];
    PartId p = static_cast<PartId>(splitmix64(cfg.seed * 0x100000001b3ULL + v) % cfg.num_parts);
    if (st.bw_ && i < heavy_until) {
      p = st.emptiest_for(static_cast<VertexId>(v));
    } else if (st.bw_) {  // full under some constraint: the next part with room, else the least full
      std::uint32_t tries = 0;
      while (!st.fits(static_cast<VertexId>(v), p) && ++tries < cfg.num_parts) p = (p + 1) % cfg.num_parts;
      if (tries == cfg.num_parts) p = st.emptiest_for(static_cast<VertexId>(v));
    } else {
      while (st.size_[p] >= st.cap_) p = (p + 1) % cfg.num_parts;  // full: next part
    }
    st.assign(static_cast<VertexId>(v), p);
  }
  stats.passes_done = 0;
}

// ---- METIS ------------------------------------------------------------------------------------
// Refused from the header's counts before anything is read or allocated (at 10^9 edges the
// CSR build alone takes minutes and tens of GB): a file that lists each edge once holds 2
// adjacency entries per listed edge, any other at least 1 (unless it repeats edges, which
// merge; such a file is refused too, naming the count). run_metis checks the exact count.
void check_metis_index_range(const EdgeStream& stream) {
  const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<idx_t>::max());
  const std::uint64_t n = stream.info().num_nodes;
  const std::uint64_t listed = stream.info().num_edges_hint;
  const std::uint64_t per_edge = stream.info().each_edge_once ? 2 : 1;
  if (listed > limit / per_edge || n > limit)
    throw_file(stream.info().path, "graph exceeds METIS's " + std::to_string(sizeof(idx_t) * 8) + "-bit index range (" +
                                       std::to_string(n) + " vertices, " + std::to_string(listed) +
                                       " edges listed: " + std::to_string(per_edge * listed) +
                                       " adjacency entries or more, METIS takes at most " + std::to_string(limit) +
                                       "); use a streaming algorithm (grem)");
}

std::vector<PartId> run_metis(EdgeStream& stream, const PartitionConfig& cfg, PartitionStats& stats,
                              const BalanceWeights* bw) {
  const std::uint64_t n = stream.info().num_nodes;
  if (cfg.num_parts > n && n > 0)  // METIS prints warnings and returns garbage here
    throw std::invalid_argument("METIS cannot split " + std::to_string(n) + " vertices into " +
                                std::to_string(cfg.num_parts) + " parts; use fewer parts or a streaming algorithm");
  const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<idx_t>::max());
  CsrBuildOptions build;
  build.chunk_edges = default_chunk_edges(cfg);
  const CsrGraph g = build_csr(stream, build);
  if (n > limit || g.num_arcs() > limit)
    throw_file(stream.info().path, "graph exceeds METIS's " + std::to_string(sizeof(idx_t) * 8) +
                                       "-bit index range (" + std::to_string(g.num_arcs()) +
                                       " adjacency entries); use a streaming algorithm");
  std::vector<idx_t> xadj(g.offsets().begin(), g.offsets().end());
  std::vector<idx_t> adjncy(g.targets().begin(), g.targets().end());
  const std::vector<idx_t> adjwgt = g.has_weights() ? detail::metis_edge_weights(g.weights()) : std::vector<idx_t>{};
  idx_t nv = static_cast<idx_t>(n), ncon = 1, nparts = static_cast<idx_t>(cfg.num_parts), objval = 0;
  // Several constraints: METIS's multi-constraint k-way (ncon, vwgt, ubvec = 1 + eps_c).
  std::vector<idx_t> vwgt;
  std::vector<real_t> ubvec;
  if (bw) {
    ncon = static_cast<idx_t>(bw->ncon);
    vwgt.resize(bw->w.size());
    for (std::size_t i = 0; i < bw->w.size(); ++i) {
      if (bw->w[i] > static_cast<std::uint32_t>(std::numeric_limits<idx_t>::max()))
        throw_file(stream.info().path, "a vertex weight exceeds METIS's 32-bit range");
      vwgt[i] = static_cast<idx_t>(bw->w[i]);
    }
    for (std::uint32_t c = 0; c < bw->ncon; ++c) {
      if (bw->total[c] > static_cast<std::uint64_t>(std::numeric_limits<idx_t>::max()))
        throw_file(stream.info().path, "the total of constraint " + constraint_name(bw->constraints[c]) +
                                           " exceeds METIS's 32-bit range");
      ubvec.push_back(static_cast<real_t>(1.0 + std::max(0.001, bw->constraints[c].eps)));
    }
  }
  std::vector<idx_t> part(n, 0);
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = static_cast<idx_t>(splitmix64(cfg.seed) & 0x7fffffff);  // idx_t is 32-bit
  options[METIS_OPTION_UFACTOR] = std::max<idx_t>(1, static_cast<idx_t>(std::lround(cfg.imbalance * 1000)));  // METIS rejects 0
  options[METIS_OPTION_NUMBERING] = 0;
  if (cfg.num_parts > 1 && n > 0) {
    const int rc = METIS_PartGraphKway(&nv, &ncon, xadj.data(), adjncy.data(), vwgt.empty() ? nullptr : vwgt.data(),
                                       nullptr, adjwgt.empty() ? nullptr : const_cast<idx_t*>(adjwgt.data()), &nparts,
                                       nullptr, ubvec.empty() ? nullptr : ubvec.data(), options, &objval, part.data());
    if (rc != METIS_OK) throw std::runtime_error("METIS_PartGraphKway failed with code " + std::to_string(rc));
  }
  stats.passes_done = 2;  // CSR build reads the stream twice
  return std::vector<PartId>(part.begin(), part.end());
}

}  // namespace

namespace detail {
std::vector<std::int32_t> metis_edge_weights(const std::vector<float>& w) {
  static_assert(sizeof(idx_t) == sizeof(std::int32_t), "METIS built with 32-bit idx_t expected");
  constexpr double kMaxSum = 2147483647.0;  // METIS sums a vertex's edge weights in idx_t
  constexpr double kMaxExact = 16777216.0;  // 2^24: float holds every integer up to here
  double max_w = 0, sum = 0;
  bool integral = true;
  for (float x : w) {
    const double d = x;
    if (!(d >= 1) || d != std::floor(d) || d > kMaxExact) integral = false;
    if (d > max_w) max_w = d;
    sum += d > 0 ? d : 0;
  }
  std::vector<std::int32_t> out(w.size(), 1);
  if (integral && sum <= kMaxSum) {
    for (std::size_t i = 0; i < w.size(); ++i) out[i] = static_cast<std::int32_t>(w[i]);
    return out;
  }
  if (!(max_w > 0)) return out;  // no positive weight: all 1
  // Scale in proportion: the largest weight becomes `top`, chosen so that the total stays
  // within idx_t; anything positive becomes at least 1, zero or negative weights 1.
  const double top = std::max(1.0, std::min(1048576.0, std::floor(kMaxSum / std::max<double>(1, w.size()))));
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double d = w[i];
    out[i] = d > 0 ? static_cast<std::int32_t>(std::max(1.0, std::round(d / max_w * top))) : 1;
  }
  return out;
}
}  // namespace detail

std::size_t effective_chunk_edges(const PartitionConfig& cfg) {
  if (cfg.chunk_edges > kMaxChunkEdges)
    throw std::invalid_argument("chunk size " + std::to_string(cfg.chunk_edges) + " edges is above the limit of " +
                                std::to_string(kMaxChunkEdges) + " (2^31 - 1)");
  if (cfg.chunk_edges) return cfg.chunk_edges;
  // Chunk working memory is about 64 bytes per chunk edge (edge arrays, local CSR both
  // directions with weights, coarse levels, matching scratch).
  const std::uint64_t budget = cfg.memory_budget ? cfg.memory_budget : (std::uint64_t{256} << 20);
  return static_cast<std::size_t>(
      std::min<std::uint64_t>(kMaxChunkEdges, std::max<std::uint64_t>(1024, budget / 64)));
}

double fennel_alpha(std::uint64_t n, std::uint64_t m, std::uint32_t k) {
  if (n == 0) return 0;
  return std::sqrt(static_cast<double>(k)) * std::max(1.0, static_cast<double>(m)) /
         std::pow(static_cast<double>(n), 1.5);
}

std::uint64_t fennel_edge_count(EdgeStream& stream, std::size_t chunk_edges, bool* counted) {
  const EdgeStreamInfo& info = stream.info();
  if (counted) *counted = false;
  if (info.each_edge_once && info.num_edges_hint > 0) return info.num_edges_hint;
  if (counted) *counted = true;
  std::uint64_t entries = 0, balance = 0;
  EdgeChunk c;
  stream.rewind();
  while (stream.next_chunk(c, chunk_edges)) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      const VertexId u = c.src[i], v = c.dst[i];
      if (u == v) continue;
      ++entries;
      const std::uint64_t lo = std::min(u, v), hi = std::max(u, v);
      const std::uint64_t h = splitmix64((lo << 32) ^ hi ^ 0x5fe14e1a1fa0c3d7ULL);
      balance += u < v ? h : 0 - h;  // wraps modulo 2^64
    }
  }
  stream.rewind();
  if (info.each_edge_once) return entries;
  return balance == 0 ? entries / 2 : entries;
}

std::uint64_t partition_state_lower_bound(const PartitionConfig& cfg, std::uint64_t n, std::uint64_t m) {
  std::uint64_t per_vertex = 0, per_edge = 0;
  switch (cfg.algo) {
    case PartitionAlgo::Grem:  // the lighter engine's: part + affinity summary (4 B a slot) + local-id map
      // (the semi-external engine needs kSemiExternalBytesPerVertex; this is a lower bound)
      per_vertex = 8 + 4 * static_cast<std::uint64_t>(std::max(1, cfg.summary_slots));
      break;
    case PartitionAlgo::Fennel:
    case PartitionAlgo::Ldg: per_vertex = 8; break;  // part + local-id map
    case PartitionAlgo::Hash: per_vertex = 4; break;
    case PartitionAlgo::Metis:  // our CSR (8 B offsets, 4 B targets) + METIS's copy + part;
      per_vertex = 8 + 2 * sizeof(idx_t);  // at least one arc per listed edge (two when listed once)
      per_edge = 4 + sizeof(idx_t);
      break;
  }
  const long double b = static_cast<long double>(per_vertex) * n + static_cast<long double>(per_edge) * m;
  return b >= 1.8e19L ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(b);
}

namespace {

// A header declaring billions of vertices (or a graph too large for this node) fails here,
// naming the file and the figures, before the O(n) arrays are allocated: otherwise the
// allocator throws a bare bad_alloc or, with overcommit, the OOM killer ends the run midway.
void check_state_fits(const EdgeStream& stream, const PartitionConfig& cfg) {
  const std::uint64_t n = stream.info().num_nodes, m = stream.info().num_edges_hint;
  const std::uint64_t need = partition_state_lower_bound(cfg, n, m);
  const std::int64_t avail = mem_available_bytes();
  if (avail < 0 || need <= static_cast<std::uint64_t>(avail)) return;
  throw_file(stream.info().path,
             std::to_string(n) + " vertices" + (m ? ", " + std::to_string(m) + " edges" : std::string()) + ": " +
                 algo_name(cfg.algo) + " needs at least " + gib_string(static_cast<double>(need)) + " for its per-vertex state, more than the " +
                 gib_string(static_cast<double>(avail)) + " of memory available here; partition on a node with more memory " +
                 "(docs/cluster.md, \"Partitioning node\"), or check the vertex count in the file's header");
}

}  // namespace

void check_partition_inputs(const EdgeStream& stream, const PartitionConfig& cfg) {
  if (cfg.algo == PartitionAlgo::Metis) check_metis_index_range(stream);
  check_state_fits(stream, cfg);
}

std::vector<PartId> partition_graph(EdgeStream& stream, const PartitionConfig& cfg, PartitionStats* stats_out,
                                    const PartitionProgressFn& progress) {
  if (cfg.num_parts == 0) throw std::invalid_argument("number of parts must be at least 1");
  if (cfg.imbalance < 0) throw std::invalid_argument("imbalance must be >= 0");
  (void)effective_chunk_edges(cfg);  // rejects chunk sizes beyond kMaxChunkEdges
  const auto t0 = Clock::now();
  PartitionStats stats;
  std::vector<PartId> result;
  const std::uint64_t n = stream.info().num_nodes;
  check_partition_inputs(stream, cfg);
  // Balance constraints: the vertex count alone keeps the fast paths (and its eps becomes
  // `imbalance`); anything else gets per-vertex weights.
  PartitionConfig c1 = cfg;
  if (c1.balance.size() == 1 && c1.balance[0].kind == BalanceKind::Nodes) {
    c1.imbalance = c1.balance[0].eps;
    c1.balance.clear();
  }
  BalanceWeights own_weights;
  const BalanceWeights* bw = nullptr;
  if (c1.weights && !c1.weights->nodes_only()) {
    bw = c1.weights;
  } else if (!c1.weights && !c1.balance.empty()) {
    own_weights = compute_balance_weights(stream, c1.balance, c1.num_parts, c1.balance_inputs,
                                          std::min<std::size_t>(effective_chunk_edges(c1), std::size_t{1} << 20));
    bw = &own_weights;
  } else if (c1.weights) {
    c1.imbalance = c1.weights->constraints[0].eps;
  }
  if (bw && bw->n != n) throw std::invalid_argument("balance weights are for another graph");
  const PartitionConfig& cfgx = c1;
  if (cfgx.algo == PartitionAlgo::Metis) {
    result = run_metis(stream, cfgx, stats, bw);
  } else {
    StreamingState st(n, cfgx);
    st.set_constraints(bw);
    switch (cfgx.algo) {
      case PartitionAlgo::Grem: run_grem(stream, cfgx, st, stats, progress); break;
      case PartitionAlgo::Fennel: run_vertex_stream(stream, cfgx, st, stats, progress, true); break;
      case PartitionAlgo::Ldg: run_vertex_stream(stream, cfgx, st, stats, progress, false); break;
      case PartitionAlgo::Hash: run_hash(cfgx, st, stats); break;
      case PartitionAlgo::Metis: break;
    }
    st.place_isolated();
    result = std::move(st.part_);
    // Several constraints: whatever a streaming algorithm could not place within every
    // bound is repaired (moves and swaps on the few vertices concerned; METIS, the
    // baseline, is left as it returns).
    if (bw) {
      std::uint64_t repaired = 0;
      stats.balanced = repair_balance(result, *bw, cfgx.num_parts, splitmix64(cfgx.seed ^ 0xba1a9ceULL), &repaired);
      stats.moves += repaired;
    }
  }
  stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (stats_out) *stats_out = stats;
  return result;
}

}  // namespace flotilla
