#include "flotilla/datasets/csr.h"

#include <algorithm>
#include <boost/pending/disjoint_sets.hpp>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <unistd.h>

#include "flotilla/datasets/error.h"

namespace flotilla {

CsrGraph::CsrGraph(std::vector<EdgeIndex> offsets, std::vector<VertexId> targets, std::vector<float> weights)
    : offsets_(std::move(offsets)), targets_(std::move(targets)), weights_(std::move(weights)) {
  if (offsets_.empty()) offsets_.push_back(0);
  if (offsets_.front() != 0 || offsets_.back() != targets_.size())
    throw std::invalid_argument("CsrGraph: offsets must start at 0 and end at the number of targets");
  if (offsets_.size() - 1 >= kMaxVertices) throw std::invalid_argument("CsrGraph: too many vertices for 32-bit ids");
  if (!weights_.empty() && weights_.size() != targets_.size())
    throw std::invalid_argument("CsrGraph: weights and targets differ in length");
  for (std::size_t i = 1; i < offsets_.size(); ++i)
    if (offsets_[i] < offsets_[i - 1]) throw std::invalid_argument("CsrGraph: offsets decrease");
  const VertexId n = num_nodes();
  for (VertexId t : targets_)
    if (t >= n) throw std::invalid_argument("CsrGraph: target id out of range");
}

bool CsrGraph::is_symmetric() const {
  // Needs sorted adjacency for binary search; check on sorted copies of each list lazily.
  const VertexId n = num_nodes();
  for (VertexId u = 0; u < n; ++u) {
    const auto nu = neighbors(u);
    const auto wu = neighbor_weights(u);
    for (std::size_t i = 0; i < nu.size(); ++i) {
      const VertexId v = nu[i];
      const auto nv = neighbors(v);
      bool found = false;
      if (std::is_sorted(nv.begin(), nv.end())) {
        auto it = std::lower_bound(nv.begin(), nv.end(), u);
        found = it != nv.end() && *it == u;
        if (found && has_weights()) found = neighbor_weights(v)[static_cast<std::size_t>(it - nv.begin())] == wu[i];
      } else {
        for (std::size_t j = 0; j < nv.size() && !found; ++j)
          found = nv[j] == u && (!has_weights() || neighbor_weights(v)[j] == wu[i]);
      }
      if (!found) return false;
    }
  }
  return true;
}

std::size_t CsrGraph::memory_bytes() const {
  return offsets_.capacity() * sizeof(EdgeIndex) + targets_.capacity() * sizeof(VertexId) +
         weights_.capacity() * sizeof(float);
}

namespace {

// Sorts each adjacency list and, when asked, removes repeated targets (keeping the first
// weight). Compacts in place.
void sort_and_dedup(std::vector<EdgeIndex>& offsets, std::vector<VertexId>& targets, std::vector<float>& weights,
                    bool dedup) {
  const std::size_t n = offsets.size() - 1;
  const bool weighted = !weights.empty();
  std::vector<std::pair<VertexId, float>> tmp;
  EdgeIndex write = 0;
  EdgeIndex begin = offsets[0];
  for (std::size_t v = 0; v < n; ++v) {
    const EdgeIndex end = offsets[v + 1];
    if (weighted) {
      tmp.clear();
      for (EdgeIndex i = begin; i < end; ++i) tmp.emplace_back(targets[i], weights[i]);
      std::stable_sort(tmp.begin(), tmp.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (std::size_t i = 0; i < tmp.size(); ++i) {
        if (dedup && i > 0 && tmp[i].first == tmp[i - 1].first) continue;
        targets[write] = tmp[i].first;
        weights[write] = tmp[i].second;
        ++write;
      }
    } else {
      std::sort(targets.begin() + static_cast<std::ptrdiff_t>(begin), targets.begin() + static_cast<std::ptrdiff_t>(end));
      for (EdgeIndex i = begin; i < end; ++i) {
        if (dedup && i > begin && targets[i] == targets[i - 1]) continue;
        targets[write++] = targets[i];
      }
    }
    begin = end;
    offsets[v + 1] = write;
  }
  targets.resize(write);
  targets.shrink_to_fit();
  if (weighted) {
    weights.resize(write);
    weights.shrink_to_fit();
  }
}

}  // namespace

CsrGraph build_csr(EdgeStream& stream, const CsrBuildOptions& opts) {
  const std::uint64_t n = stream.info().num_nodes;
  // A corrupt header must not drive a huge allocation: refuse beyond physical memory.
  const double phys = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  // Per vertex: offsets, fill cursors and degree/statistics arrays, ~24 bytes.
  if (phys > 0 && static_cast<double>(n + 1) * 24 > phys)
    throw_file(stream.info().path, std::to_string(n) + " vertices would need more memory than this machine has");
  const bool weighted = stream.info().has_edge_weights;
  std::vector<EdgeIndex> offsets(n + 1, 0);
  EdgeChunk chunk;
  stream.rewind();
  while (stream.next_chunk(chunk, opts.chunk_edges)) {
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const VertexId u = chunk.src[i], v = chunk.dst[i];
      if (u == v && opts.drop_self_loops) continue;
      ++offsets[u + 1];
      if (opts.symmetrize && u != v) ++offsets[v + 1];
    }
  }
  for (std::uint64_t v = 0; v < n; ++v) offsets[v + 1] += offsets[v];
  std::vector<VertexId> targets(offsets[n]);
  std::vector<float> weights(weighted ? offsets[n] : 0);
  std::vector<EdgeIndex> cursor(offsets.begin(), offsets.end() - 1);
  stream.rewind();
  while (stream.next_chunk(chunk, opts.chunk_edges)) {
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const VertexId u = chunk.src[i], v = chunk.dst[i];
      if (u == v && opts.drop_self_loops) continue;
      const EdgeIndex a = cursor[u]++;
      if (a >= offsets[u + 1]) throw_file(stream.info().path, "input changed between passes (more edges than in the first pass)");
      targets[a] = v;
      if (weighted) weights[a] = chunk.weight[i];
      if (opts.symmetrize && u != v) {
        const EdgeIndex b = cursor[v]++;
        if (b >= offsets[v + 1]) throw_file(stream.info().path, "input changed between passes (more edges than in the first pass)");
        targets[b] = u;
        if (weighted) weights[b] = chunk.weight[i];
      }
    }
  }
  stream.rewind();
  cursor.clear();
  cursor.shrink_to_fit();
  sort_and_dedup(offsets, targets, weights, opts.dedup);
  return CsrGraph(std::move(offsets), std::move(targets), std::move(weights));
}

