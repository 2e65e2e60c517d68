// Balance constraints: parsing, per-vertex weights, capacities, reports.
#include "flotilla/partition/balance.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "flotilla/datasets/random.h"

namespace flotilla {

std::string constraint_name(const BalanceConstraint& c) {
  switch (c.kind) {
    case BalanceKind::Nodes: return "nodes";
    case BalanceKind::Edges: return "edges";
    case BalanceKind::Train: return "train";
    case BalanceKind::Vwgt: return "vwgt" + std::to_string(c.column);
  }
  return "?";
}

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (ch != ' ') {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

double parse_eps(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !(v >= 0) || v > 10)
    throw std::invalid_argument("--imbalance: '" + text + "' for " + what + " is not a number in [0, 10]");
  return v;
}

}  // namespace

std::vector<BalanceConstraint> parse_balance(const std::string& list, const std::string& imbalance,
                                             std::uint32_t vwgt_columns, double default_eps) {
  std::vector<BalanceConstraint> out;
  auto add = [&](BalanceConstraint c) {
    for (const auto& o : out)
      if (o.kind == c.kind && o.column == c.column)
        throw std::invalid_argument("--balance: '" + constraint_name(c) + "' is listed twice");
    out.push_back(c);
  };
  for (const std::string& item : split_list(list)) {
    BalanceConstraint c;
    c.eps = default_eps;
    if (item == "nodes") {
      c.kind = BalanceKind::Nodes;
    } else if (item == "edges") {
      c.kind = BalanceKind::Edges;
    } else if (item == "train") {
      c.kind = BalanceKind::Train;
    } else if (item == "vwgt" || item.rfind("vwgt", 0) == 0) {
      if (vwgt_columns == 0)
        throw std::invalid_argument("--balance vwgt: the input has no vertex weights (a METIS file with fmt 010 or 011)");
      c.kind = BalanceKind::Vwgt;
      if (item == "vwgt") {
        for (std::uint32_t j = 0; j < vwgt_columns; ++j) {
          c.column = j;
          add(c);
        }
        continue;
      }
      const std::string num = item.substr(4);
      if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 6 ||
          std::stoul(num) >= vwgt_columns)
        throw std::invalid_argument("--balance: '" + item + "': the input has vertex weight columns vwgt0..vwgt" +
                                    std::to_string(vwgt_columns - 1));
      c.column = static_cast<std::uint32_t>(std::stoul(num));
    } else {
      throw std::invalid_argument("--balance: unknown constraint '" + item + "' (expected nodes, edges, train or vwgt)");
    }
    add(c);
  }
  if (out.empty()) throw std::invalid_argument("--balance: no constraint given");
  // --imbalance: one number, or name=eps pairs.
  if (imbalance.find('=') == std::string::npos) {
    const double e = parse_eps(imbalance, "every constraint");
    for (auto& c : out) c.eps = e;
    return out;
  }
  for (const std::string& pair : split_list(imbalance)) {
    const std::size_t eq = pair.find('=');
    if (eq == std::string::npos)
      throw std::invalid_argument("--imbalance: '" + pair + "' is not name=eps (e.g. nodes=0.03,edges=0.05)");
    const std::string name = pair.substr(0, eq);
    const double e = parse_eps(pair.substr(eq + 1), name);
    bool found = false;
    for (auto& c : out)
      if (constraint_name(c) == name || (name == "vwgt" && c.kind == BalanceKind::Vwgt)) {
        c.eps = e;
        found = true;
      }
    if (!found) throw std::invalid_argument("--imbalance: '" + name + "' is not among the --balance constraints");
  }
  return out;
}

std::uint64_t constraint_capacity(std::uint64_t total, std::uint64_t max_vertex, std::uint32_t k, double eps) {
  if (k == 0) return total;
  const std::uint64_t even = std::max((total + k - 1) / k, max_vertex);
  const long double c = std::floor((1.0L + eps) * static_cast<long double>(total) / k + 1e-9L);
  const std::uint64_t cap = c >= 1.8e19L ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(c);
  return std::max(even, cap);
}

