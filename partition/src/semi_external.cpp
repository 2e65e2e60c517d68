// GREM's semi-external multilevel engine. See semi_external.h and docs/partitioning.md
// ("Semi-external multilevel engine") for the algorithm and its memory formula.
#include "semi_external.h"

#include "huge_pages.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <cstring>
#include <memory>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "flotilla/datasets/random.h"
#include "multilevel.h"
#include "scratch_file.h"
#include "worker_pool.h"

namespace flotilla::detail {

namespace {

// ---- level graphs on disk -----------------------------------------------------------------
// A graph as a sequence of blocks, each a vertex range [begin, end) with the complete,
// merged, weighted adjacency of its vertices: uint32 degree[end - begin], uint32 adj[e],
// uint32 weight[e]. A block holds at most the budget's entries (or one vertex).
struct Block {
  std::uint64_t offset = 0;
  VertexId begin = 0, end = 0;
  std::uint64_t entries = 0;
  // Bytes per stored edge weight: 0 (every weight is 1: none stored), 1, 2 or 4 (the
  // smallest width that holds the block's largest weight; the input level's repeated edges
  // and the first coarse levels rarely need more than one byte).
  std::uint8_t weight_bytes = 4;
  // Bytes on disk from offset: degrees, neighbours, weights (read_block's layout).
  std::uint64_t bytes() const { return (end - begin) * std::uint64_t{4} + entries * (4 + std::uint64_t{weight_bytes}); }
};

struct LevelGraph {
  std::unique_ptr<ScratchFile> file;
  std::uint64_t n = 0;
  std::vector<Block> blocks;
  // Vertex weights, n x ncon (one per balance constraint). The input level reads the
  // caller's array (ext, or all 1 when there is none); coarse levels own theirs.
  std::uint32_t ncon = 1;
  const std::vector<std::uint32_t>* ext = nullptr;
  std::vector<std::uint32_t> vw;
  std::vector<std::uint32_t> deg; // merged degree per vertex (saturating); freed once contracted
  std::uint64_t entries = 0;      // adjacency entries (both directions), merged
  std::uint32_t weight(VertexId v, std::uint32_t c = 0) const {
    const std::size_t i = static_cast<std::size_t>(v) * ncon + c;
    if (ext) return (*ext)[i];
    return vw.empty() ? 1u : vw[i];
  }
};

// Part loads against the per-constraint capacities (k x ncon). Owns its arrays.
struct PartLoads {
  std::uint32_t k = 0, ncon = 1;
  std::vector<std::int64_t> load;  // k x ncon
  std::vector<std::int64_t> cap;   // ncon
  PartLoads(const LevelGraph& g, const std::vector<PartId>& part, std::uint32_t parts, const std::vector<std::int64_t>& caps)
      : k(parts), ncon(g.ncon), load(static_cast<std::size_t>(parts) * g.ncon, 0), cap(caps) {
    for (std::uint64_t v = 0; v < g.n; ++v) add(g, static_cast<VertexId>(v), part[v], +1);
  }
  std::int64_t l(PartId p, std::uint32_t c) const { return load[static_cast<std::size_t>(p) * ncon + c]; }
  void add(const LevelGraph& g, VertexId v, PartId p, std::int64_t sign) {
    for (std::uint32_t c = 0; c < ncon; ++c) load[static_cast<std::size_t>(p) * ncon + c] += sign * g.weight(v, c);
  }
  void move(const LevelGraph& g, VertexId v, PartId from, PartId to) {
    add(g, v, from, -1);
    add(g, v, to, +1);
  }
  bool fits(const LevelGraph& g, VertexId v, PartId p) const {
    for (std::uint32_t c = 0; c < ncon; ++c)
      if (l(p, c) + g.weight(v, c) > cap[c]) return false;
    return true;
  }
  bool over(PartId p) const {
    for (std::uint32_t c = 0; c < ncon; ++c)
      if (l(p, c) > cap[c]) return true;
    return false;
  }
  bool any_over() const {
    for (PartId p = 0; p < k; ++p)
      if (over(p)) return true;
    return false;
  }
  // Relative overload of p (sum over constraints of max(0, load - cap) / cap), with v's
  // weights added (sign +1) or removed (-1) when given.
  double phi(PartId p, const LevelGraph* g = nullptr, VertexId v = 0, std::int64_t sign = 0) const {
    double f = 0;
    for (std::uint32_t c = 0; c < ncon; ++c) {
      const std::int64_t over = l(p, c) + (g ? sign * g->weight(v, c) : 0) - cap[c];
      if (over > 0) f += static_cast<double>(over) / static_cast<double>(std::max<std::int64_t>(1, cap[c]));
    }
    return f;
  }
  // Change of the total overload if v moves from a to b.
  double move_delta(const LevelGraph& g, VertexId v, PartId a, PartId b) const {
    return phi(a, &g, v, -1) - phi(a) + phi(b, &g, v, +1) - phi(b);
  }
  // Fullest constraint of p, relative to its capacity (with v added when given).
  double fill(PartId p, const LevelGraph* g = nullptr, VertexId v = 0) const {
    double f = 0;
    for (std::uint32_t c = 0; c < ncon; ++c)
      f = std::max(f, static_cast<double>(l(p, c) + (g ? g->weight(v, c) : 0)) / static_cast<double>(std::max<std::int64_t>(1, cap[c])));
    return f;
  }
};

// One block in memory (reused across blocks).
struct BlockBuf {
  VertexId begin = 0, end = 0;
  std::vector<std::uint32_t> deg;
  std::vector<EdgeIndex> xadj;
  std::vector<std::uint32_t> adj, ew;
  std::size_t ones = 0;  // ew's leading entries known to be 1 (a block without weights reads none)
  std::uint32_t size() const { return end - begin; }
};

void read_block(const LevelGraph& g, std::size_t b, BlockBuf& out) {
  const Block& blk = g.blocks[b];
  const std::uint32_t nv = blk.end - blk.begin;
  out.begin = blk.begin;
  out.end = blk.end;
  // Growing a vector keeps the old array while the new one is zero-filled: free first.
  // Vertices are visited in random order: huge pages (huge_pages.h) for the arrays.
  auto grow = [](auto& v, std::size_t n) {
    if (n > v.capacity()) {
      std::remove_reference_t<decltype(v)>().swap(v);
      v.reserve(n);
      advise_huge_pages(v.data(), n * sizeof(v[0]));
    }
    v.resize(n);
  };
  grow(out.adj, blk.entries);
  // Ones survive a resize within [0, old size) only (growing zero-fills, reallocating drops).
  out.ones = blk.entries > out.ew.capacity() ? 0 : std::min<std::size_t>(out.ones, out.ew.size());
  grow(out.ew, blk.entries);
  grow(out.deg, nv);
  std::uint64_t off = blk.offset;
  g.file->read_at(off, out.deg.data(), nv * 4ull);
  off += nv * 4ull;
  g.file->read_at(off, out.adj.data(), blk.entries * 4);
  off += blk.entries * 4;
  if (blk.weight_bytes == 0) {
    // Passes over an unweighted level (every input level without repeated edges) fill the
    // ones once, not on every block read.
    if (out.ones < blk.entries) {
      std::fill(out.ew.begin() + static_cast<std::ptrdiff_t>(out.ones), out.ew.end(), 1u);
      out.ones = blk.entries;
    }
  } else {
    g.file->read_at(off, out.ew.data(), blk.entries * blk.weight_bytes);
    widen_weights(out.ew.data(), blk.entries, blk.weight_bytes);
    out.ones = 0;
  }
  grow(out.xadj, nv + 1);
  out.xadj[0] = 0;
  for (std::uint32_t i = 0; i < nv; ++i) out.xadj[i + 1] = out.xadj[i] + out.deg[i];
}


// Groups (owner, other, weight) entries by owner into the blocks of a LevelGraph with
// bounded memory: each block's entries are buffered as 8-byte (owner, other) pairs plus an
// (index, weight) pair per entry that does not weigh 1, spilled to one scratch file in
// segments, then each block is read back, sorted by owner (counting sort), merged and
// written. A segment where most entries weigh 1 (all of the input level's, nearly all of the
// first contraction's) is spilled as it is buffered; any other with its weights expanded to
// 4 bytes per entry (12 B per entry either way at most). The entries come back in the order
// added, so the blocks do not depend on the encoding.
class BlockBuilder {
 public:
  BlockBuilder(ScratchSpace& space, std::vector<VertexId> bounds, std::uint64_t buffer_entries)
      : space_(space), bounds_(std::move(bounds)), spill_(space) {
    const std::size_t nb = bounds_.size() - 1;
    // (at most 2^32 - 1: a weight's index in its bucket is kept in 32 bits)
    per_bucket_ = static_cast<std::size_t>(
        std::min<std::uint64_t>(0xffffffffu, std::max<std::uint64_t>(256, buffer_entries / std::max<std::size_t>(1, nb))));
    buckets_.resize(nb);
    segments_.resize(nb);
    sub_shift_.resize(nb, 0);
    sub_counts_.resize(nb);
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint32_t nv = bounds_[b + 1] - bounds_[b];
      while (nv > 0 && ((nv - 1) >> sub_shift_[b]) >= kSubBuckets) ++sub_shift_[b];
      sub_counts_[b].assign(nv == 0 ? 0 : ((nv - 1) >> sub_shift_[b]) + 1, 0);
    }
    // block_of's table: the block of every 2^kCoarseShift-th vertex id.
    const std::uint64_t n = bounds_.back();
    coarse_.resize((n >> kCoarseShift) + 1);
    std::size_t blk = 0;
    for (std::size_t j = 0; j < coarse_.size(); ++j) {
      const std::uint64_t v = std::uint64_t{j} << kCoarseShift;
      while (blk + 1 < nb && v >= bounds_[blk + 1]) ++blk;
      coarse_[j] = static_cast<std::uint32_t>(blk);
    }
  }

  // The block holding `owner`'s entries (ids below n).
  std::size_t block_of(VertexId owner) const {
    std::size_t b = coarse_[owner >> kCoarseShift];
    while (owner >= bounds_[b + 1]) ++b;
    return b;
  }

  void add(VertexId owner, VertexId other, std::uint32_t w) { add_to(block_of(owner), owner, other, w); }

