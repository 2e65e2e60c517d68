// Text graph streams: METIS .graph and SNAP-style edge lists (also OGB's edge.csv).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "flotilla/datasets/error.h"
#include "flotilla/datasets/graph_io.h"
#include "flotilla/datasets/line_reader.h"
#include "flotilla/datasets/random.h"
#include "id_compactor.h"
#include "streams.h"

namespace flotilla::detail {
namespace {

bool is_blank(std::string_view line) {
  for (char c : line)
    if (c != ' ' && c != '\t') return false;
  return true;
}

// ---- METIS ------------------------------------------------------------------------------
struct MetisHeader {
  std::uint64_t n = 0, m = 0;
  bool vsize = false, vwgt = false, ewgt = false;
  std::uint64_t ncon = 0;
};

// Reads the header line (skipping '%' comments). Shared with read_metis via metis_header().
MetisHeader read_metis_header(LineReader& r) {
  std::string_view line;
  for (;;) {
    if (!r.next(line)) throw_at_line(r.path(), r.line_number() + 1, "empty file: expected METIS header 'n m [fmt [ncon]]'");
    if (!line.empty() && line[0] == '%') continue;
    if (is_blank(line)) continue;
    break;
  }
  MetisHeader h;
  FieldCursor f(line);
  if (!f.parse_u64(h.n, r, "vertex count n")) r.fail("expected METIS header 'n m [fmt [ncon]]'");
  if (!f.parse_u64(h.m, r, "edge count m")) r.fail("METIS header has no edge count m");
  std::string_view fmt = f.next_token();
  if (!fmt.empty()) {
    if (fmt.size() > 3 || fmt.find_first_not_of("01") != std::string_view::npos)
      r.fail("METIS fmt must be up to three 0/1 digits (0, 1, 10, 11, 100, ..., 111), found '" + std::string(fmt) + "'");
    std::string padded = std::string(3 - fmt.size(), '0') + std::string(fmt);
    h.vsize = padded[0] == '1';
    h.vwgt = padded[1] == '1';
    h.ewgt = padded[2] == '1';
    if (!f.parse_u64(h.ncon, r, "ncon")) h.ncon = h.vwgt ? 1 : 0;
    if (!h.vwgt && h.ncon != 0) r.fail("METIS header gives ncon but fmt has no vertex weights");
    if (h.vwgt && (h.ncon == 0 || h.ncon > 64)) r.fail("METIS ncon must be between 1 and 64");
  }
  if (!f.at_end()) r.fail("unexpected extra fields in METIS header");
  if (h.n >= kMaxVertices) r.fail("vertex count " + std::to_string(h.n) + " exceeds Flotilla's 32-bit vertex ids");
  // A simple graph has at most n(n-1)/2 edges (also keeps 2m from overflowing).
  const double max_m = static_cast<double>(h.n) * (static_cast<double>(h.n) - 1) / 2;
  if (static_cast<double>(h.m) > max_m)
    r.fail("edge count m = " + std::to_string(h.m) + " is more than n(n-1)/2 for n = " + std::to_string(h.n));
  return h;
}

// Every vertex line takes at least `min_line_bytes` bytes, its newline included (1 for an empty
// line; the last line may lack its newline, but the header line takes more than that byte): a
// header claiming more vertices than the file can hold is corrupt (checked before anyone
// allocates per-vertex arrays). Deflate expands at most ~1032x.
void check_metis_lines_fit(const LineReader& r, const MetisHeader& h, std::uint64_t min_line_bytes) {
  const std::uint64_t max_bytes = r.compressed() ? r.file_bytes() * 1032 : r.file_bytes();
  if (h.n * min_line_bytes > max_bytes)
    r.fail("header says n = " + std::to_string(h.n) + " vertices but the file is too small to hold that many lines" +
           (min_line_bytes > 1 ? " of " + std::to_string(h.ncon) + " vertex weights" : std::string()));
}

// The next vertex line after the header: skips '%' comment lines, and blank lines once all n
// vertex lines have been read; fails on any further line. False at the end of the file.
// `vertices_read` counts the vertex lines returned so far.
bool next_metis_vertex_line(LineReader& r, const MetisHeader& h, std::uint64_t vertices_read, std::string_view& line) {
  for (;;) {
    if (!r.next(line)) return false;
    if (!line.empty() && line[0] == '%') continue;
    if (vertices_read >= h.n) {
      if (is_blank(line)) continue;  // trailing blank lines
      r.fail("more vertex lines than the header's n = " + std::to_string(h.n));
    }
    return true;
  }
}

// The fields of a vertex line before its adjacency list: the vertex size (fmt 1xx; checked,
// not kept), then ncon vertex weights (fmt x1x), each passed to weight(c, w), c = 0..ncon-1.
template <typename Weight>
void parse_metis_vertex_prefix(FieldCursor& f, const LineReader& r, const MetisHeader& h, Weight&& weight) {
  std::uint64_t size = 0;
  if (h.vsize && !f.parse_u64(size, r, "vertex size")) r.fail("missing vertex size (fmt says vertex sizes)");
  for (std::uint64_t c = 0; c < h.ncon; ++c) {
    std::int64_t w = 0;
    if (!f.parse_i64(w, r, "vertex weight"))
      r.fail("missing vertex weight: the line has " + std::to_string(c) + " vertex weights, the header's ncon = " +
             std::to_string(h.ncon));
    if (w < 0) r.fail("negative vertex weight " + std::to_string(w));
    weight(c, w);
  }
}

[[noreturn]] void fail_metis_truncated(const LineReader& r, const MetisHeader& h, std::uint64_t vertices_read) {
  throw_at_line(r.path(), r.line_number(),
                "file ends after " + std::to_string(vertices_read) + " vertex lines; the header says n = " +
                    std::to_string(h.n) + " (truncated file?)");
}

// ---- METIS symmetry (as graphchk checks it) -----------------------------------------------------
// Hash of the undirected edge {a, b} with its weight. A symmetric adjacency lists every edge
// twice, once at each end with the same weight: adding +hash for each entry u -> v with u < v
// and -hash for each entry with u > v gives 0 (modulo 2^64). An entry without its reverse (or
// with another weight) leaves a nonzero sum, except with probability about 2^-64: the check
// costs O(1) memory during the ordinary pass, and only a failing file is read again.
std::uint64_t edge_hash(std::uint64_t a, std::uint64_t b, std::int64_t w) {
  const std::uint64_t lo = std::min(a, b), hi = std::max(a, b);
  return splitmix64(((lo << 32) | hi) + static_cast<std::uint64_t>(w) * 0x9e3779b97f4a7c15ULL);
}

// Calls line_fn(u, line_number) for each vertex line and entry_fn(u, v, w) for each entry of it
// (u, v 0-based; w = 1 without edge weights) in one pass over the file.
template <typename LineFn, typename EntryFn>
void for_each_metis_entry(const std::string& path, LineFn&& line_fn, EntryFn&& entry_fn) {
  LineReader r(path);
  const MetisHeader h = read_metis_header(r);
  std::string_view line;
  std::uint64_t u = 0;
  while (next_metis_vertex_line(r, h, u, line)) {
    line_fn(u, r.line_number());
    FieldCursor f(line);
    parse_metis_vertex_prefix(f, r, h, [](std::uint64_t, std::int64_t) {});
    std::uint64_t v = 0;
    while (f.parse_u64(v, r, "neighbour id")) {
      std::int64_t w = 1;
      if (h.ewgt && !f.parse_i64(w, r, "edge weight")) r.fail("neighbour " + std::to_string(v) + " has no edge weight");
      if (v == 0 || v > h.n) r.fail("neighbour id " + std::to_string(v) + " out of range 1.." + std::to_string(h.n));
      entry_fn(u, v - 1, w);
    }
    ++u;
  }
  if (u < h.n) fail_metis_truncated(r, h, u);
}

// Called when a pass found the adjacency asymmetric: finds the first offending line, the line of
// the smallest vertex u that lists a neighbour v whose line does not list u (with the same
// weight), and throws naming it. Memory O(n) (one 64-bit sum per vertex), only on this path:
//  1. per vertex x, sum(x) = hashes of the entries of x's line minus hashes of the entries
//     that list x: nonzero exactly for the vertices of unmatched entries (both ends);
//  2. those vertices in increasing order, in batches of bounded entries: each batch's own
//     entries and the entries listing it are collected in one pass and compared as multisets.
//     The first vertex with an entry missing its reverse is the answer.
[[noreturn]] void fail_metis_asymmetric(const std::string& path, const MetisHeader& h) {
  std::vector<VertexId> odd;  // vertices with a nonzero sum, increasing
  {
    std::vector<std::uint64_t> sum(h.n, 0);
    for_each_metis_entry(path, [](std::uint64_t, std::uint64_t) {}, [&](std::uint64_t u, std::uint64_t v, std::int64_t w) {
      const std::uint64_t e = edge_hash(u, v, w);
      sum[u] += e;
      sum[v] -= e;
    });
    for (std::uint64_t x = 0; x < h.n; ++x)
      if (sum[x] != 0) odd.push_back(static_cast<VertexId>(x));
  }
  struct Entry {
    VertexId x, other;  // x in the batch; other = its neighbour (out) or the vertex listing x (in)
    std::int64_t w;
    bool out;
  };
  constexpr std::size_t kBudget = std::size_t{1} << 22;  // entries held per batch (~100 MB)
  std::vector<Entry> entries;
  std::size_t next = 0;
  while (next < odd.size()) {
    // Batch odd[next, end): shrunk (from the top) whenever its entries exceed the budget.
    std::size_t end = std::min(odd.size(), next + (std::size_t{1} << 20));
    entries.clear();
    std::vector<std::uint64_t> line_of(end - next, 0);
    auto index_in_batch = [&](std::uint64_t x) -> std::ptrdiff_t {
      const auto it = std::lower_bound(odd.begin() + static_cast<std::ptrdiff_t>(next),
                                       odd.begin() + static_cast<std::ptrdiff_t>(end), x);
      return it != odd.begin() + static_cast<std::ptrdiff_t>(end) && *it == x ? it - odd.begin() - static_cast<std::ptrdiff_t>(next) : -1;
    };
    auto shrink = [&] {
      if (end - next <= 1) return;  // one vertex always fits: its entries are O(its degree)
      end = next + (end - next) / 2;
      const VertexId last = odd[end - 1];
      entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.x > last; }),
                    entries.end());
    };
    for_each_metis_entry(
        path,
        [&](std::uint64_t u, std::uint64_t line) {
          const std::ptrdiff_t i = index_in_batch(u);
          if (i >= 0) line_of[static_cast<std::size_t>(i)] = line;
        },
        [&](std::uint64_t u, std::uint64_t v, std::int64_t w) {
          if (index_in_batch(u) >= 0) entries.push_back({static_cast<VertexId>(u), static_cast<VertexId>(v), w, true});
          if (index_in_batch(v) >= 0) entries.push_back({static_cast<VertexId>(v), static_cast<VertexId>(u), w, false});
          while (entries.size() > kBudget && end - next > 1) shrink();
        });
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return std::tie(a.x, a.other, a.w, a.out) < std::tie(b.x, b.other, b.w, b.out);
    });
    // Per (x, other, w): as many entries listed by x (out) as listing x (in) when symmetric.
    for (std::size_t i = 0; i < entries.size();) {
      std::size_t j = i;
      std::int64_t balance = 0;
      while (j < entries.size() && entries[j].x == entries[i].x && entries[j].other == entries[i].other &&
             entries[j].w == entries[i].w) {
        balance += entries[j].out ? 1 : -1;
        ++j;
      }
      if (balance > 0) {  // x lists `other` (with weight w) more often than `other` lists x
        const VertexId u = entries[i].x, v = entries[i].other;
        const std::int64_t w = entries[i].w;
        const std::uint64_t u_line = line_of[static_cast<std::size_t>(index_in_batch(u))];
        // The line of v, and what it lists for u instead (another weight), for the message.
        std::uint64_t v_line = 0;
        std::int64_t other_w = 0;
        bool v_lists_u = false;
        for (std::size_t k = 0; k < entries.size(); ++k)
          if (entries[k].x == u && entries[k].other == v && !entries[k].out && entries[k].w != w) {
            other_w = entries[k].w;
            v_lists_u = true;
          }
        for_each_metis_entry(path, [&](std::uint64_t x, std::uint64_t line) { if (x == v) v_line = line; },
                             [](std::uint64_t, std::uint64_t, std::int64_t) {});
        const std::string U = std::to_string(u + 1), V = std::to_string(v + 1);
        std::string what = "adjacency is not symmetric: vertex " + U + " lists neighbour " + V;
        if (v_lists_u && h.ewgt)
          what += " with edge weight " + std::to_string(w) + ", but vertex " + V + "'s line (line " +
                  std::to_string(v_line) + ") lists " + U + " with weight " + std::to_string(other_w);
        else
          what += (h.ewgt ? " with edge weight " + std::to_string(w) : std::string()) + ", but vertex " + V +
                  "'s line (line " + std::to_string(v_line) + ") does not list " + U;
        throw_at_line(path, u_line,
                      what + " (METIS needs every edge at both ends with the same weight, as gpmetis' graphchk checks; "
                             "fix the file, or read it with --symmetrize to take every entry as an edge)");
      }
      i = j;
    }
    next = end;
  }
  // Only a hash collision (or a file that changed between passes) gets here.
  throw_file(path, "adjacency is not symmetric (some edge is listed at one end only, or with different weights at "
                   "its two ends), but a second pass found every entry's reverse: did the file change while it was read?");
}

