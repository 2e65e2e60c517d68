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

// Contracts the clusters of cmap (ids 0..cn-1) into a coarse graph: summed vertex weights,
// merged parallel edges, the cluster's fixed part and label.
void contract(const WeightedGraph& g, const std::vector<PartId>& part, const std::vector<std::uint32_t>& cmap,
              std::uint32_t cn, WeightedGraph& cg, std::vector<PartId>& cpart) {
  const std::uint32_t n = g.n();
  // Members of each cluster, by counting sort.
  std::vector<std::uint32_t> first(cn + 1, 0), members(n);
  for (std::uint32_t v = 0; v < n; ++v) ++first[cmap[v] + 1];
  for (std::uint32_t c = 0; c < cn; ++c) first[c + 1] += first[c];
  {
    std::vector<std::uint32_t> pos(first.begin(), first.end() - 1);
    for (std::uint32_t v = 0; v < n; ++v) members[pos[cmap[v]]++] = v;
  }
  cg = WeightedGraph();
  cg.ncon = g.ncon;
  cg.xadj.assign(1, 0);
  cg.vw.assign(static_cast<std::size_t>(cn) * g.ncon, 0);
  cg.fixed.assign(cn, kNoPart);
  cpart.assign(cn, kNoPart);
  std::vector<std::uint32_t> slot(cn, kNone);  // coarse neighbour -> position in current list
  for (std::uint32_t c = 0; c < cn; ++c) {
    const std::size_t start = cg.adj.size();
    for (std::uint32_t i = first[c]; i < first[c + 1]; ++i) {
      const std::uint32_t x = members[i];
      for (std::uint32_t q = 0; q < g.ncon; ++q) cg.vw[static_cast<std::size_t>(c) * g.ncon + q] += g.w(x, q);
      if (g.fixed[x] != kNoPart) cg.fixed[c] = g.fixed[x];
      const PartId l = label_of(g, part, x);
      if (l != kNoPart) cpart[c] = l;
      for (EdgeIndex e = g.xadj[x]; e < g.xadj[x + 1]; ++e) {
        const std::uint32_t cu = cmap[g.adj[e]];
        if (cu == c) continue;
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
  }
}

// One coarsening step by matching. Returns false when the graph barely shrinks.
// True when u and v together stay within the coarse weight limit of every constraint.
bool merge_fits(const WeightedGraph& g, std::uint32_t u, std::uint32_t v, const std::vector<std::uint64_t>& max_vw) {
  for (std::uint32_t c = 0; c < g.ncon; ++c)
    if (static_cast<std::uint64_t>(g.w(u, c)) + g.w(v, c) > max_vw[c]) return false;
  return true;
}

bool coarsen(const WeightedGraph& g, const std::vector<PartId>& part, Rng& rng, const std::vector<std::uint64_t>& max_vw,
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
      if (!merge_fits(g, u, v, max_vw)) continue;
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
  // Two-hop matching (as METIS does for power-law graphs): unmatched vertices that hang off
  // the same heaviest neighbour are paired with each other, so stars and hubs still shrink.
  {
    std::vector<std::uint32_t> waiting(n, kNone);  // hub -> an unmatched vertex waiting on it
    for (std::uint32_t v = 0; v < n; ++v) {
      if (match[v] != v || g.fixed[v] != kNoPart) continue;
      std::uint32_t hub = kNone;
      float hub_w = 0;
      for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e)
        if (g.ew[e] > hub_w) { hub = g.adj[e]; hub_w = g.ew[e]; }
      if (hub == kNone) continue;
      const std::uint32_t u = waiting[hub];
      if (u != kNone && label_of(g, part, u) == label_of(g, part, v) && merge_fits(g, u, v, max_vw)) {
        match[u] = v;
        match[v] = u;
        waiting[hub] = kNone;
      } else {
        waiting[hub] = v;
      }
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
  contract(g, part, cmap, cn, cg, cpart);
  return true;
}

// Size-constrained label propagation clustering (Meyerhenke, Sanders & Schulz 2014): each
// vertex joins the neighbouring cluster it is most connected to, if the cluster stays under
// max_vw and its label (fixed or initial part) agrees. Shrinks power-law graphs, where
// matchings stall, by large factors per level.
bool cluster_coarsen(const WeightedGraph& g, const std::vector<PartId>& part, Rng& rng, const std::vector<std::uint64_t>& max_vw,
                     WeightedGraph& cg, std::vector<PartId>& cpart, std::vector<std::uint32_t>& cmap) {
  const std::uint32_t n = g.n();
  std::vector<std::uint32_t> cluster(n);
  const std::uint32_t nc = g.ncon;
  std::vector<std::uint64_t> cw(static_cast<std::size_t>(n) * nc);
  std::vector<PartId> clabel(n);
  std::vector<std::uint32_t> labelled(n);  // labelled members per cluster
  for (std::uint32_t v = 0; v < n; ++v) {
    cluster[v] = v;
    for (std::uint32_t q = 0; q < nc; ++q) cw[static_cast<std::size_t>(v) * nc + q] = g.w(v, q);
    clabel[v] = label_of(g, part, v);
    labelled[v] = clabel[v] != kNoPart;
  }
  std::vector<float> conn(n, 0);
  std::vector<std::uint32_t> touched;
  const std::vector<std::uint32_t> order = random_order(n, rng);
  for (int round = 0; round < 3; ++round) {
    std::uint32_t moved = 0;
    for (std::uint32_t v : order) {
      if (g.fixed[v] != kNoPart) continue;  // anchors stay put; others may join them
      const PartId lv = label_of(g, part, v);
      touched.clear();
      for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) {
        const std::uint32_t c = cluster[g.adj[e]];
        if (conn[c] == 0) touched.push_back(c);
        conn[c] += g.ew[e];
      }
      const std::uint32_t own = cluster[v];
      std::uint32_t best = own;
      float best_w = conn[own];
      for (std::uint32_t c : touched) {
        if (c == own || conn[c] <= best_w) continue;
        bool fits = true;
        for (std::uint32_t q = 0; q < nc; ++q) fits &= cw[static_cast<std::size_t>(c) * nc + q] + g.w(v, q) <= max_vw[q];
        if (!fits) continue;
        if (lv != kNoPart && clabel[c] != kNoPart && clabel[c] != lv) continue;
        best = c;
        best_w = conn[c];
      }
      for (std::uint32_t c : touched) conn[c] = 0;
      conn[own] = 0;
      if (best == own) continue;
      for (std::uint32_t q = 0; q < nc; ++q) {
        cw[static_cast<std::size_t>(own) * nc + q] -= g.w(v, q);
        cw[static_cast<std::size_t>(best) * nc + q] += g.w(v, q);
      }
      if (lv != kNoPart) {
        if (--labelled[own] == 0) clabel[own] = kNoPart;
        ++labelled[best];
        clabel[best] = lv;
      }
      cluster[v] = best;
      ++moved;
    }
    if (moved * 100 < n) break;
  }
  cmap.assign(n, kNone);
  std::vector<std::uint32_t> id(n, kNone);
  std::uint32_t cn = 0;
  for (std::uint32_t v = 0; v < n; ++v) {
    if (id[cluster[v]] == kNone) id[cluster[v]] = cn++;
    cmap[v] = id[cluster[v]];
  }
  if (cn > n - n / 20) return false;
  contract(g, part, cmap, cn, cg, cpart);
  return true;
}

// Part loads and capacities per constraint (k x ncon, row-major).
struct Loads {
  std::uint32_t ncon = 1;
  std::vector<std::int64_t> load, cap;
  std::int64_t& at(PartId p, std::uint32_t c) { return load[static_cast<std::size_t>(p) * ncon + c]; }
  std::int64_t l(PartId p, std::uint32_t c) const { return load[static_cast<std::size_t>(p) * ncon + c]; }
  std::int64_t c(PartId p, std::uint32_t q) const { return cap[static_cast<std::size_t>(p) * ncon + q]; }
  bool fits(const WeightedGraph& g, PartId p, std::uint32_t v) const {
    for (std::uint32_t q = 0; q < ncon; ++q)
      if (l(p, q) + g.w(v, q) > c(p, q)) return false;
    return true;
  }
  bool over(PartId p) const {
    for (std::uint32_t q = 0; q < ncon; ++q)
      if (l(p, q) > c(p, q)) return true;
    return false;
  }
  void add(const WeightedGraph& g, PartId p, std::uint32_t v, std::int64_t sign) {
    for (std::uint32_t q = 0; q < ncon; ++q) at(p, q) += sign * g.w(v, q);
  }
  void move(const WeightedGraph& g, std::uint32_t v, PartId from, PartId to) {
    add(g, from, v, -1);
    add(g, to, v, +1);
  }
  // Room left in p for the tightest constraint, relative to its capacity (1 = empty).
  double room(PartId p) const {
    double r = 1e300;
    for (std::uint32_t q = 0; q < ncon; ++q)
      r = std::min(r, static_cast<double>(c(p, q) - l(p, q)) / static_cast<double>(std::max<std::int64_t>(1, c(p, q))));
    return r;
  }
  // Whether moving v from a to b evens the loads: one constraint, b ends lighter than a
  // was; several, the fuller of the two parts (relative to capacity) gets less full.
  bool evens(const WeightedGraph& g, std::uint32_t v, PartId a, PartId b) const {
    if (ncon == 1) return l(b, 0) + g.w(v, 0) < l(a, 0);
    double before = 0, after = 0;
    for (std::uint32_t q = 0; q < ncon; ++q) {
      const double cq = static_cast<double>(std::max<std::int64_t>(1, c(a, q)));
      before = std::max(before, static_cast<double>(l(a, q)) / cq);
      after = std::max(after, static_cast<double>(l(b, q) + g.w(v, q)) / static_cast<double>(std::max<std::int64_t>(1, c(b, q))));
    }
    return after < before;
  }
  double overload() const {
    double o = 0;
    for (std::size_t i = 0; i < load.size(); ++i) o += static_cast<double>(std::max<std::int64_t>(0, load[i] - cap[i]));
    return o;
  }
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
      if (loads.fits(g, p, v) && (conn[p] > best_c || (conn[p] == best_c && loads.room(p) > loads.room(best)))) {
        best = p;
        best_c = conn[p];
      }
    for (PartId p : touched) conn[p] = 0;
    if (best == kNoPart) {  // no connected part has room: the emptiest part relative to capacity
      double best_room = -1e300;
      for (PartId p = 0; p < k; ++p) {
        const double room = loads.ncon == 1 ? static_cast<double>(loads.c(p, 0) - loads.l(p, 0)) : loads.room(p);
        if (room > best_room) { best_room = room; best = p; }
      }
    }
    part[v] = best;
    loads.add(g, best, v, +1);
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

// ---- recursive bisection for the coarsest graph ------------------------------------------
// Vertices already labelled (fixed or pre-assigned) go to the side holding their part; the
// free ones are split by greedy graph growing and refined with 2-way FM, best of `tries`.
class RecursiveBisection {
 public:
  RecursiveBisection(const WeightedGraph& g, std::uint32_t k, const Loads& loads, std::vector<PartId>& part, Rng& rng,
                     int tries)
      : g_(g), k_(k), loads_(loads), part_(part), rng_(rng), tries_(tries), side_(g.n(), 0), in_(g.n(), 0) {
    // Bisection balances one weight: the vertex weight itself, or with several constraints
    // their sum, each scaled to 2^40 over the graph (k-way refinement then fixes each one).
    bw_.resize(g.n());
    scale_.assign(g.ncon, 1.0);
    if (g.ncon > 1) {
      for (std::uint32_t c = 0; c < g.ncon; ++c) {
        double total = 0;
        for (std::uint32_t v = 0; v < g.n(); ++v) total += g.w(v, c);
        scale_[c] = 1099511627776.0 / std::max(1.0, total);
      }
    }
    for (std::uint32_t v = 0; v < g.n(); ++v) {
      double w = 0;
      for (std::uint32_t c = 0; c < g.ncon; ++c) w += scale_[c] * g.w(v, c);
      bw_[v] = static_cast<std::int64_t>(std::llround(w));
    }
  }

  void run() {
    std::vector<std::uint32_t> all(g_.n());
    std::iota(all.begin(), all.end(), 0u);
    split(all, 0, k_);
  }

 private:
  std::int64_t room(PartId a, PartId b) const {  // capacity left in parts [a, b), combined
    double r = 0;
    for (PartId p = a; p < b; ++p)
      for (std::uint32_t c = 0; c < g_.ncon; ++c) r += scale_[c] * static_cast<double>(loads_.c(p, c) - loads_.l(p, c));
    return static_cast<std::int64_t>(std::llround(r));
  }

  void split(const std::vector<std::uint32_t>& set, PartId p0, PartId p1) {
    if (set.empty()) return;
    if (p1 - p0 == 1) {
      for (std::uint32_t v : set)
        if (part_[v] == kNoPart) part_[v] = p0;
      return;
    }
    const PartId pm = p0 + (p1 - p0) / 2;
    // Free weight goes left in proportion to the room left on each side.
    std::int64_t free_w = 0;
    for (std::uint32_t v : set)
      if (part_[v] == kNoPart) free_w += bw_[v];
    const std::int64_t room_l = std::max<std::int64_t>(0, room(p0, pm)), room_r = std::max<std::int64_t>(0, room(pm, p1));
    const double frac = room_l + room_r > 0 ? static_cast<double>(room_l) / static_cast<double>(room_l + room_r) : 0.5;
    const std::int64_t target_l = static_cast<std::int64_t>(std::llround(frac * static_cast<double>(free_w)));
    // Side capacities for the free weight, with a little slack for FM to work with.
    const std::int64_t slack = std::max<std::int64_t>(1, free_w / 50);
    cap_[0] = std::min(room_l, target_l + slack);
    cap_[1] = std::min(room_r, free_w - target_l + slack);
    if (cap_[0] + cap_[1] < free_w) { cap_[0] = std::max(cap_[0], room_l); cap_[1] = std::max(cap_[1], free_w - cap_[0]); }

    for (std::uint32_t v : set) in_[v] = 1;
    std::vector<std::uint8_t> best_side;
    double best_cut = 0;
    std::int64_t best_over = 0;
    for (int t = 0; t < tries_; ++t) {
      grow(set, p0, pm, p1, target_l);
      fm(set);
      const double c = cut(set);
      std::int64_t w[2] = {0, 0};
      for (std::uint32_t v : set)
        if (part_[v] == kNoPart) w[side_[v]] += bw_[v];
      const std::int64_t over = std::max<std::int64_t>(0, w[0] - cap_[0]) + std::max<std::int64_t>(0, w[1] - cap_[1]);
      if (t == 0 || over < best_over || (over == best_over && c < best_cut)) {
        best_cut = c;
        best_over = over;
        best_side.assign(set.size(), 0);
        for (std::size_t i = 0; i < set.size(); ++i) best_side[i] = side_[set[i]];
      }
    }
    std::vector<std::uint32_t> left, right;
    for (std::size_t i = 0; i < set.size(); ++i) (best_side[i] ? right : left).push_back(set[i]);
    for (std::uint32_t v : set) in_[v] = 0;
    split(left, p0, pm);
    split(right, pm, p1);
  }

  bool labelled(std::uint32_t v) const { return part_[v] != kNoPart; }

  // Greedy graph growing: labelled vertices on their side, free ones start right; grow the
  // left side from a random free seed by best gain until it holds target_l of free weight.
  void grow(const std::vector<std::uint32_t>& set, PartId p0, PartId pm, PartId p1, std::int64_t target_l) {
    (void)p0;
    (void)p1;
    std::vector<std::uint32_t> free;
    for (std::uint32_t v : set) {
      if (labelled(v)) side_[v] = part_[v] >= pm ? 1 : 0;
      else { side_[v] = 1; free.push_back(v); }
    }
    if (free.empty()) return;
    std::int64_t wl = 0;
    using Item = std::pair<double, std::uint32_t>;
    std::priority_queue<Item> heap;
    std::vector<double>& gain = gain_;
    gain.assign(g_.n(), 0);
    auto gain_of = [&](std::uint32_t v) {  // cut reduction if v moves right -> left
      double gn = 0;
      for (EdgeIndex e = g_.xadj[v]; e < g_.xadj[v + 1]; ++e) {
        const std::uint32_t u = g_.adj[e];
        if (!in_[u]) continue;
        gn += side_[u] == 0 ? g_.ew[e] : -g_.ew[e];
      }
      return gn;
    };
    for (std::uint32_t v : free) {
      gain[v] = gain_of(v);
      if (gain[v] > 0) heap.push({gain[v], v});
    }
    std::size_t cursor = 0;
    std::vector<std::uint32_t> order = free;
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng_.below(i)]);
    while (wl < target_l) {
      std::uint32_t v = kNone;
      while (!heap.empty()) {
        const Item top = heap.top();
        heap.pop();
        if (side_[top.second] == 1 && top.first == gain[top.second]) { v = top.second; break; }
      }
      if (v == kNone) {  // new region: a random free vertex still right
        while (cursor < order.size() && side_[order[cursor]] == 0) ++cursor;
        if (cursor == order.size()) break;
        v = order[cursor];
      }
      if (wl + bw_[v] > target_l && wl > 0 && wl + bw_[v] - target_l > target_l - wl) break;
      side_[v] = 0;
      wl += bw_[v];
      for (EdgeIndex e = g_.xadj[v]; e < g_.xadj[v + 1]; ++e) {
        const std::uint32_t u = g_.adj[e];
        if (!in_[u] || labelled(u) || side_[u] == 0) continue;
        gain[u] += 2 * g_.ew[e];
        heap.push({gain[u], u});
      }
    }
  }

  double cut(const std::vector<std::uint32_t>& set) const {
    double c = 0;
    for (std::uint32_t v : set)
      for (EdgeIndex e = g_.xadj[v]; e < g_.xadj[v + 1]; ++e) {
        const std::uint32_t u = g_.adj[e];
        if (in_[u] && u > v && side_[u] != side_[v]) c += g_.ew[e];
      }
    return c;
  }

  // 2-way FM with rollback to the best prefix; free vertices only; side capacities cap_[].
  void fm(const std::vector<std::uint32_t>& set) {
    std::int64_t w[2] = {0, 0};
    for (std::uint32_t v : set)
      if (!labelled(v)) w[side_[v]] += bw_[v];
    std::vector<double>& gain = gain_;
    gain.assign(g_.n(), 0);
    std::vector<std::uint8_t> locked(g_.n(), 0);
    for (int pass = 0; pass < 4; ++pass) {
      using Item = std::pair<double, std::uint32_t>;
      std::priority_queue<Item> heap[2];
      for (std::uint32_t v : set) {
        locked[v] = labelled(v);
        if (locked[v]) continue;
        double gn = 0;
        for (EdgeIndex e = g_.xadj[v]; e < g_.xadj[v + 1]; ++e) {
          const std::uint32_t u = g_.adj[e];
          if (in_[u]) gn += side_[u] != side_[v] ? g_.ew[e] : -g_.ew[e];
        }
        gain[v] = gn;
        heap[side_[v]].push({gn, v});
      }
      auto over = [&](const std::int64_t* ww) {
        return std::max<std::int64_t>(0, ww[0] - cap_[0]) + std::max<std::int64_t>(0, ww[1] - cap_[1]);
      };
      std::vector<std::uint32_t> moved;
      double delta = 0, best_delta = 0;
      std::int64_t best_over = over(w);
      std::size_t best_len = 0;
      int since_best = 0;
      const int patience = std::max<int>(25, static_cast<int>(set.size() / 20));
      while (since_best < patience) {
        // Candidate from each side: the best unlocked vertex whose move keeps the target side
        // within capacity (or the move reduces an overload).
        std::uint32_t cand[2] = {kNone, kNone};
        for (int s = 0; s < 2; ++s) {
          while (!heap[s].empty()) {
            const Item top = heap[s].top();
            const std::uint32_t v = top.second;
            if (locked[v] || side_[v] != s || top.first != gain[v]) { heap[s].pop(); continue; }
            cand[s] = v;
            break;
          }
        }
        int from = -1;
        for (int s = 0; s < 2; ++s) {
          const std::uint32_t v = cand[s];
          if (v == kNone) continue;
          const bool fits = w[1 - s] + bw_[v] <= cap_[1 - s] || w[s] > cap_[s];
          if (!fits) continue;
          if (from < 0 || gain[v] > gain[cand[from]]) from = s;
        }
        if (from < 0) break;
        const std::uint32_t v = cand[from];
        heap[from].pop();
        locked[v] = 1;
        side_[v] = static_cast<std::uint8_t>(1 - from);
        w[from] -= bw_[v];
        w[1 - from] += bw_[v];
        delta += gain[v];
        moved.push_back(v);
        for (EdgeIndex e = g_.xadj[v]; e < g_.xadj[v + 1]; ++e) {
          const std::uint32_t u = g_.adj[e];
          if (!in_[u] || locked[u]) continue;
          gain[u] += side_[u] == side_[v] ? -2 * g_.ew[e] : 2 * g_.ew[e];
          heap[side_[u]].push({gain[u], u});
        }
        const std::int64_t o = over(w);
        if (o < best_over || (o == best_over && delta > best_delta + 1e-9)) {
          best_over = o;
          best_delta = delta;
          best_len = moved.size();
          since_best = 0;
        } else {
          ++since_best;
        }
      }
      for (std::size_t i = moved.size(); i-- > best_len;) {  // roll back past the best prefix
        const std::uint32_t v = moved[i];
        w[side_[v]] -= bw_[v];
        side_[v] = static_cast<std::uint8_t>(1 - side_[v]);
        w[side_[v]] += bw_[v];
      }
      if (best_len == 0) break;
    }
  }

  const WeightedGraph& g_;
  std::uint32_t k_;
  const Loads& loads_;
  std::vector<PartId>& part_;
  Rng& rng_;
  int tries_;
  std::vector<std::uint8_t> side_, in_;
  std::vector<double> gain_;
  std::vector<std::int64_t> bw_;
  std::vector<double> scale_;
  std::int64_t cap_[2] = {0, 0};
};

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
    for (PartId p = 0; p < k; ++p) overloaded |= loads.over(p);
    std::uint64_t moves = 0;
    for (std::uint32_t v : random_order(n, rng)) {
      if (g.fixed[v] != kNoPart) continue;
      const PartId cur = part[v];
      const bool drain = loads.over(cur);
      touched.clear();
      for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) {
        const PartId p = part[g.adj[e]];
        if (conn[p] == 0) touched.push_back(p);
        conn[p] += g.ew[e];
      }
      if (touched.empty() && !drain) continue;
      // Several constraints: a part over one bound is drained through its boundary only
      // (interior vertices moved to an arbitrary part cost their whole degree); what stays
      // over is left to rebalance(), least attached vertices first.
      const bool interior_drain = loads.ncon == 1;
      PartId best = cur;
      float best_gain = 0;
      const float here = conn[cur];
      for (PartId p : touched) {
        if (p == cur || !loads.fits(g, p, v)) continue;
        const float gain = conn[p] - here;
        if (gain > best_gain ||
            (gain == best_gain && best == cur && gain == 0 && loads.evens(g, v, cur, p)) ||
            (drain && best == cur)) {
          best = p;
          best_gain = gain;
        }
      }
      if (drain && best == cur && interior_drain) {  // no connected part has room: emptiest part
        if (loads.ncon == 1) {
          const std::int64_t w = g.w(v);
          std::int64_t best_room = 0;
          for (PartId p = 0; p < k; ++p)
            if (p != cur && loads.c(p, 0) - loads.l(p, 0) - w >= best_room) { best_room = loads.c(p, 0) - loads.l(p, 0) - w; best = p; }
        } else {
          double best_room = -1e300;
          for (PartId p = 0; p < k; ++p)
            if (p != cur && loads.fits(g, p, v) && loads.room(p) > best_room) { best_room = loads.room(p); best = p; }
        }
      }
      for (PartId p : touched) conn[p] = 0;
      conn[cur] = 0;
      if (best != cur) {
        loads.move(g, v, cur, best);
        part[v] = best;
        ++moves;
      }
    }
    total_moves += moves;
    if (!overloaded && moves * 1000 < n) break;
  }
  return total_moves;
}

