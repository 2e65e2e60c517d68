// OGB raw node-property folders: counts, features, labels, splits.
#include "flotilla/datasets/ogb.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "flotilla/datasets/error.h"
#include "flotilla/datasets/line_reader.h"
#include "streams.h"

namespace flotilla {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMaxLabel = (std::int64_t{1} << 31) - 1;

bool is_blank(std::string_view line) {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != ',') return false;
  return true;
}

std::string required(const std::string& base, const char* what) {
  const std::string p = detail::existing_variant(base);
  if (p.empty()) throw_file(base, std::string("missing ") + what + " (looked for " + base + ".gz and " + base + ")");
  return p;
}

std::uint64_t read_num_nodes(const std::string& dir) {
  const std::string p = required(dir + "/raw/num-node-list.csv", "node count file");
  const std::uint64_t n = detail::read_single_count(p, "node count");
  if (n == 0) throw_file(p, "node count is 0");
  if (n >= kMaxVertices) throw_file(p, "node count " + std::to_string(n) + " exceeds Flotilla's 32-bit vertex ids");
  return n;
}

std::uint64_t read_num_edges(const std::string& dir) {
  return detail::read_single_count(required(dir + "/raw/num-edge-list.csv", "edge count file"), "edge count");
}

// Upper bound on the values a text file can hold, to cap reservations made from counts.
std::uint64_t max_values_in(const LineReader& r) {
  const std::uint64_t raw = r.file_bytes();
  return r.compressed() ? raw * 1032 : raw;  // deflate's ratio is at most ~1032:1
}

// ---- labels ---------------------------------------------------------------------------------
struct Labels {
  std::vector<std::int64_t> values;
  std::int64_t num_classes = 0;
  std::uint64_t labeled = 0;
  std::uint64_t rows = 0;
};

std::int64_t parse_label(std::string_view line, const LineReader& r) {
  FieldCursor f(line);
  const std::string_view tok = f.next_token();
  if (!f.at_end())
    r.fail("expected one class label per line, found several fields (multi-task labels such as ogbn-proteins' "
           "are not supported)");
  if (tok.empty() || tok == "nan" || tok == "NaN" || tok == "NAN") return -1;
  std::int64_t v = 0;
  auto res = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (res.ec != std::errc() || res.ptr != tok.data() + tok.size()) {
    double d = 0;
    const char* s = tok.data() + (tok[0] == '+' ? 1 : 0);
    const auto rd = std::from_chars(s, tok.data() + tok.size(), d);
    if (rd.ec != std::errc() || rd.ptr != tok.data() + tok.size() || !(d == std::floor(d)) || std::fabs(d) > 9e18)
      r.fail("expected an integer class label (or -1, nan or an empty line for unlabeled), found '" +
             std::string(tok.substr(0, 40)) + "'");
    v = static_cast<std::int64_t>(d);
  }
  if (v < -1) r.fail("class label " + std::to_string(v) + " is negative (only -1 marks an unlabeled node)");
  if (v > kMaxLabel) r.fail("class label " + std::to_string(v) + " is not below 2^31");
  return v;
}

Labels read_labels(const std::string& dir, std::uint64_t n, bool keep) {
  const std::string path = required(dir + "/raw/node-label.csv", "label file");
  LineReader r(path);
  Labels out;
  if (keep) out.values.reserve(static_cast<std::size_t>(std::min(n, max_values_in(r) + 1)));
  std::string_view line;
  std::int64_t max_label = -1;
  while (r.next(line)) {
    if (r.line_number() > n) {
      // Blank lines after the last node's label are tolerated only at the very end; the error
      // names the first non-blank line beyond num_nodes (not the blank line before it).
      bool extra = !is_blank(line);
      while (!extra && r.next(line)) extra = !is_blank(line);
      if (!extra) break;
      throw_at_line(path, r.line_number(), "more label lines than num_nodes = " + std::to_string(n) +
                                               " (raw/num-node-list); the label file must have one line per node");
    }
    const std::int64_t v = parse_label(line, r);
    if (v >= 0) {
      ++out.labeled;
      max_label = std::max(max_label, v);
    }
    if (keep) out.values.push_back(v);
    ++out.rows;
  }
  if (out.rows != n)
    throw_file(path, "has " + std::to_string(out.rows) + " label lines, expected num_nodes = " + std::to_string(n) +
                         " (raw/num-node-list); one line per node");
  out.num_classes = max_label + 1;
  return out;
}

// ---- features -------------------------------------------------------------------------------
struct Features {
  std::uint64_t width = 0, rows = 0;
  std::vector<float> values;
};

