// Multilevel k-way partitioning with fixed vertices: heavy-edge matching, greedy growing
// on the coarsest graph, greedy boundary refinement on every level (METIS's k-way scheme,
// simplified). Deterministic for a seed.
#include "multilevel.h"

#include <algorithm>
#include <numeric>
#include <queue>

#include "flotilla/datasets/random.h"

namespace flotilla::detail {
namespace {

constexpr std::uint32_t kNone = ~std::uint32_t{0};

std::vector<std::uint32_t> random_order(std::uint32_t n, Rng& rng) {
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  for (std::uint32_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

// Label of a vertex for matching compatibility: its fixed part, else its initial part.
PartId label_of(const WeightedGraph& g, const std::vector<PartId>& part, std::uint32_t v) {
  return g.fixed[v] != kNoPart ? g.fixed[v] : part[v];
}

// One coarsening step. Returns false when the graph barely shrinks.
bool coarsen(const WeightedGraph& g, const std::vector<PartId>& part, Rng& rng, std::uint32_t max_vw,
             WeightedGraph& cg, std::vector<PartId>& cpart, std::vector<std::uint32_t>& cmap) {
  const std::uint32_t n = g.n();
  std::vector<std::uint32_t> match(n, kNone);
  for (std::uint32_t v : random_order(n, rng)) {
    if (match[v] != kNone) continue;
    const PartId lv = label_of(g, part, v);
    std::uint32_t best = kNone;
    float best_w = 0;
    for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) {
      const std::uint32_t u = g.adj[e];
      if (u == v || match[u] != kNone || g.ew[e] <= best_w) continue;
      const PartId lu = label_of(g, part, u);
      if (lv != kNoPart && lu != kNoPart && lv != lu) continue;
      if (g.fixed[v] != kNoPart && g.fixed[u] != kNoPart) continue;  // anchors stay apart
      if (g.vw[v] + g.vw[u] > max_vw) continue;
      best = u;
      best_w = g.ew[e];
    }
    if (best == kNone) {
      match[v] = v;
    } else {
      match[v] = best;
      match[best] = v;
    }
  }
  cmap.assign(n, kNone);
  std::uint32_t cn = 0;
  for (std::uint32_t v = 0; v < n; ++v)
    if (cmap[v] == kNone) {
      cmap[v] = cn;
      cmap[match[v]] = cn;
      ++cn;
    }
  if (cn > n - n / 20) return false;  // < 5% shrink: not worth another level
  cg = WeightedGraph();
  cg.xadj.assign(1, 0);
  cg.vw.assign(cn, 0);
  cg.fixed.assign(cn, kNoPart);
  cpart.assign(cn, kNoPart);
  std::vector<std::uint32_t> slot(cn, kNone);  // coarse neighbour -> position in current list
  std::vector<std::uint32_t> members;
  std::uint32_t next = 0;
  for (std::uint32_t v = 0; v < n; ++v) {
    if (cmap[v] != next) continue;  // visit each coarse vertex once, at its first member
    members.assign(1, v);
    if (match[v] != v) members.push_back(match[v]);
    const std::size_t start = cg.adj.size();
    for (std::uint32_t x : members) {
      cg.vw[next] += g.vw[x];
      if (g.fixed[x] != kNoPart) cg.fixed[next] = g.fixed[x];
      const PartId l = label_of(g, part, x);
      if (l != kNoPart) cpart[next] = l;
      for (EdgeIndex e = g.xadj[x]; e < g.xadj[x + 1]; ++e) {
        const std::uint32_t cu = cmap[g.adj[e]];
        if (cu == next) continue;
        if (slot[cu] == kNone) {
          slot[cu] = static_cast<std::uint32_t>(cg.adj.size());
          cg.adj.push_back(cu);
          cg.ew.push_back(g.ew[e]);
        } else {
          cg.ew[slot[cu]] += g.ew[e];
        }
      }
    }
    for (std::size_t i = start; i < cg.adj.size(); ++i) slot[cg.adj[i]] = kNone;
    cg.xadj.push_back(cg.adj.size());
    ++next;
  }
  return true;
}

struct Loads {
  std::vector<std::int64_t> load, cap;
  bool fits(PartId p, std::int64_t w) const { return load[p] + w <= cap[p]; }
};

// Greedy growing: unassigned vertices in order of connectivity to assigned ones; each to
// its best-connected part with room (ties and zero connectivity: the emptiest part).
void initial_assignment(const WeightedGraph& g, std::uint32_t k, Loads& loads, std::vector<PartId>& part, Rng& rng) {
  const std::uint32_t n = g.n();
  std::vector<float> conn_total(n, 0);
  using Item = std::pair<float, std::uint32_t>;
  std::priority_queue<Item> heap;
  std::vector<std::uint32_t> unassigned;
  for (std::uint32_t v = 0; v < n; ++v) {
    if (g.fixed[v] != kNoPart) part[v] = g.fixed[v];
  }
  for (std::uint32_t v : random_order(n, rng)) {
    if (part[v] != kNoPart) continue;
    unassigned.push_back(v);
    for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e)
      if (part[g.adj[e]] != kNoPart) conn_total[v] += g.ew[e];
    if (conn_total[v] > 0) heap.push({conn_total[v], v});
  }
  std::vector<float> conn(k, 0);
  std::vector<PartId> touched;
  std::size_t cursor = 0;  // next vertex of the random order to seed from when the heap is empty
  std::uint32_t placed = 0;
  const auto place = [&](std::uint32_t v) {
    touched.clear();
    for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) {
      const PartId p = part[g.adj[e]];
      if (p == kNoPart) continue;
      if (conn[p] == 0) touched.push_back(p);
      conn[p] += g.ew[e];
    }
    PartId best = kNoPart;
    float best_c = -1;
    for (PartId p : touched)
      if (loads.fits(p, g.vw[v]) && (conn[p] > best_c || (conn[p] == best_c && loads.load[p] < loads.load[best]))) {
        best = p;
        best_c = conn[p];
      }
    for (PartId p : touched) conn[p] = 0;
    if (best == kNoPart) {  // no connected part has room: the emptiest part relative to capacity
      double best_room = -1e300;
      for (PartId p = 0; p < k; ++p) {
        const double room = static_cast<double>(loads.cap[p] - loads.load[p]);
        if (room > best_room) { best_room = room; best = p; }
      }
    }
    part[v] = best;
    loads.load[best] += g.vw[v];
    ++placed;
    for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) {
      const std::uint32_t u = g.adj[e];
      if (part[u] != kNoPart) continue;
      conn_total[u] += g.ew[e];
      heap.push({conn_total[u], u});
    }
  };
  while (placed < unassigned.size()) {
    std::uint32_t v = kNone;
    while (!heap.empty()) {
      const Item top = heap.top();
      heap.pop();
      if (part[top.second] == kNoPart && top.first == conn_total[top.second]) { v = top.second; break; }
    }
    if (v == kNone) {
      while (part[unassigned[cursor]] != kNoPart) ++cursor;
      v = unassigned[cursor];
    }
    place(v);
  }
}