class MetisEdgeStream final : public EdgeStream {
 public:
  // all_arcs: yield every entry (u -> v as listed) instead of each edge once from its smaller
  // end. symmetrize: take every entry as an edge, even without its reverse (all arcs, no
  // symmetry, repeat or edge-count checks; each_edge_once = false, so consumers merge both
  // directions and repeats as they do for an edge list); counts the arcs in a first pass.
  MetisEdgeStream(const std::string& path, bool all_arcs, std::vector<std::int64_t>* vertex_weights,
                  bool symmetrize = false)
      : reader_(path), all_arcs_(all_arcs || symmetrize), symmetrize_(symmetrize), vertex_weights_(vertex_weights) {
    header_ = read_metis_header(reader_);
    info_.format = GraphFormat::Metis;
    info_.path = path;
    info_.num_nodes = header_.n;
    info_.num_edges_hint = header_.m;
    info_.has_edge_weights = header_.ewgt;
    info_.each_edge_once = !all_arcs_;
    header_lines_ = reader_.line_number();
    check_metis_lines_fit(reader_, header_, 1);
    if (symmetrize_) {
      EdgeChunk c;
      std::uint64_t arcs = 0;
      while (next_chunk(c, std::size_t{1} << 20)) arcs += c.size();
      info_.num_edges_hint = arcs;
      rewind();
    }
  }