Features read_features(const std::string& path, std::uint64_t n, bool keep) {
  LineReader r(path);
  Features out;
  std::string_view line;
  std::vector<float> row;
  while (r.next(line)) {
    if (out.rows >= n) {
      if (is_blank(line)) continue;  // trailing blank lines
      r.fail("more feature rows than num_nodes = " + std::to_string(n) + " (raw/num-node-list)");
    }
    FieldCursor f(line);
    row.clear();
    double d = 0;
    while (f.parse_double(d, r, "a feature value (float)")) {
      // Checked after narrowing: 1e39 is a finite double but overflows float32 to inf.
      const float fv = static_cast<float>(d);
      if (!std::isfinite(fv))
        r.fail("non-finite feature value in column " + std::to_string(row.size() + 1) +
               " (NaN, inf, or beyond float32 range)");
      row.push_back(fv);
    }
    if (out.rows == 0) {
      if (row.empty()) r.fail("empty first feature row");
      out.width = row.size();
      if (keep) {
        const std::uint64_t want = n * out.width;
        out.values.reserve(static_cast<std::size_t>(std::min(want, max_values_in(r) / 2 + out.width)));
      }
    } else if (row.size() != out.width) {
      r.fail("feature row has " + std::to_string(row.size()) + " values, expected " + std::to_string(out.width) +
             " (the width of line 1)");
    }
    if (keep) out.values.insert(out.values.end(), row.begin(), row.end());
    ++out.rows;
  }
  if (out.rows != n)
    throw_file(path, "has " + std::to_string(out.rows) + " feature rows, expected num_nodes = " + std::to_string(n) +
                         " (raw/num-node-list); one line per node");
  return out;
}

// Width of the first row and number of rows, without parsing every value: the values of the
// first row are parsed, later rows only have their fields counted. Checks the shape the way
// read_features does: every row has the first row's width, and blank lines may only follow
// the last row (after num_nodes rows; a blank line among them is a row with no values).
Features scan_features(const std::string& path, std::uint64_t n) {
  LineReader r(path);
  Features out;
  std::string_view line;
  while (r.next(line)) {
    if (out.rows >= n) {
      if (is_blank(line)) continue;  // trailing blank lines
      r.fail("more feature rows than num_nodes = " + std::to_string(n) + " (raw/num-node-list)");
    }
    FieldCursor f(line);
    std::uint64_t width = 0;
    if (out.rows == 0) {
      double d = 0;
      while (f.parse_double(d, r, "a feature value (float)")) ++width;
      if (width == 0) r.fail("empty first feature row");
      out.width = width;
    } else {
      while (!f.next_token().empty()) ++width;
      if (width != out.width)
        r.fail("feature row has " + std::to_string(width) + " values, expected " + std::to_string(out.width) +
               " (the width of line 1)");
    }
    ++out.rows;
  }
  return out;
}

// Edge lines as the edge stream counts them: blank and '#'/'%' comment lines and a header
// line (first content line starting with a letter, e.g. "src,dst") are not edges.
std::uint64_t count_lines(const std::string& path) {
  LineReader r(path);
  std::string_view line;
  std::uint64_t n = 0;
  bool first = true;
  while (r.next(line)) {
    const auto at = line.find_first_not_of(" \t");
    if (at == std::string_view::npos || line[at] == '#' || line[at] == '%') continue;
    const char c = line[at];
    if (first && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '"' || c == '_')) {
      first = false;
      continue;
    }
    first = false;
    ++n;
  }
  return n;
}

// ---- splits ---------------------------------------------------------------------------------
std::string pick_split(const std::string& dir, const std::string& name) {
  const std::vector<std::string> names = list_ogb_splits(dir);
  if (!name.empty()) {
    if (std::find(names.begin(), names.end(), name) != names.end()) return name;
    std::string have;
    for (const auto& s : names) have += (have.empty() ? "" : ", ") + s;
    throw_file(dir + "/split/" + name, "no such split folder (available: " + (have.empty() ? "none" : have) + ")");
  }
  if (names.empty()) return "";
  if (names.size() > 1) {
    std::string have;
    for (const auto& s : names) have += (have.empty() ? "" : ", ") + s;
    throw_file(dir + "/split", "has several splits (" + have + "); choose one by name");
  }
  return names[0];
}