CsrGraph build_csr(VertexId num_nodes, const std::vector<VertexId>& src, const std::vector<VertexId>& dst,
                   const CsrBuildOptions& opts) {
  if (src.size() != dst.size()) throw std::invalid_argument("build_csr: src and dst differ in length");
  std::vector<EdgeIndex> offsets(static_cast<std::size_t>(num_nodes) + 1, 0);
  for (std::size_t i = 0; i < src.size(); ++i) {
    if (src[i] >= num_nodes || dst[i] >= num_nodes) throw std::invalid_argument("build_csr: vertex id out of range");
    if (src[i] == dst[i] && opts.drop_self_loops) continue;
    ++offsets[src[i] + 1];
    if (opts.symmetrize && src[i] != dst[i]) ++offsets[dst[i] + 1];
  }
  for (std::size_t v = 0; v < num_nodes; ++v) offsets[v + 1] += offsets[v];
  std::vector<VertexId> targets(offsets[num_nodes]);
  std::vector<EdgeIndex> cursor(offsets.begin(), offsets.end() - 1);
  for (std::size_t i = 0; i < src.size(); ++i) {
    if (src[i] == dst[i] && opts.drop_self_loops) continue;
    targets[cursor[src[i]]++] = dst[i];
    if (opts.symmetrize && src[i] != dst[i]) targets[cursor[dst[i]]++] = src[i];
  }
  std::vector<float> no_weights;
  sort_and_dedup(offsets, targets, no_weights, opts.dedup);
  return CsrGraph(std::move(offsets), std::move(targets));
}

DegreeStats degree_stats(const CsrGraph& g) {
  DegreeStats s;
  const VertexId n = g.num_nodes();
  if (n == 0) return s;
  std::vector<EdgeIndex> deg(n);
  double sum = 0, sumsq = 0;
  s.min = ~EdgeIndex{0};
  for (VertexId v = 0; v < n; ++v) {
    deg[v] = g.degree(v);
    s.min = std::min(s.min, deg[v]);
    s.max = std::max(s.max, deg[v]);
    sum += static_cast<double>(deg[v]);
    sumsq += static_cast<double>(deg[v]) * static_cast<double>(deg[v]);
    s.isolated += deg[v] == 0;
  }
  s.mean = sum / n;
  s.stddev = std::sqrt(std::max(0.0, sumsq / n - s.mean * s.mean));
  auto mid = deg.begin() + n / 2;
  std::nth_element(deg.begin(), mid, deg.end());
  s.median = static_cast<double>(*mid);
  if (n % 2 == 0) s.median = (s.median + static_cast<double>(*std::max_element(deg.begin(), mid))) / 2.0;
  return s;
}

std::vector<VertexId> component_labels(const CsrGraph& g, VertexId* count) {
  const VertexId n = g.num_nodes();
  std::vector<VertexId> rank(n), parent(n);
  boost::disjoint_sets<VertexId*, VertexId*> sets(rank.data(), parent.data());
  for (VertexId v = 0; v < n; ++v) sets.make_set(v);
  for (VertexId u = 0; u < n; ++u)
    for (VertexId v : g.neighbors(u))
      if (u < v) sets.union_set(u, v);
  std::vector<VertexId> label(n, kInvalidVertex);
  VertexId next = 0;
  // rank is reused as root -> label map.
  std::fill(rank.begin(), rank.end(), kInvalidVertex);
  for (VertexId v = 0; v < n; ++v) {
    const VertexId root = sets.find_set(v);
    if (rank[root] == kInvalidVertex) rank[root] = next++;
    label[v] = rank[root];
  }
  if (count) *count = next;
  return label;
}

ComponentStats connected_components(const CsrGraph& g) {
  ComponentStats s;
  VertexId count = 0;
  const std::vector<VertexId> label = component_labels(g, &count);
  std::vector<VertexId> sizes(count, 0);
  for (VertexId l : label) ++sizes[l];
  s.count = count;
  s.largest = sizes.empty() ? 0 : *std::max_element(sizes.begin(), sizes.end());
  return s;
}

}  // namespace flotilla