  int ncon() const { return static_cast<int>(header_.ncon); }

  void rewind() override {
    reader_.rewind();
    std::string_view line;
    for (std::uint64_t i = 0; i < header_lines_; ++i) reader_.next(line);
    vertex_ = 0;
    arcs_ = 0;
    balance_ = 0;
    if (vertex_weights_) vertex_weights_->clear();
    in_line_ = false;
    done_ = false;
  }

  bool next_chunk(EdgeChunk& chunk, std::size_t max_edges) override {
    chunk.clear();
    if (max_edges == 0) max_edges = 1;
    while (!done_ && chunk.size() < max_edges) {
      if (!in_line_) {
        std::string_view line;
        if (!next_metis_vertex_line(reader_, header_, vertex_, line)) { finish(); break; }
        cursor_ = FieldCursor(line);
        line_ = line;
        ++vertex_;
        in_line_ = true;
        last_nbr_ = -1;
        line_sorted_ = true;
        parse_metis_vertex_prefix(cursor_, reader_, header_, [this](std::uint64_t, std::int64_t w) {
          if (vertex_weights_) vertex_weights_->push_back(w);
        });
      }
      const VertexId u = static_cast<VertexId>(vertex_ - 1);
      while (chunk.size() < max_edges) {
        std::uint64_t v = 0;
        if (!cursor_.parse_u64(v, reader_, "neighbour id")) {
          in_line_ = false;
          if (!line_sorted_) check_line_repeats();
          break;
        }
        if (v == 0 || v > header_.n)
          reader_.fail("neighbour id " + std::to_string(v) + " out of range 1.." + std::to_string(header_.n));
        float w = 1.0f;
        std::int64_t iw = 1;
        if (header_.ewgt) {
          if (!cursor_.parse_i64(iw, reader_, "edge weight")) reader_.fail("neighbour " + std::to_string(v) + " has no edge weight (fmt says edge weights)");
          if (iw <= 0) reader_.fail("edge weights must be positive, found " + std::to_string(iw));
          w = static_cast<float>(iw);
        }
        const VertexId vv = static_cast<VertexId>(v - 1);
        if (vv == u)
          reader_.fail("self-loop on vertex " + std::to_string(v) + " (the METIS format forbids self-loops" +
                       std::string(symmetrize_ ? ")" : "; --symmetrize does not drop them either)"));
        ++arcs_;
        if (!symmetrize_) {
          // Repeated neighbours: at once when the line is sorted so far, else when it ends.
          if (static_cast<std::int64_t>(vv) <= last_nbr_) {
            if (static_cast<std::int64_t>(vv) == last_nbr_) fail_repeat(vv);
            line_sorted_ = false;
          }
          last_nbr_ = vv;
          const std::uint64_t e = edge_hash(u, vv, iw);
          balance_ += u < vv ? e : 0 - e;  // wraps modulo 2^64
        }
        if (all_arcs_ || u < vv) {
          chunk.src.push_back(u);
          chunk.dst.push_back(vv);
          if (header_.ewgt) chunk.weight.push_back(w);
        }
      }
    }
    report(reader_.bytes_consumed(), reader_.file_bytes());
    return chunk.size() > 0;
  }