// Last resort after refinement: drain every overloaded part by moving its free vertices,
// most loosely attached first, to the best-connected part with room (even at a cost).
void rebalance(const WeightedGraph& g, std::uint32_t k, Loads& loads, std::vector<PartId>& part) {
  bool any = false;
  for (PartId p = 0; p < k; ++p) any |= loads.over(p);
  if (!any) return;
  std::vector<float> conn(k, 0);
  std::vector<std::pair<float, std::uint32_t>> cands;  // (attachment to own part, v)
  for (std::uint32_t v = 0; v < g.n(); ++v) {
    if (g.fixed[v] != kNoPart || !loads.over(part[v])) continue;
    float own = 0;
    for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e)
      if (part[g.adj[e]] == part[v]) own += g.ew[e];
    cands.push_back({own, v});
  }
  std::sort(cands.begin(), cands.end());
  for (const auto& [own, v] : cands) {
    const PartId cur = part[v];
    if (!loads.over(cur)) continue;
    for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) conn[part[g.adj[e]]] += g.ew[e];
    PartId best = kNoPart;
    for (PartId p = 0; p < k; ++p) {
      if (p == cur || !loads.fits(g, p, v)) continue;
      if (best == kNoPart || conn[p] > conn[best] || (conn[p] == conn[best] && loads.room(p) > loads.room(best)))
        best = p;
    }
    for (EdgeIndex e = g.xadj[v]; e < g.xadj[v + 1]; ++e) conn[part[g.adj[e]]] = 0;
    if (best == kNoPart) continue;
    loads.move(g, v, cur, best);
    part[v] = best;
  }
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
  std::vector<std::uint64_t> total_vw(g.ncon, 0);
  for (std::uint32_t v = 0; v < g.n(); ++v)
    for (std::uint32_t c = 0; c < g.ncon; ++c) total_vw[c] += g.w(v, c);
  const std::uint32_t coarsest = params.coarsest ? params.coarsest : std::max<std::uint32_t>(20 * k, 64);
  // Coarse vertices may not outgrow a fraction of a part, or balance becomes impossible.
  std::vector<std::uint64_t> max_vw(g.ncon);
  for (std::uint32_t c = 0; c < g.ncon; ++c) max_vw[c] = std::max<std::uint64_t>(1, total_vw[c] / (4ull * k) + 1);

  // Power-law graphs (max degree far above the mean) coarsen better by clustering.
  Coarsening mode = params.coarsening;
  if (mode == Coarsening::Auto) {
    EdgeIndex max_deg = 0, arcs = 0;
    std::uint32_t free_n = 0;
    for (std::uint32_t v = 0; v < g.n(); ++v) {
      if (g.fixed[v] != kNoPart) continue;
      ++free_n;
      max_deg = std::max(max_deg, g.xadj[v + 1] - g.xadj[v]);
      arcs += g.xadj[v + 1] - g.xadj[v];
    }
    const double mean = free_n ? static_cast<double>(arcs) / free_n : 0;
    if (mean > 0 && static_cast<double>(max_deg) > params.skew_for_clustering * mean) mode = Coarsening::Clustering;
  }
  std::vector<WeightedGraph> graphs;
  std::vector<std::vector<std::uint32_t>> maps;
  const WeightedGraph* cur = &g;
  std::vector<PartId> cur_part = part;
  for (std::uint32_t v = 0; v < g.n(); ++v)
    if (g.fixed[v] != kNoPart) cur_part[v] = g.fixed[v];
  while (cur->n() > coarsest) {
    WeightedGraph cg;
    std::vector<PartId> cpart;
    std::vector<std::uint32_t> cmap;
    // Auto: matching while it shrinks the graph well (meshes), clustering where it stalls
    // (power-law graphs, hubs).
    bool ok = false;
    if (mode == Coarsening::Clustering) {
      ok = cluster_coarsen(*cur, cur_part, rng, max_vw, cg, cpart, cmap);
    } else {
      ok = coarsen(*cur, cur_part, rng, max_vw, cg, cpart, cmap);
      const bool stalled = !ok || static_cast<double>(cg.n()) > 0.75 * static_cast<double>(cur->n());
      if (mode == Coarsening::Auto && stalled) {
        WeightedGraph lg;
        std::vector<PartId> lpart;
        std::vector<std::uint32_t> lmap;
        if (cluster_coarsen(*cur, cur_part, rng, max_vw, lg, lpart, lmap) && (!ok || lg.n() < cg.n())) {
          cg = std::move(lg);
          cpart = std::move(lpart);
          cmap = std::move(lmap);
          ok = true;
        }
      }
    }
    if (!ok) break;
    maps.push_back(std::move(cmap));
    graphs.push_back(std::move(cg));
    cur = &graphs.back();
    cur_part = std::move(cpart);
  }

  Loads loads;
  loads.ncon = g.ncon;
  loads.cap = params.capacity;
  loads.load.assign(static_cast<std::size_t>(k) * g.ncon, 0);
  for (std::uint32_t v = 0; v < cur->n(); ++v)
    if (label_of(*cur, cur_part, v) != kNoPart) loads.add(*cur, label_of(*cur, cur_part, v), v, +1);  // fixed coarse vertices carry merged free weight
  // Several greedy-growing tries on the (small) coarsest graph; keep the lowest cut among
  // those that fit the capacities (or the least overloaded).
  {
    const int tries = std::max(1, params.initial_tries);
    std::vector<PartId> best_part;
    Loads best_loads;
    double best_cut = 0, best_over = 0;
    for (int t = 0; t < tries; ++t) {
      Loads l = loads;
      std::vector<PartId> p = cur_part;
      if (t % 2 == 0) {
        RecursiveBisection(*cur, k, l, p, rng, 4).run();
        std::fill(l.load.begin(), l.load.end(), 0);
        for (std::uint32_t v = 0; v < cur->n(); ++v) l.add(*cur, p[v], v, +1);
      } else {
        initial_assignment(*cur, k, l, p, rng);
      }
      refine(*cur, k, l, p, params.sweeps, rng);
      const double over = l.overload();
      const double cut = cut_weight(*cur, p);
      if (t == 0 || over < best_over || (over == best_over && cut < best_cut)) {
        best_part = std::move(p);
        best_loads = std::move(l);
        best_cut = cut;
        best_over = over;
      }
    }
    cur_part = std::move(best_part);
    loads = std::move(best_loads);
  }

  // Project back level by level, refining on each.
  for (std::size_t level = graphs.size(); level-- > 0;) {
    const WeightedGraph& fine = level == 0 ? g : graphs[level - 1];
    std::vector<PartId> fine_part(fine.n());
    for (std::uint32_t v = 0; v < fine.n(); ++v) fine_part[v] = cur_part[maps[level][v]];
    cur_part = std::move(fine_part);
    refine(fine, k, loads, cur_part, params.sweeps, rng);
  }
  rebalance(g, k, loads, cur_part);
  for (std::uint32_t v = 0; v < g.n(); ++v)
    if (initial[v] != kNoPart && initial[v] != cur_part[v] && g.fixed[v] == kNoPart) ++result.moves;
  part = std::move(cur_part);
  return result;
}

}  // namespace flotilla::detail