// Greedy boundary refinement: move a vertex to the part it is most connected to when that
// lowers the cut (or keeps it and evens the loads), capacity permitting. Overloaded parts are
// drained first, even at a cost.
std::uint64_t refine(const WeightedGraph& g, std::uint32_t k, Loads& loads, std::vector<PartId>& part, int sweeps,
                     Rng& rng) {
  const std::uint32_t n = g.n();
  std::vector<float> conn(k, 0);
  std::vector<PartId> touched;
  std::uint64_t total_moves = 0;
  for (int s = 0; s < sweeps; ++s) {
    bool overloaded = false;
    for (PartId p = 0; p < k; ++p) overloaded |= loads.load[p] > loads.cap[p];
    std::uint64_t moves = 0;
    for (std::uint32_t v : random_order(n, rng)) {
      if (g.fixed[v] != kNoPart) continue;
      const PartId cur = part[v];
      const bool drain = loads.load[cur] > loads.cap[cur];
      touched.clear();
      for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) {
        const PartId p = part[g.adj[e]];
        if (conn[p] == 0) touched.push_back(p);
        conn[p] += g.ew[e];
      }
      if (touched.empty() && !drain) continue;
      const std::int64_t w = g.vw[v];
      PartId best = cur;
      float best_gain = 0;
      const float here = conn[cur];
      for (PartId p : touched) {
        if (p == cur || !loads.fits(p, w)) continue;
        const float gain = conn[p] - here;
        if (gain > best_gain ||
            (gain == best_gain && best == cur && gain == 0 && loads.load[p] + w < loads.load[cur]) ||
            (drain && best == cur)) {
          best = p;
          best_gain = gain;
        }
      }
      if (drain && best == cur) {  // no connected part has room: emptiest part
        std::int64_t best_room = 0;
        for (PartId p = 0; p < k; ++p)
          if (p != cur && loads.cap[p] - loads.load[p] - w >= best_room) { best_room = loads.cap[p] - loads.load[p] - w; best = p; }
      }
      for (PartId p : touched) conn[p] = 0;
      conn[cur] = 0;
      if (best != cur) {
        loads.load[cur] -= w;
        loads.load[best] += w;
        part[v] = best;
        ++moves;
      }
    }
    total_moves += moves;
    if (!overloaded && moves * 1000 < n) break;
  }
  return total_moves;
}

}  // namespace