 private:
  void finish() {
    done_ = true;
    if (vertex_ < header_.n) fail_metis_truncated(reader_, header_, vertex_);
    if (symmetrize_) return;  // m of an asymmetric file counts nothing well defined
    if (balance_ != 0) fail_metis_asymmetric(reader_.path(), header_);
    if (arcs_ != 2 * header_.m)
      throw_at_line(reader_.path(), header_lines_, "the header says m = " + std::to_string(header_.m) +
                                     " edges but the adjacency lists hold " + std::to_string(arcs_) +
                                     " entries, " + std::to_string(arcs_ / 2) +
                                     " edges (each edge is listed at both ends); fix m in the header");
  }

  [[noreturn]] void fail_repeat(VertexId v) const {
    reader_.fail("vertex " + std::to_string(vertex_) + " lists neighbour " + std::to_string(v + 1) +
                 " more than once (METIS lists each neighbour once, as gpmetis' graphchk checks; remove the repeat, "
                 "or read the file with --symmetrize to merge repeated entries)");
  }
  // A line whose neighbours were not in increasing order: its neighbours (parsed again from the
  // line, still in the reader's buffer: the line ends before the reader moves on), sorted,
  // checked for adjacent repeats. O(degree) memory, only for such lines.
  void check_line_repeats() {
    line_nbrs_.clear();
    FieldCursor f(line_);
    parse_metis_vertex_prefix(f, reader_, header_, [](std::uint64_t, std::int64_t) {});
    std::uint64_t v = 0;
    std::int64_t w = 0;
    while (f.parse_u64(v, reader_, "neighbour id")) {
      line_nbrs_.push_back(static_cast<VertexId>(v - 1));
      if (header_.ewgt) f.parse_i64(w, reader_, "edge weight");
    }
    std::sort(line_nbrs_.begin(), line_nbrs_.end());
    const auto it = std::adjacent_find(line_nbrs_.begin(), line_nbrs_.end());
    if (it != line_nbrs_.end()) fail_repeat(*it);
  }