  // Where set, finish() checks that every owner v was added with exactly counts[v * stride]
  // entries (before repeated neighbours merge) and records the first that was not.
  void expect_entries(const std::uint32_t* counts, std::size_t stride) {
    expect_ = counts;
    expect_stride_ = stride;
  }
  struct EntryMismatch {
    VertexId owner;
    std::uint64_t expected, added;
  };
  const std::optional<EntryMismatch>& entry_mismatch() const { return mismatch_; }

  // add() with the owner's block known (block_of(owner)): a caller adding many entries of
  // one owner looks it up once.
  void add_to(std::size_t b, VertexId owner, VertexId other, std::uint32_t w) {
    Bucket& k = buckets_[b];
    if (k.pairs.capacity() == 0) {  // exactly: growth by doubling would double the buffers
      k.pairs.reserve(per_bucket_);
      k.weights.reserve(per_bucket_ / 2);
    }
    if (w != 1) k.weights.push_back((static_cast<std::uint64_t>(k.pairs.size()) << 32) | w);
    k.pairs.push_back((std::uint64_t{owner} << 32) | other);
    ++sub_counts_[b][(owner - bounds_[b]) >> sub_shift_[b]];
    added_weight_ += w;
    if (k.pairs.size() >= per_bucket_ || k.weights.size() >= per_bucket_ / 2) spill_bucket(b);
  }

  // `mark` is scratch of at least n entries (any contents).
  LevelGraph finish(std::uint64_t n, std::uint32_t ncon, std::vector<std::uint32_t> vw, std::vector<std::uint32_t>& mark) {
    // Every buffer goes to the spill and is freed first, so that the buffers and a block's
    // arrays are never in memory at once (the budget counts one or the other).
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      if (!buckets_[b].pairs.empty()) spill_bucket(b);
      std::vector<std::uint64_t>().swap(buckets_[b].pairs);
      std::vector<std::uint64_t>().swap(buckets_[b].weights);
    }
    spill_.seal();
    LevelGraph g;
    g.file = std::make_unique<ScratchFile>(space_);
    g.n = n;
    g.ncon = ncon;
    g.vw = std::move(vw);
    assign_huge(g.deg, n, 0u);
    if (mark.size() < n) assign_huge(mark, n, ~std::uint32_t{0});
    std::vector<Entry> entries;
    std::vector<std::uint32_t> deg, adj, ew;
    std::vector<EdgeIndex> pos, fill;
    std::uint64_t written_weight = 0;
    bool saturated = false;
    for (std::size_t b = 0; b + 1 < bounds_.size(); ++b) {
      const VertexId begin = bounds_[b], end = bounds_[b + 1];
      const std::uint32_t nv = end - begin;
      std::uint64_t total = 0;
      for (auto& s : segments_[b]) total += s.count;
      // Growing a vector keeps the old array until the new one is filled: free first.
      if (total > entries.capacity()) {
        std::vector<Entry>().swap(entries);
        std::vector<std::uint32_t>().swap(adj);
        std::vector<std::uint32_t>().swap(ew);
      }
      // The entries come back from the spill straight into their sub-bucket (a range of
      // at most 2^sub_shift owners; counts kept while spilling), in the order added. Then
      // a counting sort by owner within each sub-bucket: its counters and its slice of adj
      // and ew stay in cache, where one sort over the whole block scatters every entry to
      // one of nv places (SBM products: 40% of this function's time). Both steps are
      // stable, so the lists come out in the order added, as before.
      entries.resize(total);
      const unsigned shift = sub_shift_[b];
      const std::vector<std::uint64_t>& sub_count = sub_counts_[b];
      std::vector<std::uint64_t> sub_at(sub_count.size() + 1, 0);
      for (std::size_t s = 0; s < sub_count.size(); ++s) sub_at[s + 1] = sub_at[s] + sub_count[s];
      if (sub_at.back() != total) throw std::logic_error("semi-external engine: block builder sub-bucket counts disagree");
      std::vector<std::uint64_t> sub_fill(sub_at.begin(), sub_at.end() - 1);
      for (auto& s : segments_[b]) {
        // Read back a slice at a time (pairs, and their weights beside them), so that only
        // the block's entries are in memory at the peak, not a whole segment besides.
        const std::uint64_t weights_at = s.offset + s.count * 8;
        std::uint64_t weighted_read = 0, next_weighted = 0;  // sparse: pairs read, the next one
        for (std::uint64_t i0 = 0; i0 < s.count; i0 += kSlice) {
          const std::uint64_t len = std::min(kSlice, s.count - i0);
          packed_.resize(len);
          spill_.read_at(s.offset + i0 * 8, packed_.data(), len * 8);
          if (s.dense) {
            dense_.resize(len);
            spill_.read_at(weights_at + i0 * 4, dense_.data(), len * 4);
          }
          for (std::uint64_t i = 0; i < len; ++i) {
            const std::uint32_t owner = static_cast<std::uint32_t>(packed_[i] >> 32);
            std::uint32_t w = 1;
            if (s.dense) {
              w = dense_[i];
            } else if (next_weighted < s.weighted) {
              if (next_weighted == weighted_read) {  // the next slice of (index, weight) pairs
                const std::uint64_t m = std::min(kSlice, s.weighted - weighted_read);
                weights_.resize(m);
                spill_.read_at(weights_at + weighted_read * 8, weights_.data(), m * 8);
                weighted_read += m;
              }
              const std::uint64_t x = weights_[next_weighted % kSlice];
              if ((x >> 32) == i0 + i) {
                w = static_cast<std::uint32_t>(x);
                ++next_weighted;
              }
            }
            entries[sub_fill[(owner - begin) >> shift]++] = {owner, static_cast<std::uint32_t>(packed_[i]), w};
          }
        }
        // Read once: its pages go back at once, so the spill and the blocks written from it
        // do not both hold every entry on disk at the peak.
        spill_.release(s.offset, s.bytes());
      }

      pos.resize(nv + 1);
      pos[0] = 0;
      adj.resize(total);
      ew.resize(total);
      for (std::size_t s = 0; s < sub_count.size(); ++s) {
        const std::uint32_t v0 = static_cast<std::uint32_t>(s << shift);
        const std::uint32_t v1 = static_cast<std::uint32_t>(std::min<std::uint64_t>(nv, (std::uint64_t{s} + 1) << shift));
        for (std::uint32_t i = v0; i < v1; ++i) pos[i + 1] = 0;
        for (std::uint64_t e = sub_at[s]; e < sub_at[s + 1]; ++e) ++pos[entries[e].owner - begin + 1];
        pos[v0] = sub_at[s];
        for (std::uint32_t i = v0; i < v1; ++i) pos[i + 1] += pos[i];
        fill.assign(pos.begin() + v0, pos.begin() + v1);
        for (std::uint64_t e = sub_at[s]; e < sub_at[s + 1]; ++e) {
          const Entry& x = entries[e];
          const EdgeIndex p = fill[x.owner - begin - v0]++;
          adj[p] = x.other;
          ew[p] = x.w;
        }
      }
      if (expect_ && !mismatch_)
        for (std::uint32_t i = 0; i < nv; ++i) {
          const std::uint64_t want = expect_[(static_cast<std::uint64_t>(begin) + i) * expect_stride_];
          if (pos[i + 1] - pos[i] != want) {
            mismatch_ = EntryMismatch{begin + i, want, pos[i + 1] - pos[i]};
            break;
          }
        }
      // Merge repeated neighbours (weights add, saturating). mark[x] points at x's slot in
      // the current vertex's list when adj there still holds x: no reset between vertices.
      deg.assign(nv, 0);
      EdgeIndex w = 0;
      constexpr EdgeIndex kAhead = 32;  // mark[] lookups prefetched ahead, as in contraction
      for (EdgeIndex e = 0; e < std::min<EdgeIndex>(kAhead, total); ++e) __builtin_prefetch(mark.data() + adj[e]);
      for (std::uint32_t i = 0; i < nv; ++i) {
        const EdgeIndex start = w;
        for (EdgeIndex e = pos[i]; e < pos[i + 1]; ++e) {
          if (e + kAhead < total) __builtin_prefetch(mark.data() + adj[e + kAhead]);
          const std::uint32_t x = adj[e];
          const std::uint32_t m = mark[x];
          if (m != ~std::uint32_t{0} && m >= start && m < w && adj[m] == x) {
            const std::uint64_t s = static_cast<std::uint64_t>(ew[m]) + ew[e];
            saturated |= s > 0xffffffffu;
            ew[m] = static_cast<std::uint32_t>(std::min<std::uint64_t>(s, 0xffffffffu));
          } else {
            mark[x] = static_cast<std::uint32_t>(w);
            adj[w] = x;
            ew[w] = ew[e];
            ++w;
          }
        }
        deg[i] = static_cast<std::uint32_t>(w - start);
      }
      Block blk;
      blk.offset = g.file->size();
      blk.begin = begin;
      blk.end = end;
      blk.entries = w;
      std::uint32_t wmin = ~std::uint32_t{0}, wmax = 0;
      for (EdgeIndex e = 0; e < w; ++e) {
        wmin = std::min(wmin, ew[e]);
        wmax = std::max(wmax, ew[e]);
        written_weight += ew[e];
      }
      blk.weight_bytes = w == 0 || (wmin == 1 && wmax == 1) ? 0 : wmax < 256 ? 1 : wmax < 65536 ? 2 : 4;
      std::copy(deg.begin(), deg.end(), g.deg.begin() + begin);
      g.file->append(deg.data(), nv * 4ull);
      g.file->append(adj.data(), w * 4);
      if (blk.weight_bytes > 0) {
        narrow_weights(ew.data(), w, blk.weight_bytes);
        g.file->append(ew.data(), w * blk.weight_bytes);
      }
      g.blocks.push_back(blk);
      g.entries += w;
    }
    g.file->seal();  // read-only from here: its write buffer is freed
    // Every weight added comes back out of the spill (its two encodings) and the merge.
    if (!saturated && written_weight != added_weight_)
      throw std::logic_error("semi-external engine: block builder wrote edge weight " + std::to_string(written_weight) +
                             " of " + std::to_string(added_weight_) + " added");
    return g;
  }

