// GREM's streaming engine for large skewed graphs (see grem_lp.h and docs/partitioning.md).
#include "grem_lp.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "flotilla/datasets/random.h"

namespace flotilla::detail {
namespace {

// Per-vertex (part, weight) slots packed as part << 16 | weight in a uint32, `slots` per
// vertex, space-saving rule: a part not yet present replaces the lightest slot when that
// slot weighs at most 1 (the new part's weight). Weights saturate at 65535.
class PackedSummary {
 public:
  PackedSummary(std::uint64_t n, int slots) : slots_(slots), s_(n * static_cast<std::uint64_t>(slots), kEmpty) {}
  void clear() { std::fill(s_.begin(), s_.end(), kEmpty); }
  void add(VertexId v, PartId p) {
    std::uint32_t* s = &s_[static_cast<std::size_t>(v) * slots_];
    int lightest = 0;
    std::uint32_t lw = 0x10000;
    for (int i = 0; i < slots_; ++i) {
      const std::uint32_t x = s[i];
      if ((x >> 16) == p) {
        if ((x & 0xffff) != 0xffff) s[i] = x + 1;
        return;
      }
      if (x == kEmpty) {
        s[i] = (p << 16) | 1u;
        return;
      }
      if ((x & 0xffff) < lw) { lw = x & 0xffff; lightest = i; }
    }
    if (lw <= 1) s[lightest] = (p << 16) | 1u;
  }
  const std::uint32_t* at(std::uint64_t v) const { return &s_[v * slots_]; }
  void prefetch(VertexId v) const { __builtin_prefetch(&s_[static_cast<std::size_t>(v) * slots_], 1); }
  int slots() const { return slots_; }
  static constexpr std::uint32_t kEmpty = 0xffffffffu;