  LineReader reader_;
  bool all_arcs_ = false;
  bool symmetrize_ = false;
  std::vector<std::int64_t>* vertex_weights_ = nullptr;
  std::uint64_t balance_ = 0;          // signed sum of edge hashes of this pass (0 when symmetric)
  std::string_view line_;             // the current vertex line (valid until the reader moves on)
  std::int64_t last_nbr_ = -1;        // previous neighbour on the line (-1: none yet)
  bool line_sorted_ = true;           // neighbours increasing so far: no repeat among them
  std::vector<VertexId> line_nbrs_;   // scratch for check_line_repeats
  MetisHeader header_;
  std::uint64_t header_lines_ = 0;
  std::uint64_t vertex_ = 0;  // vertices whose line has been started
  std::uint64_t arcs_ = 0;
  bool in_line_ = false;
  bool done_ = false;
  FieldCursor cursor_{std::string_view()};
};

// ---- edge lists -------------------------------------------------------------------------
// `flotilla convert --to edgelist` writes "# flotilla edge list: N nodes, ..." first, so that
// isolated vertices and the ids survive a round trip: such a file has fixed n and identity ids.
std::uint64_t flotilla_header_nodes(std::string_view line) {
  constexpr std::string_view tag = "# flotilla edge list: ";
  if (line.substr(0, tag.size()) != tag) return 0;
  std::uint64_t n = 0;
  const char* p = line.data() + tag.size();
  const char* e = line.data() + line.size();
  while (p != e && *p >= '0' && *p <= '9' && n < (std::uint64_t{1} << 40)) n = n * 10 + static_cast<std::uint64_t>(*p++ - '0');
  return (p != e && *p == ' ') ? n : 0;
}