void read_split_file(const std::string& path, std::uint64_t n, std::uint8_t tag, const char* set_name,
                     std::vector<std::uint8_t>& marks, std::vector<VertexId>& out) {
  LineReader r(path);
  std::string_view line;
  static const char* const kNames[] = {"", "train", "valid", "test"};
  while (r.next(line)) {
    if (is_blank(line)) continue;
    FieldCursor f(line);
    std::uint64_t id = 0;
    f.parse_u64(id, r, "a node id (non-negative integer)");
    if (!f.at_end()) r.fail("expected one node id per line");
    if (id >= n) r.fail("node id " + std::to_string(id) + " out of range 0.." + std::to_string(n - 1));
    if (marks[id] == tag) r.fail(std::string("node ") + std::to_string(id) + " is listed twice in the " + set_name + " set");
    if (marks[id] != 0)
      r.fail(std::string("node ") + std::to_string(id) + " is in both the " + kNames[marks[id]] + " and the " + set_name +
             " sets (splits must be disjoint)");
    marks[id] = tag;
    out.push_back(static_cast<VertexId>(id));
  }
}

}  // namespace

std::vector<std::string> list_ogb_splits(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  const fs::path root = fs::path(dir) / "split";
  if (!fs::is_directory(root, ec)) return names;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory(ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

OgbNodeDataset read_ogb_node_dataset(const std::string& dir, const std::string& split_name) {
  OgbReadOptions opts;
  opts.split = split_name;
  return read_ogb_node_dataset(dir, opts);
}

OgbNodeDataset read_ogb_node_dataset(const std::string& dir, const OgbReadOptions& opts) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_file(dir, "not a folder (expected an OGB raw dataset folder)");
  OgbNodeDataset ds;
  ds.dir = dir;
  ds.num_nodes = read_num_nodes(dir);
  ds.num_edges = read_num_edges(dir);
  const std::uint64_t n = ds.num_nodes;

  // Labels first: their line count confirms num_nodes before anything is sized by it.
  Labels labels = read_labels(dir, n, true);
  ds.labels = std::move(labels.values);
  ds.num_classes = labels.num_classes;
  ds.num_labeled = labels.labeled;

  const std::string feat = detail::existing_variant(dir + "/raw/node-feat.csv");
  if (!feat.empty()) {
    Features f = opts.load_features ? read_features(feat, n, true) : scan_features(feat, n);
    if (!opts.load_features && f.rows != n)
      throw_file(feat, "has " + std::to_string(f.rows) + " feature rows, expected num_nodes = " + std::to_string(n));
    ds.num_features = f.width;
    ds.features = std::move(f.values);
  }

  if (opts.check_edge_count) {
    const std::string edges = required(dir + "/raw/edge.csv", "edge file");
    const std::uint64_t m = count_lines(edges);
    if (m != ds.num_edges)
      throw_file(edges, (m == 0 ? std::string("is empty: ") : "has " + std::to_string(m) + " edge lines, but ") +
                            "raw/num-edge-list says " + std::to_string(ds.num_edges) + " edges");
  }

  ds.split.name = pick_split(dir, opts.split);
  if (!ds.split.name.empty()) {
    std::vector<std::uint8_t> marks(static_cast<std::size_t>(n), 0);
    const std::string base = dir + "/split/" + ds.split.name + "/";
    const char* sets[] = {"train", "valid", "test"};
    std::vector<VertexId>* outs[] = {&ds.split.train, &ds.split.valid, &ds.split.test};
    for (int i = 0; i < 3; ++i) {
      const std::string p = required(base + sets[i] + ".csv", (std::string(sets[i]) + " split file").c_str());
      read_split_file(p, n, static_cast<std::uint8_t>(i + 1), sets[i], marks, *outs[i]);
    }
  }
  return ds;
}

OgbInfo describe_ogb(const std::string& dir) {
  OgbInfo info;
  info.num_nodes = read_num_nodes(dir);
  info.num_edges = read_num_edges(dir);
  const Labels labels = read_labels(dir, info.num_nodes, false);
  info.num_classes = labels.num_classes;
  info.num_labeled = labels.labeled;
  info.label_rows = labels.rows;
  const std::string feat = detail::existing_variant(dir + "/raw/node-feat.csv");
  if (!feat.empty()) {
    const Features f = scan_features(feat, info.num_nodes);
    if (f.rows != info.num_nodes)
      throw_file(feat, "has " + std::to_string(f.rows) + " feature rows, expected num_nodes = " +
                           std::to_string(info.num_nodes) + " (raw/num-node-list); one line per node");
    info.num_features = f.width;
    info.feature_rows = f.rows;
  }
  for (const std::string& name : list_ogb_splits(dir)) {
    OgbSplitInfo s;
    s.name = name;
    const std::string base = dir + "/split/" + name + "/";
    std::uint64_t* counts[] = {&s.train, &s.valid, &s.test};
    const char* sets[] = {"train", "valid", "test"};
    for (int i = 0; i < 3; ++i) {
      const std::string p = detail::existing_variant(base + sets[i] + ".csv");
      if (!p.empty()) *counts[i] = count_lines(p);
    }
    info.splits.push_back(s);
  }
  return info;
}

}  // namespace flotilla