BalanceWeights compute_balance_weights(EdgeStream& stream, const std::vector<BalanceConstraint>& constraints,
                                       std::uint32_t k, const BalanceInputs& in, std::size_t chunk_edges) {
  BalanceWeights bw;
  bw.constraints = constraints;
  bw.ncon = static_cast<std::uint32_t>(constraints.size());
  bw.n = stream.info().num_nodes;
  const std::uint64_t n = bw.n;
  const std::uint32_t nc = bw.ncon;
  bw.total.assign(nc, 0);
  bw.max_vertex.assign(nc, 0);
  bw.cap.assign(nc, 0);
  if (!bw.nodes_only()) {
    bw.w.assign(n * nc, 0);
    bool need_degrees = false;
    for (std::uint32_t c = 0; c < nc; ++c) {
      const BalanceConstraint& con = constraints[c];
      switch (con.kind) {
        case BalanceKind::Nodes:
          for (std::uint64_t v = 0; v < n; ++v) bw.w[v * nc + c] = 1;
          break;
        case BalanceKind::Edges: need_degrees = true; break;
        case BalanceKind::Train:
          if (!in.train || in.train->size() != n)
            throw std::invalid_argument("--balance train needs the input's training split (an OGB folder with a split)");
          for (std::uint64_t v = 0; v < n; ++v) bw.w[v * nc + c] = (*in.train)[v] ? 1u : 0u;
          break;
        case BalanceKind::Vwgt:
          if (!in.vwgt || in.vwgt_columns <= con.column || in.vwgt->size() != n * in.vwgt_columns)
            throw std::invalid_argument("--balance " + constraint_name(con) + ": the input has no such vertex weight");
          for (std::uint64_t v = 0; v < n; ++v) bw.w[v * nc + c] = (*in.vwgt)[v * in.vwgt_columns + con.column];
          break;
      }
    }
    if (need_degrees) {
      EdgeChunk chunk;
      stream.rewind();
      std::vector<std::uint32_t> cols;
      for (std::uint32_t c = 0; c < nc; ++c)
        if (constraints[c].kind == BalanceKind::Edges) cols.push_back(c);
      while (stream.next_chunk(chunk, chunk_edges)) {
        for (std::size_t i = 0; i < chunk.size(); ++i) {
          const VertexId u = chunk.src[i], v = chunk.dst[i];
          if (u == v) continue;
          for (std::uint32_t c : cols) {
            std::uint32_t& a = bw.w[static_cast<std::uint64_t>(u) * nc + c];
            std::uint32_t& b = bw.w[static_cast<std::uint64_t>(v) * nc + c];
            if (a == std::numeric_limits<std::uint32_t>::max() || b == std::numeric_limits<std::uint32_t>::max())
              throw std::invalid_argument(stream.info().path + ": a vertex has 2^32 or more edge entries");
            ++a;
            ++b;
          }
        }
      }
      stream.rewind();
    }
    for (std::uint64_t v = 0; v < n; ++v)
      for (std::uint32_t c = 0; c < nc; ++c) {
        const std::uint32_t x = bw.w[v * nc + c];
        bw.total[c] += x;
        bw.max_vertex[c] = std::max<std::uint64_t>(bw.max_vertex[c], x);
      }
  } else {
    bw.total[0] = n;
    bw.max_vertex[0] = n ? 1 : 0;
  }
  for (std::uint32_t c = 0; c < nc; ++c) {
    bw.cap[c] = constraints[c].kind == BalanceKind::Nodes
                    ? part_capacity(n, k, constraints[c].eps)
                    : constraint_capacity(bw.total[c], bw.max_vertex[c], k, constraints[c].eps);
  }
  return bw;
}

std::vector<ConstraintReport> balance_report(const BalanceWeights& bw, const std::vector<PartId>& part, std::uint32_t k) {
  std::vector<ConstraintReport> out(bw.ncon);
  for (std::uint32_t c = 0; c < bw.ncon; ++c) {
    out[c].name = constraint_name(bw.constraints[c]);
    out[c].eps = bw.constraints[c].eps;
    out[c].total = bw.total[c];
    out[c].cap = bw.cap[c];
    out[c].part_weights.assign(k, 0);
  }
  for (std::uint64_t v = 0; v < part.size(); ++v)
    for (std::uint32_t c = 0; c < bw.ncon; ++c) out[c].part_weights[part[v]] += bw.at(v, c);
  for (auto& r : out) {
    const std::uint64_t mx = k ? *std::max_element(r.part_weights.begin(), r.part_weights.end()) : 0;
    r.imbalance = r.total ? static_cast<double>(mx) / (static_cast<double>(r.total) / k) : 0.0;
    r.holds = mx <= r.cap;
  }
  return out;
}

}  // namespace flotilla

namespace flotilla {

namespace {

class BalanceRepair {
 public:
  BalanceRepair(std::vector<PartId>& part, const BalanceWeights& bw, std::uint32_t k, std::uint64_t seed)
      : part_(part), bw_(bw), k_(k), nc_(bw.ncon), rng_(seed), load_(static_cast<std::size_t>(k) * bw.ncon, 0),
        members_(k), pos_(part.size()) {
    for (std::uint64_t v = 0; v < part.size(); ++v) {
      const PartId p = part[v];
      for (std::uint32_t c = 0; c < nc_; ++c) load_[p * nc_ + c] += bw.at(v, c);
      pos_[v] = static_cast<std::uint32_t>(members_[p].size());
      members_[p].push_back(static_cast<VertexId>(v));
    }
    inv_cap_.resize(nc_);
    for (std::uint32_t c = 0; c < nc_; ++c) inv_cap_[c] = 1.0 / static_cast<double>(std::max<std::uint64_t>(1, bw.cap[c]));
  }