bool is_comment(std::string_view line) {
  for (char c : line) {
    if (c == ' ' || c == '\t') continue;
    return c == '#' || c == '%';
  }
  return true;  // blank
}

class EdgeListStream final : public EdgeStream {
 public:
  EdgeListStream(const std::string& path, bool keep_ids, std::uint64_t fixed_nodes, GraphFormat reported,
                 const EdgeCountCheck& expect)
      : reader_(path), fixed_nodes_(fixed_nodes) {
    info_.format = reported;
    info_.path = path;
    // Pre-pass: count edges, find the id set, decide on weights and on a header line.
    std::string_view line;
    std::uint64_t edges = 0, edge_lines = 0;
    bool first = true, probed = false;
    while (reader_.next(line)) {
      if (reader_.line_number() == 1 && !fixed_nodes_) fixed_nodes_ = flotilla_header_nodes(line);
      if (is_comment(line)) continue;
      if (first) {
        first = false;
        // A CSV header such as "src,dst" or "from,to,weight" (first non-comment line starting
        // with a letter) is skipped.
        const char c = line[line.find_first_not_of(" \t")];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '"' || c == '_') {
          header_line_ = reader_.line_number();
          continue;
        }
      }
      if (!probed) {
        probed = true;
        FieldCursor probe(line);
        probe.next_token();
        probe.next_token();
        info_.has_edge_weights = !probe.at_end();
      }
      std::uint64_t u = 0, v = 0;
      parse_pair(line, u, v);
      ++edge_lines;  // self-loops included: a count file counts lines
      if (fixed_nodes_ && (u >= fixed_nodes_ || v >= fixed_nodes_))
        reader_.fail("node id " + std::to_string(std::max(u, v)) + " out of range 0.." + std::to_string(fixed_nodes_ - 1));
      if (u == ~std::uint64_t{0} || v == ~std::uint64_t{0})
        reader_.fail("node id 18446744073709551615 is not supported (largest id is 2^64 - 2)");
      if (u == v) continue;
      ++edges;
      if (!fixed_nodes_) {
        if (keep_ids) {
          max_id_ = std::max({max_id_, u, v});
          any_ = true;
        } else {
          ids_.add(u);
          ids_.add(v);
        }
      }
    }
    if (fixed_nodes_) {
      info_.num_nodes = fixed_nodes_;
      identity_ = true;
    } else if (keep_ids) {
      if (any_ && max_id_ >= kMaxVertices)
        throw_file(path, "node id " + std::to_string(max_id_) + " exceeds Flotilla's 32-bit vertex ids (use id compaction: drop --keep-ids)");
      info_.num_nodes = any_ ? max_id_ + 1 : 0;
      identity_ = true;
    } else {
      ids_.finalize();
      info_.num_nodes = ids_.size();
      identity_ = ids_.dense();
    }
    if (info_.num_nodes >= kMaxVertices)
      throw_file(path, "needs " + std::to_string(info_.num_nodes) + " vertex ids, beyond Flotilla's 32-bit vertex ids");
    info_.num_edges_hint = edges;
    if (!expect.count_file.empty() && edge_lines != expect.edges)
      throw_file(path, (edge_lines == 0 ? std::string("has no edge lines, but ")
                                        : "has " + std::to_string(edge_lines) + " edge lines, but ") +
                           expect.count_file + " says " + std::to_string(expect.edges) +
                           " edges (one line per edge: a truncated or appended file, or a stale count)");
    rewind();
  }

  void rewind() override {
    reader_.rewind();
    done_ = false;
  }

  bool next_chunk(EdgeChunk& chunk, std::size_t max_edges) override {
    chunk.clear();
    if (max_edges == 0) max_edges = 1;
    std::string_view line;
    while (!done_ && chunk.size() < max_edges) {
      if (!reader_.next(line)) { done_ = true; break; }
      if (reader_.line_number() == header_line_ || is_comment(line)) continue;
      std::uint64_t u = 0, v = 0;
      float w = 1.0f;
      FieldCursor f = parse_pair(line, u, v);
      if (info_.has_edge_weights) {
        if (!f.parse_float(w, reader_, "edge weight")) reader_.fail("missing edge weight (the first edge line has three fields)");
        if (!(w > 0) || !std::isfinite(w)) reader_.fail("edge weights must be positive and finite (float32)");
      }
      if (u == v) continue;
      if (identity_) {
        if (u >= info_.num_nodes || v >= info_.num_nodes)  // the file changed since the pre-pass
          reader_.fail("node id out of range (file changed while reading?)");
        chunk.src.push_back(static_cast<VertexId>(u));
        chunk.dst.push_back(static_cast<VertexId>(v));
      } else {
        const std::uint64_t ru = ids_.rank(u), rv = ids_.rank(v);
        if (ru == IdCompactor::kMissing || rv == IdCompactor::kMissing)
          reader_.fail("node id not seen in the first pass (file changed while reading?)");
        chunk.src.push_back(static_cast<VertexId>(ru));
        chunk.dst.push_back(static_cast<VertexId>(rv));
      }
      if (info_.has_edge_weights) chunk.weight.push_back(w);
    }
    report(reader_.bytes_consumed(), reader_.file_bytes());
    return chunk.size() > 0;
  }

 private:
  FieldCursor parse_pair(std::string_view line, std::uint64_t& u, std::uint64_t& v) {
    FieldCursor f(line);
    if (!f.parse_u64(u, reader_, "non-negative integer node id")) reader_.fail("expected 'u v'");
    if (!f.parse_u64(v, reader_, "non-negative integer node id")) reader_.fail("expected two node ids 'u v', found one");
    return f;
  }

  LineReader reader_;
  std::uint64_t fixed_nodes_ = 0;
  std::uint64_t header_line_ = 0;
  IdCompactor ids_;
  std::uint64_t max_id_ = 0;
  bool any_ = false;
  bool identity_ = true;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<EdgeStream> open_metis_stream(const std::string& path, bool symmetrize) {
  return std::make_unique<MetisEdgeStream>(path, false, nullptr, symmetrize);
}