 private:
  struct Entry {
    std::uint32_t owner, other, w;
  };
  struct Segment {
    std::uint64_t offset, count, weighted;
    // count (owner, other) pairs, then either weighted (index, weight) pairs (sparse) or
    // count 4-byte weights (dense)
    bool dense;
    std::uint64_t bytes() const { return dense ? count * 12 : (count + weighted) * 8; }
  };
  struct Bucket {
    std::vector<std::uint64_t> pairs;    // owner << 32 | other
    std::vector<std::uint64_t> weights;  // index in pairs << 32 | weight, for weights other than 1
  };
  void spill_bucket(std::size_t b) {
    Bucket& k = buckets_[b];
    const std::uint64_t count = k.pairs.size(), weighted = k.weights.size();
    const bool dense = 2 * weighted >= count;
    segments_[b].push_back({spill_.size(), count, weighted, dense});
    spill_.append(k.pairs.data(), count * 8);
    if (dense) {
      // Expanded a slice at a time: a buffer of the whole segment's weights would add 4 B
      // per buffered entry at the peak.
      dense_.resize(kSlice);
      std::size_t j = 0;
      for (std::uint64_t at = 0; at < count; at += kSlice) {
        const std::uint64_t len = std::min(kSlice, count - at);
        std::fill(dense_.begin(), dense_.begin() + len, 1u);
        for (; j < k.weights.size() && (k.weights[j] >> 32) < at + len; ++j)
          dense_[(k.weights[j] >> 32) - at] = static_cast<std::uint32_t>(k.weights[j]);
        spill_.append(dense_.data(), len * 4);
      }
    } else {
      spill_.append(k.weights.data(), weighted * 8);
    }
    k.pairs.clear();
    k.weights.clear();
  }
  static constexpr unsigned kCoarseShift = 10;
  ScratchSpace& space_;
  std::vector<VertexId> bounds_;
  std::vector<std::uint32_t> coarse_;  // block_of's table
  ScratchFile spill_;
  std::size_t per_bucket_ = 256;
  static constexpr std::uint64_t kSlice = 1 << 17;  // entries spilled or read back at once (dense weights, reading)
  std::vector<std::uint64_t> packed_;   // a slice of pairs read back
  std::vector<std::uint64_t> weights_;  // a slice of (index, weight) pairs read back
  std::vector<std::uint32_t> dense_;    // a slice of a dense segment's weights (spilling, reading back)
  std::uint64_t added_weight_ = 0;     // checked against what finish writes
  std::vector<Bucket> buckets_;
  std::vector<std::vector<Segment>> segments_;
  // Per block: owners (block-local) >> sub_shift_ name the sub-bucket finish sorts within;
  // at most kSubBuckets of them, their entry counts kept as entries are added.
  static constexpr std::uint32_t kSubBuckets = 256;
  std::vector<unsigned> sub_shift_;
  std::vector<std::vector<std::uint64_t>> sub_counts_;
  const std::uint32_t* expect_ = nullptr;  // expect_entries
  std::size_t expect_stride_ = 1;
  std::optional<EntryMismatch> mismatch_;
};

// Open-addressing map key -> weight for one vertex's neighbourhood; cleared by its keys.
class RatingMap {
 public:
  // Sizes the table for one vertex's neighbourhood: a small vertex probes a small table
  // (the array only grows; slots beyond the current mask are always empty).
  void reset(std::size_t expected) {
    for (std::size_t s : used_) keys_[s] = kEmpty;
    used_.clear();
    std::size_t cap = 16;
    while (cap < 2 * expected) cap <<= 1;
    if (cap > keys_.size()) {
      keys_.assign(cap, kEmpty);
      vals_.assign(cap, 0);
    }
    mask_ = cap - 1;
  }
  void add(std::uint32_t key, std::uint64_t w) {
    std::size_t s = (key * 0x9e3779b1u) & mask_;
    while (keys_[s] != kEmpty && keys_[s] != key) s = (s + 1) & mask_;
    if (keys_[s] == kEmpty) {
      keys_[s] = key;
      vals_[s] = 0;
      used_.push_back(s);
    }
    vals_[s] += w;
  }
  std::uint64_t get(std::uint32_t key) const {
    std::size_t s = (key * 0x9e3779b1u) & mask_;
    while (keys_[s] != kEmpty) {
      if (keys_[s] == key) return vals_[s];
      s = (s + 1) & mask_;
    }
    return 0;
  }
  template <typename F>
  void for_each(F&& f) const {
    for (std::size_t s : used_) f(keys_[s], vals_[s]);
  }

 private:
  static constexpr std::uint32_t kEmpty = ~std::uint32_t{0};
  std::vector<std::uint32_t> keys_;
  std::vector<std::uint64_t> vals_;
  std::vector<std::size_t> used_;
  std::size_t mask_ = 0;
};

// Vertices decided together in one batch (see for_each_vertex_batched): 1/1024 of the
// block, at most 256 of a window's 4096 (about one stale neighbour in 16), so that few of a
// vertex's neighbours are in its own batch; small blocks (where batches below 128 vertices
// run on one thread anyway) stay nearly sequential: 1/64 cost social graphs under two
// constraints 4% of cut. Depends on the block only, never on the thread count.
std::uint32_t batch_size(std::uint32_t nv) { return std::clamp<std::uint32_t>(nv / 1024, 1, 256); }

// Vertex order within a block: random within windows of 4096 consecutive vertices, so that
// label propagation sees no fixed sweep direction while neighbours' state and adjacency
// stay in cache.
void shuffle_order(std::vector<std::uint32_t>& order, std::uint32_t nv, Rng& rng) {
  order.resize(nv);
  std::iota(order.begin(), order.end(), 0u);
  constexpr std::uint32_t kWindow = 4096;
  for (std::uint32_t w0 = 0; w0 < nv; w0 += kWindow) {
    const std::uint32_t len = std::min(kWindow, nv - w0);
    for (std::uint32_t i = len; i > 1; --i) std::swap(order[w0 + i - 1], order[w0 + rng.below(i)]);
  }
}

// User + system CPU seconds of the whole process (all threads) so far.
double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

class Engine {
 public:
  Engine(EdgeStream& stream, std::uint64_t n, const SemiExternalParams& p, const PartitionProgressFn& progress)
      : stream_(stream), n_(n), p_(p), progress_(progress), pool_(std::max(1u, p.threads)), ratings_(pool_.size()) {
    scratch_.dir = p.temp_dir;
    scratch_.direct = p.direct_io;
    if (scratch_.dir.empty()) {
      const char* t = std::getenv("TMPDIR");
      scratch_.dir = t && *t ? t : "/tmp";
    }
    budget_entries_ = std::max<std::uint64_t>(2, 2 * static_cast<std::uint64_t>(p.budget_edges));
    ncon_ = p.vertex_weights ? p.ncon : 1;
    if (p.vertex_weights) {
      caps_.assign(p.caps.begin(), p.caps.end());
      eps_ = p.eps;
      total_ = p.totals;
    } else {
      caps_ = {static_cast<std::int64_t>(p.cap)};
      eps_ = {p.imbalance};
      total_ = {n};
    }
  }

  SemiExternalResult run(std::vector<PartId>& part) {
    using Clock = std::chrono::steady_clock;
    auto t = Clock::now();
    double cpu_t = process_cpu_seconds();
    double cpu_lap = 0;  // CPU seconds of the phase the last lap() ended
    auto lap = [&t, &cpu_t, &cpu_lap] {
      const auto now = Clock::now();
      const double s = std::chrono::duration<double>(now - t).count();
      t = now;
      const double c = process_cpu_seconds();
      cpu_lap = c - cpu_t;
      cpu_t = c;
      return s;
    };
    levels_.push_back(build_input_level());
    wide_made_.push_back(false);
    release_free_memory();
    res_.seconds_input = lap();
    res_.cpu_input = cpu_lap;
    // Coarsen until the level fits the budget. A cluster may weigh up to `factor` x the
    // level's mean vertex weight (no such limit on a wide level: see
    // wide_cluster_min_vertices_per_part) and at most eps_c total_c / k per constraint; where label
    // propagation stalls above the budget, both relax (the limit up to total / (2k)), so
    // the budget holds at some cost in quality (partition.json reports the coarsest graph).
    double relax = 1.0;
    double growth = std::max(2.0, p_.cluster_growth);
    // With several constraints, coarse vertices heavier than eps total / k leave the
    // in-memory partition no room to balance all of them: the limit does not relax there
    // (the budget may then be exceeded, which partition.json reports).
    const double max_relax = ncon_ > 1 ? 1.0 : std::max(1.0, 0.5 / std::max(1e-3, min_eps()));
    // With several constraints, coarsening goes on below the budget to a small graph: the
    // label-propagation levels, each refined and rebalanced under every bound, balance
    // better than the in-memory engine's bisections on a large graph (quality set, two
    // constraints: geomean 1.36 -> see docs/partitioning.md).
    const std::uint64_t small_n = static_cast<std::uint64_t>(p_.small_graph_per_part) * p_.k;
    while ((levels_.back().entries > budget_entries_ || (ncon_ > 1 && levels_.back().n > small_n)) && levels_.size() < 32) {
      const LevelGraph& g = levels_.back();
      const double need = static_cast<double>(g.entries) / static_cast<double>(budget_entries_);
      const bool wide = p_.wide_cluster_min_vertices_per_part > 0 &&
                        g.n / p_.k >= p_.wide_cluster_min_vertices_per_part;
      res_.wide_cluster_levels += wide;
      const double factor =
          wide ? std::numeric_limits<double>::infinity() : std::clamp(need * 1.5, 2.0, std::max(2.0, growth)) * relax;
      std::vector<std::uint64_t> max_w(ncon_);
      bool at_limit = true;
      for (std::uint32_t c = 0; c < ncon_; ++c) {
        const double avg = static_cast<double>(total_[c]) / static_cast<double>(std::max<std::uint64_t>(1, g.n));
        const double limit = std::max(2.0, std::min(relax, max_relax) * eps_[c] * static_cast<double>(total_[c]) / p_.k);
        const double want = std::max(1.0, std::ceil(avg * factor));
        max_w[c] = static_cast<std::uint64_t>(std::min(want, limit));
        at_limit &= want >= limit;
      }
      std::vector<std::uint32_t> cluster = cluster_level(g, max_w);
      std::uint64_t clusters = 0;
      // A level the way up projects straight through is read for the last time by the
      // contraction: its blocks are released as they are read, so the level and the next
      // one's spill do not both hold its entries on disk (papers-size SBM: its first coarse
      // level, 15 GB, beside a 30 GB spill).
      LevelGraph coarse = contract(g, cluster, &clusters, unrefined(levels_.size() - 1));
      std::vector<std::uint32_t>().swap(levels_.back().deg);
      const bool stalled = static_cast<double>(coarse.n) > 0.95 * static_cast<double>(g.n);
      // Vertices merge but edges do not (power-law graphs: leaves join hubs' clusters while
      // the hub-hub edges stay): the next level clusters more aggressively, or coarsening
      // would take dozens of levels, each a few passes over nearly all the edges.
      if (static_cast<double>(coarse.entries) > 0.9 * static_cast<double>(g.entries)) growth = std::min(16.0, growth * 2);
      maps_.push_back(std::move(cluster));
      levels_.push_back(std::move(coarse));
      wide_made_.push_back(wide);
      release_free_memory();
      if (stalled) {
        // Gently: a step too far leaves the in-memory phase a graph far below the budget.
        if (at_limit && relax >= max_relax) break;
        relax *= 1.25;
      }
    }
    std::vector<std::uint32_t>().swap(mark_);  // only contraction uses it
    release_free_memory();
    res_.levels = static_cast<int>(levels_.size());
    for (const LevelGraph& g : levels_) res_.level_sizes.push_back({g.n, g.entries / 2});
    res_.seconds_coarsen = lap();
    res_.cpu_coarsen = cpu_lap;
    std::vector<PartId> cur = partition_in_memory(levels_.back());
    res_.seconds_initial = lap();
    res_.cpu_initial = cpu_lap;
    // The input level itself fitted: with several constraints its balance is settled here,
    // through its edges (losses counted), before the cut-blind repair of partition_graph.
    if (levels_.size() == 1 && ncon_ > 1) res_.moves = refine_level(levels_[0], cur, true);
    levels_.back().file.reset();
    // Project and refine level by level.
    for (std::size_t l = levels_.size() - 1; l-- > 0;) {
      std::vector<PartId> fine = huge_vector<PartId>(levels_[l].n);
      const auto& map = maps_[l];
      for (std::uint64_t v = 0; v < levels_[l].n; ++v) fine[v] = cur[map[v]];
      std::vector<std::uint32_t>().swap(maps_[l]);
      cur = std::move(fine);
      std::uint64_t moves = 0;
      if (unrefined(l)) {
        ++res_.unrefined_levels;  // refining the finer level covers the same moves (semi_external.h)
        levels_[l].file.reset();  // (released by the contraction already)
        continue;
      }
      if (block_vcycles() && (l >= p_.vcycle_min_level || levels_[l].blocks.size() == 1))
        moves += block_vcycle_pass(levels_[l], cur, l);
      moves += refine_level(levels_[l], cur, l == 0);
      if (l == 0) res_.moves = moves;
      levels_[l].file.reset();
    }
    part = std::move(cur);
    res_.seconds_refine = lap();
    res_.cpu_refine = cpu_lap;
    res_.temp_bytes_peak = scratch_.peak;
    res_.scratch_direct = !scratch_.buffered;
    return res_;
  }