  bool run(std::uint64_t* moves) {
    for (int iter = 0; iter < 100000; ++iter) {
      std::vector<PartId> over;
      for (PartId p = 0; p < k_; ++p)
        if (phi(p, nullptr, 0) > 0) over.push_back(p);
      if (over.empty()) return true;
      std::sort(over.begin(), over.end(), [&](PartId a, PartId b) { return phi(a, nullptr, 0) > phi(b, nullptr, 0); });
      bool improved = false;
      for (PartId p : over) improved |= try_moves(p, moves);
      if (!improved)
        for (PartId p : over) improved |= try_swaps(p, moves);
      if (!improved) return false;
    }
    return false;
  }

 private:
  // Relative overload of p, with `delta` (ncon weights, times sign) applied when given.
  double phi(PartId p, const std::int64_t* delta, std::int64_t sign) const {
    double f = 0;
    for (std::uint32_t c = 0; c < nc_; ++c) {
      const std::int64_t l = load_[p * nc_ + c] + (delta ? sign * delta[c] : 0);
      const std::int64_t over = l - static_cast<std::int64_t>(bw_.cap[c]);
      if (over > 0) f += static_cast<double>(over) * inv_cap_[c];
    }
    return f;
  }
  void weights(VertexId v, std::int64_t* w) const {
    for (std::uint32_t c = 0; c < nc_; ++c) w[c] = bw_.at(v, c);
  }
  void move(VertexId v, PartId to, std::uint64_t* moves) {
    const PartId from = part_[v];
    for (std::uint32_t c = 0; c < nc_; ++c) {
      load_[from * nc_ + c] -= bw_.at(v, c);
      load_[to * nc_ + c] += bw_.at(v, c);
    }
    auto& mf = members_[from];
    const VertexId last = mf.back();
    mf[pos_[v]] = last;
    pos_[last] = pos_[v];
    mf.pop_back();
    pos_[v] = static_cast<std::uint32_t>(members_[to].size());
    members_[to].push_back(v);
    part_[v] = to;
    if (moves) ++*moves;
  }
  std::vector<VertexId> sample(PartId p, std::size_t count) {
    const auto& m = members_[p];
    std::vector<VertexId> out;
    if (m.size() <= count) return m;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back(m[rng_.below(m.size())]);
    return out;
  }

  // Moves out of p that lower the total overload, best target each; several per scan.
  bool try_moves(PartId p, std::uint64_t* moves) {
    bool any = false;
    std::vector<std::int64_t> w(nc_);
    for (VertexId v : sample(p, 4096)) {
      if (part_[v] != p || phi(p, nullptr, 0) <= 0) continue;
      weights(v, w.data());
      const double before_p = phi(p, nullptr, 0), after_p = phi(p, w.data(), -1);
      PartId best = kNoPart;
      double best_delta = -1e-12;
      for (PartId q = 0; q < k_; ++q) {
        if (q == p) continue;
        const double d = (after_p - before_p) + (phi(q, w.data(), +1) - phi(q, nullptr, 0));
        if (d < best_delta) {
          best_delta = d;
          best = q;
        }
      }
      if (best != kNoPart) {
        move(v, best, moves);
        any = true;
      }
    }
    return any;
  }

  // Swaps of u in p with x elsewhere that lower the total overload.
  bool try_swaps(PartId p, std::uint64_t* moves) {
    std::vector<std::int64_t> wu(nc_), wx(nc_), diff(nc_);
    for (VertexId u : sample(p, 256)) {
      if (part_[u] != p || phi(p, nullptr, 0) <= 0) continue;
      weights(u, wu.data());
      double best = -1e-12;
      VertexId best_x = kInvalidVertex;
      for (PartId q = 0; q < k_; ++q) {
        if (q == p) continue;
        for (VertexId x : sample(q, 32)) {
          weights(x, wx.data());
          for (std::uint32_t c = 0; c < nc_; ++c) diff[c] = wu[c] - wx[c];  // what p loses, q gains
          const double d = (phi(p, diff.data(), -1) - phi(p, nullptr, 0)) + (phi(q, diff.data(), +1) - phi(q, nullptr, 0));
          if (d < best) {
            best = d;
            best_x = x;
          }
        }
      }
      if (best_x != kInvalidVertex) {
        const PartId q = part_[best_x];
        move(u, q, moves);
        move(best_x, p, moves);
        return true;
      }
    }
    return false;
  }

  std::vector<PartId>& part_;
  const BalanceWeights& bw_;
  std::uint32_t k_, nc_;
  Rng rng_;
  std::vector<std::int64_t> load_;
  std::vector<double> inv_cap_;
  std::vector<std::vector<VertexId>> members_;
  std::vector<std::uint32_t> pos_;
};

}  // namespace

bool repair_balance(std::vector<PartId>& part, const BalanceWeights& bw, std::uint32_t k, std::uint64_t seed,
                    std::uint64_t* moves) {
  if (bw.ncon == 0 || part.empty()) return true;
  BalanceRepair r(part, bw, k, seed);
  return r.run(moves);
}

}  // namespace flotilla