std::unique_ptr<EdgeStream> open_metis_arc_stream(const std::string& path,
                                                  std::vector<std::int64_t>* vertex_weights, int* ncon) {
  auto s = std::make_unique<MetisEdgeStream>(path, true, vertex_weights);
  if (ncon) *ncon = s->ncon();
  return s;
}

std::unique_ptr<EdgeStream> open_edgelist_stream(const std::string& path, bool keep_ids,
                                                 std::uint64_t num_nodes, GraphFormat reported,
                                                 const EdgeCountCheck& expect) {
  return std::make_unique<EdgeListStream>(path, keep_ids, num_nodes, reported, expect);
}

}  // namespace flotilla::detail

namespace flotilla {

VertexWeights read_metis_vertex_weights(const std::string& path) {
  LineReader r(path);
  const detail::MetisHeader h = detail::read_metis_header(r);
  VertexWeights out;
  if (h.ncon == 0) return out;  // fmt without vertex weights: the header says it all
  // A line of ncon weights takes at least 2 * ncon bytes ("0 0 0\n"), so the file bounds the
  // reservation below.
  detail::check_metis_lines_fit(r, h, 2 * h.ncon);
  out.ncon = static_cast<std::uint32_t>(h.ncon);
  out.w.reserve(h.n * h.ncon);
  constexpr std::uint64_t kMaxSum = static_cast<std::uint64_t>(INT64_MAX);
  std::vector<std::uint64_t> sum(h.ncon, 0);
  std::uint64_t vertices = 0;
  std::string_view line;
  while (detail::next_metis_vertex_line(r, h, vertices, line)) {
    ++vertices;
    FieldCursor f(line);
    // The adjacency list after the weights is left to the edge reader.
    detail::parse_metis_vertex_prefix(f, r, h, [&](std::uint64_t c, std::int64_t w) {
      if (w > static_cast<std::int64_t>(UINT32_MAX))
        r.fail("vertex weight " + std::to_string(w) + " is larger than 2^32-1 = 4294967295");
      sum[c] += static_cast<std::uint64_t>(w);  // <= 2^63-1 + 2^32-1: no wrap
      if (sum[c] > kMaxSum)
        r.fail("the vertex weights of constraint " + std::to_string(c + 1) +
               " sum to more than 2^63-1 (at vertex " + std::to_string(vertices) + ")");
      out.w.push_back(static_cast<std::uint32_t>(w));
    });
  }
  if (vertices < h.n) detail::fail_metis_truncated(r, h, vertices);
  return out;
}

}  // namespace flotilla