 private:
  int slots_;
  std::vector<std::uint32_t> s_;
};

struct Candidate {
  std::uint16_t from, to;
  std::int32_t gain;  // cut reduction if v moves from -> to (may be negative)
  VertexId v;
};

// Vertices by degree, highest first; ties by id (deterministic, and ids carry no meaning
// the partitioner relies on).
std::vector<VertexId> degree_order(const std::vector<std::uint32_t>& deg) {
  const std::uint64_t n = deg.size();
  std::uint32_t max_deg = 0;
  for (auto d : deg) max_deg = std::max(max_deg, d);
  const std::uint32_t buckets = std::min<std::uint64_t>(max_deg, std::uint64_t{1} << 24) + 1;
  std::vector<std::uint64_t> start(buckets + 1, 0);
  auto bucket = [&](std::uint32_t d) { return buckets - 1 - std::min(d, buckets - 1); };  // descending
  for (auto d : deg) ++start[bucket(d) + 1];
  for (std::uint32_t b = 0; b < buckets; ++b) start[b + 1] += start[b];
  std::vector<VertexId> order(n);
  for (std::uint64_t v = 0; v < n; ++v) order[start[bucket(deg[v])]++] = static_cast<VertexId>(v);
  return order;
}

}  // namespace

std::vector<std::uint32_t> stream_degrees(EdgeStream& stream, std::uint64_t n, std::size_t chunk_edges,
                                          std::uint64_t* chunks) {
  std::vector<std::uint32_t> deg(n, 0);
  EdgeChunk chunk;
  stream.rewind();
  while (stream.next_chunk(chunk, chunk_edges)) {
    for (std::size_t i = 0, m = chunk.size(); i < m; ++i) {
      if (i + 16 < m) {  // random accesses: prefetch ahead
        __builtin_prefetch(&deg[chunk.src[i + 16]], 1);
        __builtin_prefetch(&deg[chunk.dst[i + 16]], 1);
      }
      const VertexId u = chunk.src[i], v = chunk.dst[i];
      if (u == v) continue;
      if (deg[u] != std::numeric_limits<std::uint32_t>::max()) ++deg[u];
      if (deg[v] != std::numeric_limits<std::uint32_t>::max()) ++deg[v];
    }
    if (chunks) ++*chunks;
  }
  return deg;
}

double degree_block_score(const std::vector<std::uint32_t>& deg, std::uint32_t k, std::uint64_t cap) {
  if (deg.empty() || k < 2 || cap == 0) return 0;
  const std::vector<VertexId> order = degree_order(deg);
  double total = 0;
  for (auto d : deg) total += d;
  if (total == 0) return 0;
  double score = 0, block = 0;
  for (std::uint64_t i = 0; i < order.size(); ++i) {
    block += deg[order[i]];
    if ((i + 1) % cap == 0 || i + 1 == order.size()) {
      score += (block / total) * (block / total);
      block = 0;
    }
  }
  // 0 for equal degrees (score = about 1/k), 1 when one block holds every edge end.
  const double flat = 1.0 / k;
  return std::max(0.0, (score - flat) / (1.0 - flat));
}

std::uint64_t stream_cut(EdgeStream& stream, const std::vector<PartId>& part, std::size_t chunk_edges) {
  EdgeChunk chunk;
  std::uint64_t cut = 0;
  stream.rewind();
  while (stream.next_chunk(chunk, chunk_edges))
    for (std::size_t i = 0; i < chunk.size(); ++i) cut += part[chunk.src[i]] != part[chunk.dst[i]];
  return cut;
}

DegreeLpResult degree_lp_partition(EdgeStream& stream, std::uint64_t n, std::vector<std::uint32_t>&& deg,
                                   const DegreeLpParams& prm, std::vector<PartId>& part,
                                   const PartitionProgressFn& progress) {
  const std::uint32_t k = prm.k;
  if (k > 65535) throw std::invalid_argument("GREM supports at most 65535 parts");
  const std::uint64_t cap = prm.cap;
  if (cap * k < n) throw std::logic_error("GREM: capacity too small");
  DegreeLpResult res;
  // 1. Degree-ordered placement: the highest-degree vertices fill part 0 up to the bound,
  // the next ones part 1, and so on. On power-law graphs most edges have a hub at one end,
  // and the part of hubs keeps the many hub-hub edges uncut; isolated and degree-1 vertices
  // end up as filler in the last parts.
  // Part 0 takes `cap` vertices; the others share the rest evenly, so they keep some room
  // for one-way moves.
  const std::uint64_t first = std::min<std::uint64_t>(cap, n);
  const std::uint64_t rest = std::max<std::uint64_t>(1, k > 1 ? (n - first + k - 2) / (k - 1) : 0);
  part.assign(n, 0);
  std::vector<std::uint64_t> size(k, 0);
  {
    const std::vector<VertexId> order = degree_order(deg);
    for (std::uint64_t i = 0; i < n; ++i) {
      const PartId p = i < first ? 0 : static_cast<PartId>(std::min<std::uint64_t>(1 + (i - first) / rest, k - 1));
      part[order[i]] = p;
      ++size[p];
    }
  }
  deg = std::vector<std::uint32_t>();  // not needed any more: free before the summaries
  for (std::uint32_t p = 0; p < k; ++p)
    if (size[p] > cap) throw std::logic_error("GREM: degree placement exceeds the bound");

  // 2. Label-propagation rounds. Each streams all edges once, rebuilding every vertex's
  // summary of the parts its neighbours are in, and measuring the current cut; then half of
  // the vertices (alternating, by a seeded hash) ask to move to the part they are most
  // connected to. Moves between two parts are paired (swaps keep both sizes), the rest go
  // through in order of gain while the target part is below the bound.
  PackedSummary summary(n, std::max(1, std::min(prm.slots, 16)));
  const int slots = summary.slots();
  std::vector<PartId> best_part;
  std::uint64_t best_cut = std::numeric_limits<std::uint64_t>::max();
  EdgeChunk chunk;
  std::vector<Candidate> cands;
  const std::uint64_t total_edges = stream.info().num_edges_hint;
  const int rounds = std::max(1, prm.rounds);
  for (int r = 0; r < rounds; ++r) {
    summary.clear();
    std::uint64_t cut = 0, done = 0;
    stream.rewind();
    while (stream.next_chunk(chunk, prm.chunk_edges)) {
      const VertexId* src = chunk.src.data();
      const VertexId* dst = chunk.dst.data();
      const std::size_t m = chunk.size();
      constexpr std::size_t kAhead = 16;  // prefetch distance: the accesses are random
      for (std::size_t i = 0; i < std::min(m, kAhead); ++i) {
        __builtin_prefetch(&part[src[i]]);
        __builtin_prefetch(&part[dst[i]]);
      }
      for (std::size_t i = 0; i < m; ++i) {
        if (i + kAhead < m) {
          __builtin_prefetch(&part[src[i + kAhead]]);
          __builtin_prefetch(&part[dst[i + kAhead]]);
          summary.prefetch(src[i + kAhead]);
          summary.prefetch(dst[i + kAhead]);
        }
        const VertexId u = src[i], v = dst[i];
        if (u == v) continue;
        const PartId pu = part[u], pv = part[v];
        cut += pu != pv;
        summary.add(u, pv);
        summary.add(v, pu);
      }
      ++res.chunks;
      done += chunk.size();
      if (progress) progress(done, total_edges, r);
    }
    ++res.passes;
    if (cut < best_cut) {
      best_cut = cut;
      if (r + 1 < rounds) best_part = part;
      else best_part.clear();  // current is best
    }
    if (r + 1 == rounds) break;

    cands.clear();
    const std::int32_t max_loss = 1 << 20;
    const std::uint64_t salt = splitmix64(prm.seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(r));
    for (std::uint64_t v = 0; v < n; ++v) {
      if ((splitmix64(salt ^ v) & 1) != 0) continue;
      const PartId a = part[v];
      const std::uint32_t* s = summary.at(v);
      std::uint32_t wa = 0, wb = 0;
      PartId b = kNoPart;
      for (int i = 0; i < slots; ++i) {
        if (s[i] == PackedSummary::kEmpty) break;
        const PartId p = s[i] >> 16;
        const std::uint32_t w = s[i] & 0xffff;
        if (p == a) wa = w;
        else if (w > wb || (w == wb && p < b)) { wb = w; b = p; }
      }
      if (b == kNoPart) continue;
      const std::int32_t gain = static_cast<std::int32_t>(wb) - static_cast<std::int32_t>(wa);
      if (gain > -max_loss) cands.push_back({static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b), gain, static_cast<VertexId>(v)});
    }
    std::sort(cands.begin(), cands.end(), [](const Candidate& x, const Candidate& y) {
      if (x.from != y.from) return x.from < y.from;
      if (x.to != y.to) return x.to < y.to;
      if (x.gain != y.gain) return x.gain > y.gain;
      return x.v < y.v;
    });
    // Runs of equal (from, to).
    struct Run { PartId from, to; std::size_t begin, end; };
    std::vector<Run> runs;
    for (std::size_t i = 0; i < cands.size();) {
      std::size_t j = i;
      while (j < cands.size() && cands[j].from == cands[i].from && cands[j].to == cands[i].to) ++j;
      runs.push_back({cands[i].from, cands[i].to, i, j});
      i = j;
    }
    constexpr std::int32_t kDone = std::numeric_limits<std::int32_t>::min();
    auto move = [&](Candidate& c) {
      part[c.v] = c.to;
      --size[c.from];
      ++size[c.to];
      c.gain = kDone;
      ++res.moves;
    };
    for (const Run& ab : runs) {
      if (ab.from > ab.to) continue;
      const Run key{ab.to, ab.from, 0, 0};
      auto jt = std::lower_bound(runs.begin(), runs.end(), key, [](const Run& x, const Run& y) {
        return x.from != y.from ? x.from < y.from : x.to < y.to;
      });
      if (jt == runs.end() || jt->from != ab.to || jt->to != ab.from) continue;
      const std::size_t pairs = std::min(ab.end - ab.begin, jt->end - jt->begin);
      // Swap the best of each direction while the pair's gains sum to more than zero.
      for (std::size_t i = 0; i < pairs; ++i) {
        Candidate& x = cands[ab.begin + i];
        Candidate& y = cands[jt->begin + i];
        if (static_cast<std::int64_t>(x.gain) + y.gain <= 0) break;
        move(x);
        move(y);
      }
    }
    // One-way moves, best gain first, while the target has room.
    std::size_t w = 0;
    for (std::size_t i = 0; i < cands.size(); ++i)
      if (cands[i].gain > 0) cands[w++] = cands[i];  // not moved, positive
    cands.resize(w);
    std::stable_sort(cands.begin(), cands.end(), [](const Candidate& x, const Candidate& y) { return x.gain > y.gain; });
    for (Candidate& c : cands)
      if (size[c.to] < cap) move(c);
  }
  if (!best_part.empty()) part = std::move(best_part);
  res.cut = best_cut;
  return res;
}

}  // namespace flotilla::detail