double cut_weight(const WeightedGraph& g, const std::vector<PartId>& part) {
  double cut = 0;
  for (std::uint32_t v = 0; v < g.n(); ++v)
    for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e)
      if (g.adj[e] > v && part[g.adj[e]] != part[v]) cut += g.ew[e];
  return cut;
}

MultilevelResult multilevel_partition(const WeightedGraph& g, const MultilevelParams& params, std::vector<PartId>& part) {
  MultilevelResult result;
  const std::uint32_t k = params.k;
  Rng rng(params.seed);
  const std::vector<PartId> initial = part;
  std::uint64_t total_vw = 0;
  for (auto w : g.vw) total_vw += w;
  const std::uint32_t coarsest = params.coarsest ? params.coarsest : std::max<std::uint32_t>(20 * k, 64);
  // Coarse vertices may not outgrow a fraction of a part, or balance becomes impossible.
  const auto max_vw = static_cast<std::uint32_t>(std::max<std::uint64_t>(1, total_vw / (4ull * k) + 1));

  std::vector<WeightedGraph> graphs;
  std::vector<std::vector<std::uint32_t>> maps;
  const WeightedGraph* cur = &g;
  std::vector<PartId> cur_part = part;
  while (cur->n() > coarsest) {
    WeightedGraph cg;
    std::vector<PartId> cpart;
    std::vector<std::uint32_t> cmap;
    if (!coarsen(*cur, cur_part, rng, max_vw, cg, cpart, cmap)) break;
    maps.push_back(std::move(cmap));
    graphs.push_back(std::move(cg));
    cur = &graphs.back();
    cur_part = std::move(cpart);
  }

  Loads loads;
  loads.cap = params.capacity;
  loads.load.assign(k, 0);
  for (std::uint32_t v = 0; v < cur->n(); ++v)
    if (cur_part[v] != kNoPart && cur->fixed[v] == kNoPart) loads.load[cur_part[v]] += cur->vw[v];
  initial_assignment(*cur, k, loads, cur_part, rng);
  refine(*cur, k, loads, cur_part, params.sweeps, rng);

  // Project back level by level, refining on each.
  for (std::size_t level = graphs.size(); level-- > 0;) {
    const WeightedGraph& fine = level == 0 ? g : graphs[level - 1];
    std::vector<PartId> fine_part(fine.n());
    for (std::uint32_t v = 0; v < fine.n(); ++v) fine_part[v] = cur_part[maps[level][v]];
    cur_part = std::move(fine_part);
    refine(fine, k, loads, cur_part, params.sweeps, rng);
  }
  for (std::uint32_t v = 0; v < g.n(); ++v)
    if (initial[v] != kNoPart && initial[v] != cur_part[v] && g.fixed[v] == kNoPart) ++result.moves;
  part = std::move(cur_part);
  return result;
}

}  // namespace flotilla::detail