namespace flotilla::detail {

std::string existing_variant(const std::string& base) {
  struct stat st {};
  if (::stat((base + ".gz").c_str(), &st) == 0) return base + ".gz";
  if (::stat(base.c_str(), &st) == 0) return base;
  return {};
}

std::uint64_t read_single_count(const std::string& path, const char* what) {
  LineReader r(path);
  std::string_view line;
  while (r.next(line)) {
    if (is_comment(line)) continue;
    FieldCursor f(line);
    std::uint64_t v = 0;
    if (!f.parse_u64(v, r, what)) r.fail(std::string("expected ") + what);
    return v;
  }
  throw_file(path, std::string("empty file: expected ") + what);
}

std::unique_ptr<EdgeStream> open_ogb_stream(const std::string& dir) {
  const std::string edges = existing_variant(dir + "/raw/edge.csv");
  if (edges.empty()) throw_file(dir, "OGB folder has no raw/edge.csv.gz or raw/edge.csv");
  const std::string nodes = existing_variant(dir + "/raw/num-node-list.csv");
  if (nodes.empty()) throw_file(dir, "OGB folder has no raw/num-node-list.csv.gz or raw/num-node-list.csv");
  const std::uint64_t n = read_single_count(nodes, "node count");
  if (n == 0) throw_file(nodes, "node count is 0");
  // raw/num-edge-list gives the number of lines of raw/edge.csv: checked by the stream's
  // first pass (which counts them anyway), as the dataset reader checks it.
  EdgeCountCheck expect;
  if (const std::string m = existing_variant(dir + "/raw/num-edge-list.csv"); !m.empty()) {
    expect.count_file = m;
    expect.edges = read_single_count(m, "edge count");
  }
  return open_edgelist_stream(edges, true, n, GraphFormat::Ogb, expect);
}

}  // namespace flotilla::detail