 private:
  // Hands freed heap back to the system (glibc keeps large freed blocks otherwise), so that
  // peak RSS follows what is live: the degree pass's and a level's scratch arrays are not
  // live at the same time as the next phase's.
  static void release_free_memory() {
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
  }

  // Level l (> 0) is projected straight through on the way up, not refined: made by wide
  // clusters and holding more than refine_skip_entry_ratio of the finer level's entries
  // (refining the finer level covers the same moves; semi_external.h).
  bool unrefined(std::size_t l) const {
    return l > 0 && wide_made_[l] && p_.refine_skip_entry_ratio > 0 &&
           static_cast<double>(levels_[l].entries) > p_.refine_skip_entry_ratio * static_cast<double>(levels_[l - 1].entries);
  }

  // The random stream of one block's pass: seed, level, round and block decide it.
  Rng block_rng(std::uint64_t level, int round, std::size_t b) const {
    return Rng(splitmix64(p_.seed ^ (level << 48) ^ (static_cast<std::uint64_t>(round) << 40) ^ b));
  }

  double min_eps() const { return *std::min_element(eps_.begin(), eps_.end()); }

  void report(std::uint64_t done, std::uint64_t total) {
    if (progress_) progress_(done, total, pass_index_);
  }

  // Two passes over the input: degrees (block boundaries; taken from the edge-balance
  // weights instead where degree_column is set, so one pass), then every entry in both
  // directions into its block's spill. Given degrees are checked: their total after the
  // fill, each vertex's as its block is built.
  LevelGraph build_input_level() {
    const std::size_t read_chunk = static_cast<std::size_t>(std::min<std::uint64_t>(
        std::max<std::uint64_t>(1024, p_.budget_edges), std::uint64_t{1} << 20));
    std::vector<std::uint64_t> deg = huge_vector<std::uint64_t>(n_, 0);
    EdgeChunk chunk;
    const std::uint64_t hint = stream_.info().num_edges_hint;
    std::uint64_t done = 0;
    stream_.rewind();
    if (p_.degree_column >= 0) {
      // The edge-balance weights are these degrees (counted the same way): no degree pass.
      const std::uint32_t c = static_cast<std::uint32_t>(p_.degree_column);
      for (std::uint64_t v = 0; v < n_; ++v) deg[v] = (*p_.vertex_weights)[v * ncon_ + c];
    } else {
      while (stream_.next_chunk(chunk, read_chunk)) {
        constexpr std::size_t kAhead = 16;  // the counters of edges ahead, prefetched (ids in any order)
        for (std::size_t i = 0; i < chunk.size(); ++i) {
          if (i + kAhead < chunk.size()) {
            __builtin_prefetch(deg.data() + chunk.src[i + kAhead], 1);
            __builtin_prefetch(deg.data() + chunk.dst[i + kAhead], 1);
          }
          if (chunk.src[i] == chunk.dst[i]) continue;
          ++deg[chunk.src[i]];
          ++deg[chunk.dst[i]];
        }
        done += chunk.size();
        report(done, hint);
      }
      ++pass_index_;
      ++res_.input_passes;
    }
    const std::uint64_t expected_entries = std::accumulate(deg.begin(), deg.end(), std::uint64_t{0});
    BlockBuilder builder(scratch_, block_bounds(deg, budget_entries_), budget_entries_ / 2);
    std::vector<std::uint64_t>().swap(deg);
    if (p_.degree_column >= 0) builder.expect_entries(p_.vertex_weights->data() + p_.degree_column, ncon_);
    stream_.rewind();
    done = 0;
    std::uint64_t entries = 0;
    while (stream_.next_chunk(chunk, read_chunk)) {
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        const VertexId u = chunk.src[i], v = chunk.dst[i];
        if (u == v) continue;
        builder.add(u, v, 1);
        builder.add(v, u, 1);
        entries += 2;
      }
      done += chunk.size();
      report(done, hint);
    }
    // Given degrees that are not this stream's would only misplace block bounds (the blocks
    // hold what was read), but they mean the edge weights balanced are not its degrees.
    if (entries != expected_entries)
      throw std::invalid_argument(stream_.info().path + ": the edge-balance weights sum to " +
                                  std::to_string(expected_entries) + " degree entries, the stream has " +
                                  std::to_string(entries));
    ++pass_index_;
    ++res_.input_passes;
    stream_.rewind();
    LevelGraph g = builder.finish(n_, ncon_, {}, mark_);
    // The same totals, yet one vertex's weight is not its degree (a permuted column).
    if (const auto& bad = builder.entry_mismatch())
      throw std::invalid_argument(stream_.info().path + ": the edge-balance weight of vertex " + std::to_string(bad->owner) +
                                  " is " + std::to_string(bad->expected) + ", its degree in the stream " +
                                  std::to_string(bad->added));
    g.ext = p_.vertex_weights;
    return g;
  }

  // `stop`, where given, ends the pass early (before the next block) once it returns true.
  template <typename F>
  void for_each_block(const LevelGraph& g, F&& f, const std::function<bool()>& stop = {}) {
    std::uint64_t done = 0;
    for (std::size_t b = 0; b < g.blocks.size(); ++b) {
      if (stop && stop()) break;
      read_block(g, b, buf_);
      f(b, buf_);
      ++res_.blocks_read;
      done += g.blocks[b].entries;
      report(done, g.entries);
    }
    ++res_.block_passes;
    ++pass_index_;
  }

  // One pass over g, vertex by vertex: blocks in order, each block's vertices in a random
  // order (shuffle_order; block_rng of level, round, block), in batches (batch_size). For
  // every vertex of a batch, decide(u, i, blk, thread, hash) runs on the pool's threads,
  // reading the state as of the batch's start, and returns a D; commit(u, i, blk, d) then
  // applies the decisions one by one in batch order, re-checking what earlier ones in the
  // batch changed. u = blk.begin + i; hash is the vertex's own random 64 bits for this pass.
  // Batches depend on the block only: every thread count gives the same result.
  //
  // `state` (n entries, e.g. the cluster or part of every vertex) is what decide looks up per
  // neighbour: it is prefetched a few vertices ahead, since on graphs without locality
  // (random ids, SBM) those lookups are cache misses that dominate the pass.
  //
  // `settled`, where given, is checked before every batch: once it returns true the pass
  // ends (the caller guarantees no decision from then on would change anything).
  //
  // `active(u)`, where given, is false for vertices whose decision is known to be trivial
  // (a rebalancing pass: vertices of parts that are not over): their neighbours are not
  // prefetched, which on R-MAT would be a third of the pass's memory traffic for nothing.
  struct AllActive {
    bool operator()(VertexId) const { return true; }
  };
  template <typename D, typename S, typename Decide, typename Commit, typename Active = AllActive>
  void for_each_vertex_batched(const LevelGraph& g, std::uint64_t level, int round, const S* state,
                               Decide&& decide, Commit&& commit, const std::function<bool()>& settled = {},
                               Active&& active = {}) {
    std::vector<D> dec;
    for_each_block(g, [&](std::size_t b, const BlockBuf& blk) {
      Rng rng = block_rng(level, round, b);
      const std::uint32_t nv = blk.size();
      shuffle_order(order_, nv, rng);
      const std::uint64_t pass_seed = rng.next_u64();
      const std::uint32_t bs = batch_size(nv);
      dec.resize(bs);
      auto run = [&](std::uint32_t s, unsigned t, std::uint64_t lo, std::uint64_t hi) {
        constexpr std::uint64_t kAhead = 3;
        auto ahead = [&](std::uint64_t j) {
          const std::uint32_t i = order_[s + j];
          if (active(blk.begin + i)) prefetch_neighbours(blk, i, state);
        };
        for (std::uint64_t j = lo; j < std::min(hi, lo + kAhead); ++j) ahead(j);
        for (std::uint64_t j = lo; j < hi; ++j) {
          if (j + kAhead < hi) ahead(j + kAhead);
          const std::uint32_t i = order_[s + j];
          dec[j] = decide(blk.begin + i, i, blk, t, splitmix64(pass_seed ^ (blk.begin + i)));
        }
      };
      for (std::uint32_t s = 0; s < nv; s += bs) {
        if (settled && settled()) break;
        const std::uint32_t len = std::min(bs, nv - s);
        if (len < 128 || pool_.size() == 1)
          run(s, 0, 0, len);  // a thread switch would cost more than the batch
        else
          pool_.for_ranges(len, [&](unsigned t, std::uint64_t lo, std::uint64_t hi) { run(s, t, lo, hi); });
        for (std::uint32_t j = 0; j < len; ++j) {
          const std::uint32_t i = order_[s + j];
          commit(blk.begin + i, i, blk, dec[j]);
        }
      }
    }, settled);
  }

  // One read-only pass over g: f(thread, blk, lo, hi) for block-local vertex ranges that
  // split each block among the pool's threads, vertices in order. For passes whose every
  // decision reads only the state as of the pass's start and writes only its own vertex's
  // entries (Jet's passes): no batches, no shuffle, and the result cannot depend on the
  // thread count.
  template <typename F>
  void for_each_vertex_range(const LevelGraph& g, F&& f) {
    for_each_block(g, [&](std::size_t, const BlockBuf& blk) {
      const std::uint32_t nv = blk.size();
      if (nv < 4096 || pool_.size() == 1)
        f(0u, blk, std::uint64_t{0}, std::uint64_t{nv});
      else
        pool_.for_ranges(nv, [&](unsigned t, std::uint64_t lo, std::uint64_t hi) { f(t, blk, lo, hi); });
    });
  }

  // Adds block-local vertex i's edge weight to each neighbour's part into conn (parts first
  // seen appended to touched; conn must be zero on entry, except at touched's parts) and
  // returns the vertex's weighted degree.
  template <typename P, typename C>
  static std::int64_t tally_parts(const BlockBuf& blk, std::uint64_t i, const P* part, std::vector<C>& conn,
                                  std::vector<PartId>& touched) {
    std::int64_t total = 0;
    for (EdgeIndex a = blk.xadj[i]; a < blk.xadj[i + 1]; ++a) {
      const PartId q = part[blk.adj[a]];
      if (conn[q] == 0) touched.push_back(q);
      conn[q] += blk.ew[a];
      total += blk.ew[a];
    }
    return total;
  }

  // The weighted degree of block-local vertex i if every neighbour is in part `own`, else
  // -1: most vertices of a good partition are interior, and this loop (no tally, ends at
  // the first neighbour elsewhere) settles them.
  template <typename P>
  static std::int64_t interior_degree(const BlockBuf& blk, std::uint64_t i, const P* part, PartId own) {
    std::int64_t total = 0;
    for (EdgeIndex a = blk.xadj[i]; a < blk.xadj[i + 1]; ++a) {
      if (part[blk.adj[a]] != own) return -1;
      total += blk.ew[a];
    }
    return total;
  }

  template <typename S>
  static void prefetch_neighbours(const BlockBuf& blk, std::uint32_t i, const S* state) {
    for (EdgeIndex a = blk.xadj[i], e = std::min(blk.xadj[i + 1], blk.xadj[i] + 64); a < e; ++a)
      __builtin_prefetch(state + blk.adj[a]);
  }

  // Size-constrained label propagation (clusters of total weight <= max_w), asynchronous,
  // each vertex seeing its complete neighbourhood; vertices of a block in random order.
  // Then two-hop clustering (as KaMinPar does): vertices left alone because the cluster
  // they prefer is full join other such vertices preferring the same cluster, and
  // isolated vertices are grouped, so that power-law graphs (many leaves around hubs) and
  // graphs with many isolated vertices still shrink.
  std::vector<std::uint32_t> cluster_level(const LevelGraph& g, const std::vector<std::uint64_t>& max_w) {
    std::vector<std::uint32_t> cluster = huge_vector<std::uint32_t>(g.n);
    std::iota(cluster.begin(), cluster.end(), 0u);
    const std::uint32_t nc = g.ncon;
    // Cluster weights per constraint (n x ncon): bounded by max_w or one vertex's weight.
    std::vector<std::uint32_t> cw = huge_vector<std::uint32_t>(g.n * nc);
    for (std::uint64_t v = 0; v < g.n; ++v)
      for (std::uint32_t c = 0; c < nc; ++c) cw[v * nc + c] = g.weight(static_cast<VertexId>(v), c);
    auto fits = [&](std::uint32_t cl, VertexId u) {
      for (std::uint32_t c = 0; c < nc; ++c)
        if (static_cast<std::uint64_t>(cw[static_cast<std::size_t>(cl) * nc + c]) + g.weight(u, c) > max_w[c]) return false;
      return true;
    };
    auto shift = [&](VertexId u, std::uint32_t from, std::uint32_t to) {
      for (std::uint32_t c = 0; c < nc; ++c) {
        cw[static_cast<std::size_t>(from) * nc + c] -= g.weight(u, c);
        cw[static_cast<std::size_t>(to) * nc + c] += g.weight(u, c);
      }
    };
    constexpr std::uint32_t kNone = ~std::uint32_t{0};
    std::vector<std::uint32_t> fav = huge_vector<std::uint32_t>(g.n, kNone);  // the cluster a vertex would join without the limit
    const std::uint64_t level = levels_.size();
    // A level within the budget is one block: its extra rounds cost little.
    const int rounds = g.blocks.size() > 1 ? p_.cluster_rounds : std::max(p_.cluster_rounds, p_.cluster_rounds_in_budget);
    for (int round = 0; round < rounds; ++round) {
      std::uint64_t moved = 0;
      // Decide: the best-rated cluster that had room at the batch's start (ties at random).
      auto decide = [&](VertexId u, std::uint32_t i, const BlockBuf& blk, unsigned t, std::uint64_t h) {
        const EdgeIndex s = blk.xadj[i], e = blk.xadj[i + 1];
        const std::uint32_t own = cluster[u];
        if (s == e) return own;
        RatingMap& rating = ratings_[t];
        rating.reset(e - s);
        for (EdgeIndex a = s; a < e; ++a) {
          const std::uint32_t c = cluster[blk.adj[a]];
          __builtin_prefetch(cw.data() + static_cast<std::size_t>(c) * nc);  // fits() reads it below
          rating.add(c, blk.ew[a]);
        }
        const std::uint64_t r_own = rating.get(own);
        std::uint32_t best = own, free_best = own;
        std::uint64_t best_r = r_own, free_r = r_own;
        std::uint64_t ties = 0;
        rating.for_each([&](std::uint32_t c, std::uint64_t r) {
          if (c == own) return;
          if (r > free_r) {
            free_r = r;
            free_best = c;
          }
          if (r < best_r || !fits(c, u)) return;  // the rating test first: it rules out most
          if (r > best_r) {
            best = c;
            best_r = r;
            ties = 1;
          } else if (r == best_r && best != own) {
            ++ties;
            h = splitmix64(h);
            if (h % ties == 0) best = c;
          }
        });
        fav[u] = free_best != own ? free_best : kNone;
        return best_r > r_own ? best : own;
      };
      // Commit: the move, if the cluster still has room.
      auto commit = [&](VertexId u, std::uint32_t, const BlockBuf&, std::uint32_t best) {
        const std::uint32_t own = cluster[u];
        if (best == own || !fits(best, u)) return;
        shift(u, own, best);
        cluster[u] = best;
        ++moved;
      };
      for_each_vertex_batched<std::uint32_t>(g, level, round, cluster.data(), decide, commit);
      if (moved * 200 < g.n) break;
    }
    // Two-hop: singletons by their favourite cluster (leader[c] = the open group for c), and
    // isolated vertices in one running group.
    std::vector<std::uint32_t> open = huge_vector<std::uint32_t>(g.n, kNone);
    std::uint32_t isolated_group = kNone;
    for (std::uint64_t v = 0; v < g.n; ++v) {
      if (cluster[v] != v) continue;
      bool single = true;  // nobody joined v's own cluster
      for (std::uint32_t c = 0; c < nc; ++c) single &= cw[v * nc + c] == g.weight(static_cast<VertexId>(v), c);
      if (!single) continue;
      std::uint32_t* slot = nullptr;
      if (fav[v] != kNone) {
        slot = &open[fav[v]];
      } else {
        slot = &isolated_group;  // a singleton with neighbours always has a favourite
      }
      if (*slot != kNone && fits(*slot, static_cast<VertexId>(v))) {
        shift(static_cast<VertexId>(v), static_cast<std::uint32_t>(v), *slot);
        cluster[v] = *slot;
      } else {
        *slot = static_cast<std::uint32_t>(v);
      }
    }
    return cluster;
  }

  // Renumbers the clusters (in order of their ids) and writes the cluster graph. `cluster`
  // becomes the fine -> coarse map.
  // With `release`, g's blocks are handed back to the filesystem as they are read (g is not
  // read again).
  LevelGraph contract(const LevelGraph& g, std::vector<std::uint32_t>& cluster, std::uint64_t* clusters, bool release) {
    std::vector<std::uint32_t> id = huge_vector<std::uint32_t>(g.n, ~std::uint32_t{0});
    std::uint32_t nc = 0;
    for (std::uint64_t v = 0; v < g.n; ++v) {
      const std::uint32_t c = cluster[v];
      if (id[c] == ~std::uint32_t{0}) id[c] = 0;  // used
    }
    for (std::uint64_t c = 0; c < g.n; ++c)
      if (id[c] != ~std::uint32_t{0}) id[c] = nc++;
    const std::uint32_t ncon = g.ncon;
    std::vector<std::uint32_t> cvw(static_cast<std::size_t>(nc) * ncon, 0);
    for (std::uint64_t v = 0; v < g.n; ++v) {
      cluster[v] = id[cluster[v]];
      for (std::uint32_t c = 0; c < ncon; ++c)
        cvw[static_cast<std::size_t>(cluster[v]) * ncon + c] += g.weight(static_cast<VertexId>(v), c);
    }
    std::vector<std::uint32_t>().swap(id);
    *clusters = nc;
    // Blocks of the coarse level from an upper bound of each coarse vertex's entries: the
    // sum of its members' degrees (no pass needed; merging only shrinks it).
    std::vector<std::uint64_t> count(nc, 0);
    for (std::uint64_t v = 0; v < g.n; ++v) count[cluster[v]] += g.deg[v];
    BlockBuilder builder(scratch_, block_bounds(count, budget_entries_), budget_entries_ / 2);
    std::vector<std::uint64_t>().swap(count);
    // Pass B: the cut entries, by coarse owner.
    for_each_block(g, [&](std::size_t b, const BlockBuf& blk) {
      // The lookups cluster[neighbour] go all over memory where ids lack locality: each is
      // prefetched 32 entries ahead (the block's lists are contiguous).
      constexpr EdgeIndex kAhead = 32;
      const EdgeIndex entries = blk.xadj[blk.size()];
      for (EdgeIndex a = 0; a < std::min(kAhead, entries); ++a) __builtin_prefetch(cluster.data() + blk.adj[a]);
      for (std::uint32_t i = 0; i < blk.size(); ++i) {
        const std::uint32_t cu = cluster[blk.begin + i];
        const std::size_t bu = builder.block_of(cu);
        for (EdgeIndex a = blk.xadj[i]; a < blk.xadj[i + 1]; ++a) {
          if (a + kAhead < entries) __builtin_prefetch(cluster.data() + blk.adj[a + kAhead]);
          const std::uint32_t cx = cluster[blk.adj[a]];
          if (cx != cu) builder.add_to(bu, cu, cx, blk.ew[a]);
        }
      }
      if (release) g.file->release(g.blocks[b].offset, g.blocks[b].bytes());
    });
    return builder.finish(nc, ncon, std::move(cvw), mark_);
  }

  std::vector<PartId> partition_in_memory(const LevelGraph& g) {
    WeightedGraph wg;
    wg.xadj.assign(g.n + 1, 0);
    wg.adj.reserve(g.entries);
    wg.ew.reserve(g.entries);
    for_each_block(g, [&](std::size_t, const BlockBuf& blk) {
      for (std::uint32_t i = 0; i < blk.size(); ++i) {
        for (EdgeIndex a = blk.xadj[i]; a < blk.xadj[i + 1]; ++a) {
          wg.adj.push_back(blk.adj[a]);
          wg.ew.push_back(static_cast<float>(blk.ew[a]));
        }
        wg.xadj[blk.begin + i + 1] = wg.adj.size();
      }
    });
    // Vertices of no block (none: blocks cover 0..n) keep xadj monotone anyway.
    for (std::uint64_t v = 0; v < g.n; ++v) wg.xadj[v + 1] = std::max(wg.xadj[v + 1], wg.xadj[v]);
    wg.ncon = g.ncon;
    wg.vw.resize(g.n * g.ncon);
    for (std::uint64_t v = 0; v < g.n; ++v)
      for (std::uint32_t c = 0; c < g.ncon; ++c) wg.vw[v * g.ncon + c] = g.weight(static_cast<VertexId>(v), c);
    wg.fixed.assign(g.n, kNoPart);
    res_.coarsest_nodes = g.n;
    res_.coarsest_edges = g.entries / 2;
    MultilevelParams mp;
    mp.k = p_.k;
    mp.sweeps = p_.refine_sweeps;
    mp.seed = splitmix64(p_.seed ^ 0x5eed5eedULL);
    mp.capacity.resize(static_cast<std::size_t>(p_.k) * ncon_);
    for (std::uint32_t q = 0; q < p_.k; ++q)
      for (std::uint32_t c = 0; c < ncon_; ++c) mp.capacity[static_cast<std::size_t>(q) * ncon_ + c] = caps_[c];
    // Several seeds on the (small) coarsest graph; the lowest overload, then cut, is kept.
    int seeds = std::max(1, p_.initial_seeds);
    if (p_.initial_seeds_large > 0 && g.entries > p_.large_coarsest_entries) seeds = std::min(seeds, p_.initial_seeds_large);
    std::vector<PartId> best;
    double best_cut = 0, best_over = 0;
    for (int t = 0; t < seeds; ++t) {
      mp.seed = splitmix64(p_.seed ^ 0x5eed5eedULL ^ (static_cast<std::uint64_t>(t) << 32));
      std::vector<PartId> part(g.n, kNoPart);
      multilevel_partition(wg, mp, part);
      std::vector<double> load(static_cast<std::size_t>(p_.k) * g.ncon, 0);
      for (std::uint64_t v = 0; v < g.n; ++v)
        for (std::uint32_t c = 0; c < g.ncon; ++c) load[part[v] * g.ncon + c] += wg.vw[v * g.ncon + c];
      double over = 0;
      for (std::uint32_t q = 0; q < p_.k; ++q)
        for (std::uint32_t c = 0; c < g.ncon; ++c) over += std::max(0.0, load[q * g.ncon + c] - static_cast<double>(caps_[c])) / static_cast<double>(std::max<std::int64_t>(1, caps_[c]));
      const double cut = cut_weight(wg, part);
      if (t == 0 || over < best_over || (over == best_over && cut < best_cut)) {
        best = std::move(part);
        best_cut = cut;
        best_over = over;
      }
    }
    return best;
  }

  bool block_vcycles() const { return p_.block_vcycles; }
  static constexpr EdgeIndex kMinPieceEntries = EdgeIndex{1} << 20;

  // Block V-cycles: each block (a vertex range with its complete adjacency) becomes a small
  // graph, its vertices plus k anchors fixed to their parts that carry the exact weight of
  // the block's edges to the outside, per part; the in-memory multilevel engine refines the
  // current assignment of the block against them (FM-like moves, not only positive gains)
  // within each part's remaining capacity.
  //
  // With several threads, a large block is split into up to one piece per thread (equal
  // entries, at least kMinPieceEntries each: a smaller piece loses too much of the block's
  // structure to its anchors);
  // the pieces are refined at once, each against anchors for everything outside it (as of
  // the block's start) and within an equal share of every part's remaining room, then the
  // moves are applied. The pieces depend on the thread count, so the output does too (the
  // same seed and thread count give the same output).
  std::uint64_t block_vcycle_pass(const LevelGraph& g, std::vector<PartId>& part, std::size_t level) {
    const std::uint32_t k = p_.k, nc = g.ncon;
    const unsigned threads = pool_.size();
    PartLoads loads(g, part, k, caps_);
    std::uint64_t moves = 0;
    struct Piece {
      WeightedGraph wg;
      std::vector<std::vector<std::pair<std::uint32_t, float>>> anchor_adj;
      std::vector<float> to_part;
      std::vector<PartId> touched, local;
      std::vector<std::int64_t> inside;
      std::uint32_t lo = 0, hi = 0;  // block-local vertex range
    };
    std::vector<Piece> ps(threads);
    unsigned pieces = 1;  // of the current block
    for (Piece& q : ps) {
      q.anchor_adj.resize(k);
      q.to_part.assign(k, 0);
    }
    // Refines block-local vertices [pc.lo, pc.hi) into pc.local.
    auto refine_piece = [&](Piece& pc, const BlockBuf& blk, std::size_t b, unsigned index) {
      const std::uint32_t nv = pc.hi - pc.lo;
      pc.local.clear();
      if (nv < 2) return;
      const VertexId first = blk.begin + pc.lo, last = blk.begin + pc.hi;
      WeightedGraph& wg = pc.wg;
      wg.xadj.assign(1, 0);
      wg.adj.clear();
      wg.ew.clear();
      for (auto& a : pc.anchor_adj) a.clear();
      for (std::uint32_t i = pc.lo; i < pc.hi; ++i) {
        pc.touched.clear();
        for (EdgeIndex a = blk.xadj[i]; a < blk.xadj[i + 1]; ++a) {
          const VertexId x = blk.adj[a];
          if (x >= first && x < last) {
            wg.adj.push_back(x - first);
            wg.ew.push_back(static_cast<float>(blk.ew[a]));
          } else {
            const PartId q = part[x];
            if (pc.to_part[q] == 0) pc.touched.push_back(q);
            pc.to_part[q] += static_cast<float>(blk.ew[a]);
          }
        }
        for (PartId q : pc.touched) {
          wg.adj.push_back(nv + q);
          wg.ew.push_back(pc.to_part[q]);
          pc.anchor_adj[q].push_back({i - pc.lo, pc.to_part[q]});
          pc.to_part[q] = 0;
        }
        wg.xadj.push_back(wg.adj.size());
      }
      for (std::uint32_t q = 0; q < k; ++q) {
        for (auto& [i, w] : pc.anchor_adj[q]) {
          wg.adj.push_back(i);
          wg.ew.push_back(w);
        }
        wg.xadj.push_back(wg.adj.size());
      }
      wg.ncon = nc;
      wg.vw.assign(static_cast<std::size_t>(nv + k) * nc, 0);  // anchors weigh 0
      wg.fixed.assign(nv + k, kNoPart);
      pc.local.resize(nv + k);
      pc.inside.assign(static_cast<std::size_t>(k) * nc, 0);
      for (std::uint32_t i = 0; i < nv; ++i) {
        const VertexId u = first + i;
        pc.local[i] = part[u];
        for (std::uint32_t c = 0; c < nc; ++c) {
          const std::uint32_t w = g.weight(u, c);
          wg.vw[static_cast<std::size_t>(i) * nc + c] = w;
          pc.inside[static_cast<std::size_t>(pc.local[i]) * nc + c] += w;
        }
      }
      for (std::uint32_t q = 0; q < k; ++q) {
        wg.fixed[nv + q] = q;
        pc.local[nv + q] = q;
      }
      MultilevelParams mp;
      mp.k = k;
      mp.sweeps = p_.refine_sweeps;
      mp.initial_tries = 1;  // every vertex is placed: the tries would only repeat the same refinement
      mp.seed = splitmix64(p_.seed ^ (static_cast<std::uint64_t>(level) << 40) ^ b ^ 0xb10cULL ^ (std::uint64_t{index} << 56));
      mp.capacity.resize(static_cast<std::size_t>(k) * nc);
      // A piece may grow a part by its share of the part's room (none where it is over).
      for (std::uint32_t q = 0; q < k; ++q)
        for (std::uint32_t c = 0; c < nc; ++c) {
          const std::size_t i = static_cast<std::size_t>(q) * nc + c;
          const std::int64_t room = caps_[c] - loads.load[i];
          mp.capacity[i] = pc.inside[i] + std::max<std::int64_t>(0, room / static_cast<std::int64_t>(pieces));
        }
      multilevel_partition(wg, mp, pc.local);
    };
    for_each_block(g, [&](std::size_t b, const BlockBuf& blk) {
      const std::uint32_t nv = blk.size();
      if (nv < 2) return;
      // Pieces of about equal entries.
      const EdgeIndex total = blk.xadj[nv];
      pieces = static_cast<unsigned>(std::clamp<EdgeIndex>(total / kMinPieceEntries, 1, threads));
      if (pieces > 1) ++res_.vcycle_split_blocks;
      std::uint32_t at = 0;
      for (unsigned t = 0; t < pieces; ++t) {
        ps[t].lo = at;
        const EdgeIndex want = total * (t + 1) / pieces;
        if (t + 1 == pieces) {
          at = nv;
        } else {
          while (at < nv && blk.xadj[at] < want) ++at;
        }
        ps[t].hi = at;
      }
      if (pieces == 1)
        refine_piece(ps[0], blk, b, 0);
      else
        pool_.run([&](unsigned t) {
          if (t < pieces) refine_piece(ps[t], blk, b, t);
        });
      for (unsigned t = 0; t < pieces; ++t) {
        const Piece& pc = ps[t];
        if (pc.local.empty()) continue;
        for (std::uint32_t i = pc.lo; i < pc.hi; ++i) {
          const VertexId u = blk.begin + i;
          const PartId to = pc.local[i - pc.lo];
          if (to == part[u]) continue;
          loads.move(g, u, part[u], to);
          part[u] = to;
          ++moves;
        }
      }
    });
    return moves;
  }

  // Label-propagation refinement: each vertex moves to the part it is most connected to
  // when the cut drops (or stays and the loads even out) and the target has room. Then, if
  // parts are over the bound, passes that move vertices out of them with a growing loss
  // allowance; on the finest level the last pass moves whatever it must, so the bound holds.
  std::uint64_t refine_level(const LevelGraph& g, std::vector<PartId>& part, bool finest) {
    const std::uint32_t k = p_.k;
    PartLoads loads(g, part, k, caps_);
    const unsigned threads = pool_.size();
    std::vector<std::vector<std::uint64_t>> conns(threads, std::vector<std::uint64_t>(k, 0));
    std::vector<std::vector<PartId>> toucheds(threads);
    std::uint64_t moves = 0;
    const std::uint64_t level = levels_.size() + 32;
    // With at most 256 parts, a 1-byte copy of the assignment for the neighbour lookups that
    // dominate these passes: a quarter of the cache footprint (R-MAT 2^22: 4 MiB, not 16).
    // Kept equal to `part` by every move.
    std::vector<std::uint8_t> part8;
    if (k <= 256) {
      part8 = huge_vector<std::uint8_t>(g.n, 0);
      for (std::uint64_t v = 0; v < g.n; ++v) part8[v] = static_cast<std::uint8_t>(part[v]);
    }
    const bool narrow = !part8.empty();
    struct Move {
      PartId to;
      std::int64_t gain;
    };
    // allowance < 0: refinement; otherwise a rebalancing pass allowing a loss of up to
    // allowance x the vertex's weighted degree (>= 1: anything). Decided against the loads
    // at the batch's start; each commit re-checks the loads as they are then.
    auto pass = [&](int round, double allowance) {
      std::uint64_t moved = 0;
      auto decide = [&](VertexId u, std::uint32_t i, const BlockBuf& blk, unsigned t, std::uint64_t) -> Move {
        const PartId own = part[u];
        std::vector<std::uint64_t>& conn = conns[t];
        std::vector<PartId>& touched = toucheds[t];
        for (PartId q : touched) conn[q] = 0;  // the previous vertex's
        touched.clear();
        if (allowance >= 0 && !loads.over(own)) return {kNoPart, 0};
        // Refinement leaves an interior vertex where it is (no other part gains).
        if (allowance < 0 && (narrow ? interior_degree(blk, i, part8.data(), own) : interior_degree(blk, i, part.data(), own)) >= 0)
          return {kNoPart, 0};
        const std::int64_t total =
            narrow ? tally_parts(blk, i, part8.data(), conn, touched) : tally_parts(blk, i, part.data(), conn, touched);
        const std::int64_t c_own = static_cast<std::int64_t>(conn[own]);
        PartId best = kNoPart;
        std::int64_t best_gain = 0;
        for (PartId q : touched) {
          if (q == own || !loads.fits(g, u, q)) continue;
          const std::int64_t gain = static_cast<std::int64_t>(conn[q]) - c_own;
          if (best == kNoPart || gain > best_gain || (gain == best_gain && loads.fill(q) < loads.fill(best))) {
            best = q;
            best_gain = gain;
          }
        }
        if (allowance < 0) {
          if (best == kNoPart) return {kNoPart, 0};
          if (!(best_gain > 0 || (best_gain == 0 && loads.fill(best, &g, u) < loads.fill(own)))) return {kNoPart, 0};
        } else if (loads.ncon == 1) {
          // Rebalancing: the emptiest part that fits is a candidate too (gain -c_own).
          PartId light = kNoPart;
          for (PartId q = 0; q < k; ++q)
            if (q != own && loads.fits(g, u, q) && (light == kNoPart || loads.fill(q) < loads.fill(light))) light = q;
          if (light != kNoPart && (best == kNoPart || -c_own > best_gain)) {
            best = light;
            best_gain = -c_own;
          }
          if (best == kNoPart) return {kNoPart, 0};
          if (allowance < 1 && static_cast<double>(-best_gain) > allowance * static_cast<double>(total)) return {kNoPart, 0};
        } else {
          // Several constraints: any move that lowers the total overload (the target may
          // go over another bound by less than the source comes under), best gain first;
          // such chains settle what moves into parts with room alone cannot.
          best = kNoPart;
          double best_score = 0;
          auto consider = [&](PartId q, std::int64_t gain) {
            if (q == own) return;
            const double d = loads.move_delta(g, u, own, q);
            if (!(d < -1e-12)) return;
            if (allowance < 1 && static_cast<double>(-gain) > allowance * static_cast<double>(total)) return;
            const double score = static_cast<double>(gain) - 1e-9 * d;
            if (best == kNoPart || score > best_score) {
              best = q;
              best_score = score;
              best_gain = gain;
            }
          };
          for (PartId q : touched) consider(q, static_cast<std::int64_t>(conn[q]) - c_own);
          PartId light = kNoPart;
          for (PartId q = 0; q < k; ++q)
            if (q != own && (light == kNoPart || loads.fill(q) < loads.fill(light))) light = q;
          if (light != kNoPart) consider(light, static_cast<std::int64_t>(conn[light]) - c_own);
        }
        return {best, best_gain};
      };
      auto commit = [&](VertexId u, std::uint32_t, const BlockBuf&, const Move& m) {
        const PartId own = part[u];
        if (m.to == kNoPart) return;
        if (allowance < 0) {
          if (!loads.fits(g, u, m.to)) return;
          if (m.gain == 0 && !(loads.fill(m.to, &g, u) < loads.fill(own))) return;
        } else if (!loads.over(own)) {
          return;  // an earlier move of the batch settled it
        } else if (loads.ncon == 1 ? !loads.fits(g, u, m.to) : !(loads.move_delta(g, u, own, m.to) < -1e-12)) {
          return;
        }
        loads.move(g, u, own, m.to);
        part[u] = m.to;
        if (narrow) part8[u] = static_cast<std::uint8_t>(m.to);
        ++moved;
      };
      // A rebalancing pass is done once no part is over: from then on every decision is to
      // stay (R-MAT 2^22, two constraints: the 0.25 pass after a Jet iteration settles its
      // overload in the first fifth of the level).
      std::function<bool()> settled;
      if (allowance >= 0) settled = [&loads] { return !loads.any_over(); };
      auto active = [&](VertexId u) { return allowance < 0 || loads.over(part[u]); };
      if (narrow)
        for_each_vertex_batched<Move>(g, level, round, part8.data(), decide, commit, settled, active);
      else
        for_each_vertex_batched<Move>(g, level, round, part.data(), decide, commit, settled, active);
      return moved;
    };
    const bool jet = finest && p_.jet_iterations > 0;
    int round = 0;
    auto lp = [&](int rounds) {
      for (; round < rounds; ++round) {
        const std::uint64_t moved = pass(round, -1);
        moves += moved;
        if (moved * 1000 < g.n) {
          round = rounds;
          break;
        }
      }
    };
    lp(jet ? std::min(p_.refine_rounds, p_.jet_lp_rounds) : p_.refine_rounds);
    // Rebalancing passes with a growing loss allowance (1: the pass moves anything), here for
    // Jet and after refinement below. Jet's rounds wrap below 256 (the round's bits of
    // block_rng).
    const double allowances[] = {0.0, 0.25, 0.5, 1.0};
    int rb_round = 0;
    auto rebalance = [&] {
      std::uint64_t m = 0;
      for (double a : allowances) {
        if (!loads.any_over()) break;
        m += pass(128 + (rb_round++ % 128), a);
      }
      return m;
    };
    if (jet) {
      // Jet starts from a balanced partition (it keeps the best balanced one it sees): a level
      // that inherited an overload is rebalanced first. Where that fails (several
      // constraints), label propagation gets its usual rounds instead.
      if (loads.any_over()) moves += rebalance();
      if (!loads.any_over())
        moves += jet_refine(g, part, narrow ? &part8 : nullptr, loads, rebalance);
      else
        lp(p_.refine_rounds);
    }
    int r = 100;
    for (double a : allowances) {
      if (!loads.any_over()) break;
      if (a >= 1 && !finest) break;
      moves += pass(r++, a);
    }
    if (finest && loads.any_over()) {
      // One constraint with unit weights cannot stay over: the last pass moves any vertex to
      // a part with room, and there is room while a part is over (sum of loads <= k cap).
      // Several constraints (or weights) may leave an overload no single move can fix;
      // partition.json then reports the constraint as not holding.
      for (int extra = 0; extra < 4 && loads.any_over(); ++extra) moves += pass(r++, 1.0);
      if (loads.any_over()) {
        if (ncon_ == 1 && p_.vertex_weights == nullptr)
          throw std::logic_error("semi-external GREM: balance bound not reached");
        res_.balanced = false;
      }
    }
    return moves;
  }

  // Jet refinement (see SemiExternalParams::jet_iterations). Each iteration is two passes over
  // the level: proposals (and the cut of the current partition), then the afterburner; the
  // moves that stand are applied, then `rebalance_passes` runs if a part is over a bound.
  // Both passes read only the state as of their start and write only their own vertex's
  // entries, so the result does not depend on the thread count. Memory: 10 B per vertex
  // plus a copy of the assignment (4 B). Returns the moves of the partition kept (relative
  // to the one given).
  // `part8`, where given, is refine_level's 1-byte copy of `part`: kept equal.
  std::uint64_t jet_refine(const LevelGraph& g, std::vector<PartId>& part, std::vector<std::uint8_t>* part8,
                           PartLoads& loads, const std::function<std::uint64_t()>& rebalance_passes) {
    const std::uint32_t k = p_.k;
    const unsigned threads = pool_.size();
    // Per vertex, from the proposal pass: the other part it is most connected to (kNoPart:
    // none) and, where the vertex is a candidate to move there (below), the gain of the move
    // (else kNotCandidate, below every gain); one 8-byte record, as the afterburner looks up
    // a neighbour's two at once.
    struct Proposal {
      std::int32_t key;
      PartId alt;
    };
    constexpr std::int32_t kNotCandidate = std::numeric_limits<std::int32_t>::min();
    std::vector<Proposal> pr = huge_vector<Proposal>(g.n, Proposal{kNotCandidate, kNoPart});
    std::vector<std::uint8_t> locked = huge_vector<std::uint8_t>(g.n, 0);  // moved by the last iteration
    std::vector<PartId> best;  // the best partition seen, copied before moves leave it
    std::vector<std::vector<std::int64_t>> conns(threads, std::vector<std::int64_t>(k, 0));
    std::vector<std::vector<PartId>> toucheds(threads);
    auto clamp32 = [](std::int64_t x) {
      return static_cast<std::int32_t>(std::clamp<std::int64_t>(x, -0x7fffffffLL, 0x7fffffffLL));
    };
    // A candidate: a move elsewhere that gains (or breaks even), or loses less than jet_loss
    // of the connection to its own part, of a vertex the last iteration did not move.
    auto proposal = [&](VertexId u, PartId to, std::int64_t gain, std::int64_t c_own) {
      const std::int32_t g32 = clamp32(gain), c32 = clamp32(c_own);
      const bool candidate = to != kNoPart && !locked[u] &&
                             (g32 >= 0 || static_cast<double>(-static_cast<std::int64_t>(g32)) < std::floor(p_.jet_loss * static_cast<double>(c32)));
      return Proposal{candidate ? g32 : kNotCandidate, to};
    };
    std::uint64_t best_cut = ~std::uint64_t{0};
    std::uint64_t moves = 0, moves_at_best = 0;
    int since_best = 0;
    bool valid = true, current_is_best = true;
    std::vector<std::uint8_t> go = huge_vector<std::uint8_t>(g.n, 0);  // the afterburner's verdict
    for (int it = 0;; ++it) {
      // Pass 1: every vertex's best other part (whether or not it has room: rebalancing
      // follows), and the cut.
      std::vector<std::uint64_t> cut2(threads, 0);  // per thread: u's edges to other parts, summed
      for_each_vertex_range(g, [&](unsigned t, const BlockBuf& blk, std::uint64_t lo, std::uint64_t hi) {
        std::vector<std::int64_t>& conn = conns[t];
        std::vector<PartId>& touched = toucheds[t];
        constexpr std::uint64_t kAhead = 4;
        const std::uint8_t* p8 = part8 ? part8->data() : nullptr;
        for (std::uint64_t i = lo; i < std::min(hi, lo + kAhead); ++i)
          p8 ? prefetch_neighbours(blk, static_cast<std::uint32_t>(i), p8) : prefetch_neighbours(blk, static_cast<std::uint32_t>(i), part.data());
        std::uint64_t external = 0;  // summed here, added once: cut2's slots share a cache line
        for (std::uint64_t i = lo; i < hi; ++i) {
          if (i + kAhead < hi)
            p8 ? prefetch_neighbours(blk, static_cast<std::uint32_t>(i + kAhead), p8)
               : prefetch_neighbours(blk, static_cast<std::uint32_t>(i + kAhead), part.data());
          const VertexId u = blk.begin + static_cast<VertexId>(i);
          const PartId own = part[u];
          // An interior vertex: no other part, nothing cut (the record the tally would give).
          const std::int64_t interior = p8 ? interior_degree(blk, i, p8, own) : interior_degree(blk, i, part.data(), own);
          if (interior >= 0) {
            pr[u] = Proposal{kNotCandidate, kNoPart};
            continue;
          }
          const std::int64_t total = p8 ? tally_parts(blk, i, p8, conn, touched) : tally_parts(blk, i, part.data(), conn, touched);
          const std::int64_t co = conn[own];
          PartId to = kNoPart;
          std::int64_t best_c = 0;
          for (PartId q : touched)
            if (q != own && (conn[q] > best_c || (conn[q] == best_c && q < to))) {
              best_c = conn[q];
              to = q;
            }
          for (PartId q : touched) conn[q] = 0;
          touched.clear();
          pr[u] = proposal(u, to, best_c - co, co);
          external += static_cast<std::uint64_t>(total - co);
        }
        cut2[t] += external;
      });
      const std::uint64_t cut = std::accumulate(cut2.begin(), cut2.end(), std::uint64_t{0}) / 2;
      current_is_best = valid && cut < best_cut;
      if (current_is_best) {
        since_best = static_cast<double>(cut) < 0.999 * static_cast<double>(best_cut) ? 0 : since_best + 1;
        best_cut = cut;
        moves_at_best = moves;
      } else {
        ++since_best;
      }
      if (it >= p_.jet_iterations || since_best >= p_.jet_patience) break;
      // Pass 2: the afterburner. A proposal stands if it still gains (or breaks even) when
      // every neighbour with a higher-priority proposal (larger gain, then smaller id) is
      // assumed to have moved.
      for_each_vertex_range(g, [&](unsigned, const BlockBuf& blk, std::uint64_t lo, std::uint64_t hi) {
        const std::uint8_t* p8 = part8 ? part8->data() : nullptr;
        for (std::uint64_t i = lo; i < hi; ++i) {
          const VertexId u = blk.begin + static_cast<VertexId>(i);
          go[u] = 0;
          const Proposal pu = pr[u];
          if (pu.key == kNotCandidate) continue;
          const PartId to = pu.alt, own = part[u];
          const std::int32_t gu = pu.key;
          std::int64_t delta = 0;
          for (EdgeIndex a = blk.xadj[i]; a < blk.xadj[i + 1]; ++a) {
            const VertexId x = blk.adj[a];
            PartId q = p8 ? p8[x] : part[x];
            const Proposal px = pr[x];  // a non-candidate's key is below gu
            if (px.key > gu || (px.key == gu && x < u)) q = px.alt;
            if (q == to) delta += blk.ew[a];
            else if (q == own) delta -= blk.ew[a];
          }
          go[u] = delta >= 0;
        }
      });
      // Converged: next to nothing left to try, fewer moves than 1 in 1000 cut edges (SBM
      // products: 351 moves against a cut of 11.7M; a mesh with a cut of 70k: 1556). The
      // current partition, scored above, stays as it is (or the best is restored).
      const std::uint64_t proposed = static_cast<std::uint64_t>(std::count(go.begin(), go.end(), std::uint8_t{1}));
      if (proposed * 1000 < cut) break;
      if (current_is_best) best = part;  // the moves below may make it worse
      for (VertexId u = 0; u < g.n; ++u) {
        locked[u] = go[u];
        if (!go[u]) continue;
        loads.move(g, u, part[u], pr[u].alt);
        part[u] = pr[u].alt;
        if (part8) (*part8)[u] = static_cast<std::uint8_t>(pr[u].alt);
        ++moves;
      }
      // Rebalancing: the passes refine_level rebalances with (growing loss allowances). A
      // state they cannot balance (several constraints) is not a candidate for the best.
      if (loads.any_over()) moves += rebalance_passes();
      valid = !loads.any_over();
    }
    if (!current_is_best) {
      part = std::move(best);
      if (part8)
        for (std::uint64_t v = 0; v < g.n; ++v) (*part8)[v] = static_cast<std::uint8_t>(part[v]);
      loads = PartLoads(g, part, k, caps_);
      moves = moves_at_best;
    }
    return moves;
  }

  EdgeStream& stream_;
  std::uint64_t n_;
  SemiExternalParams p_;
  const PartitionProgressFn& progress_;
  ScratchSpace scratch_;
  std::uint64_t budget_entries_ = 0;
  std::uint32_t ncon_ = 1;
  std::vector<std::int64_t> caps_;   // per constraint
  std::vector<double> eps_;
  std::vector<std::uint64_t> total_;
  int pass_index_ = 0;
  SemiExternalResult res_;
  std::vector<LevelGraph> levels_;
  std::vector<std::vector<std::uint32_t>> maps_;
  std::vector<bool> wide_made_;  // per level: clustered from the finer level with wide clusters
  std::vector<std::uint32_t> mark_;
  BlockBuf buf_;
  WorkerPool pool_;
  std::vector<std::uint32_t> order_;  // a block's vertex order (for_each_vertex_batched)
  std::vector<RatingMap> ratings_;                // one per thread
};

}  // namespace

SemiExternalResult semi_external_partition(EdgeStream& stream, std::uint64_t n, const SemiExternalParams& p,
                                           std::vector<PartId>& part, const PartitionProgressFn& progress) {
  part.assign(n, 0);
  if (n == 0 || p.k < 2) return {};
  if (n > kMaxVertices) throw std::invalid_argument("semi-external GREM: too many vertices");
  Engine engine(stream, n, p, progress);
  return engine.run(part);
}

std::vector<VertexId> block_bounds(const std::vector<std::uint64_t>& counts, std::uint64_t budget) {
  std::vector<VertexId> bounds{0};
  std::uint64_t acc = 0;
  for (std::size_t v = 0; v < counts.size(); ++v) {
    if (acc > 0 && acc + counts[v] > budget) {
      bounds.push_back(static_cast<VertexId>(v));
      acc = 0;
    }
    acc += counts[v];
  }
  if (bounds.back() != counts.size() || counts.empty()) bounds.push_back(static_cast<VertexId>(counts.size()));
  return bounds;
}

}  // namespace flotilla::detail
