// Traffic folders: sensors.csv, speed.csv / signal.npy, adj.csv / distances.csv.
#include "flotilla/datasets/traffic.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <unordered_map>

#include "flotilla/datasets/edge_stream.h"
#include "flotilla/datasets/error.h"
#include "flotilla/datasets/line_reader.h"
#include "flotilla/datasets/npy.h"
#include "streams.h"

namespace flotilla {

namespace {

namespace fs = std::filesystem;

// ---- small CSV helpers (comma-separated only: timestamps contain spaces) --------------------
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

void split_csv(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      out.push_back(trim(line.substr(start)));
      return;
    }
    out.push_back(trim(line.substr(start, comma - start)));
    start = comma + 1;
  }
}

bool is_blank(std::string_view line) {
  for (char c : line)
    if (c != ' ' && c != '\t') return false;
  return true;
}

// Parses a whole field as a double ('+' allowed). False when it is not a number.
bool to_double(std::string_view s, double& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string shorten(std::string_view s) {
  return s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s);
}

// A value for an error message: shortest form that round-trips a float ("-3.5", not "-3.500000").
std::string shorten_number(float v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return r.ec == std::errc() ? std::string(buf, r.ptr) : std::to_string(v);
}

// ---- folder layout --------------------------------------------------------------------------
struct Layout {
  std::string dir, speed, npy, sensors, adj, dist;
};

Layout layout_of(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_file(dir, "not a folder (expected a traffic folder)");
  Layout l;
  l.dir = dir;
  l.speed = detail::existing_variant(dir + "/speed.csv");
  if (fs::exists(dir + "/signal.npy", ec)) l.npy = dir + "/signal.npy";
  l.sensors = detail::existing_variant(dir + "/sensors.csv");
  l.adj = detail::existing_variant(dir + "/adj.csv");
  l.dist = detail::existing_variant(dir + "/distances.csv");
  return l;
}

// ---- sensors --------------------------------------------------------------------------------
struct SensorList {
  std::vector<std::string> ids;
  std::vector<double> lat, lon;
};

SensorList read_sensors_csv(const std::string& path) {
  LineReader r(path);
  std::string_view line;
  std::vector<std::string_view> f;
  int col_id = -1, col_index = -1, col_lat = -1, col_lon = -1;
  std::size_t ncols = 0;
  while (r.next(line)) {
    if (is_blank(line)) continue;
    split_csv(line, f);
    ncols = f.size();
    for (std::size_t i = 0; i < f.size(); ++i) {
      const std::string name = lower(f[i]);
      const int c = static_cast<int>(i);
      if (name == "sensor_id" || name == "id" || name == "sensor") col_id = c;
      else if (name == "index") col_index = c;
      else if (name == "latitude" || name == "lat") col_lat = c;
      else if (name == "longitude" || name == "lon" || name == "lng") col_lon = c;
    }
    if (col_id < 0)
      r.fail("expected a header line naming a sensor_id column (e.g. index,sensor_id,latitude,longitude)");
    break;
  }
  if (ncols == 0) throw_file(path, "empty file: expected a header naming a sensor_id column, then one row per sensor");
  struct Row {
    std::uint64_t index;
    std::string id;
    double lat, lon;
  };
  std::vector<Row> rows;
  std::unordered_map<std::string, std::uint64_t> seen;
  while (r.next(line)) {
    if (is_blank(line)) continue;
    split_csv(line, f);
    if (f.size() != ncols)
      r.fail("row has " + std::to_string(f.size()) + " fields, the header has " + std::to_string(ncols));
    Row row{rows.size(), std::string(f[static_cast<std::size_t>(col_id)]), 0, 0};
    if (row.id.empty()) r.fail("empty sensor id");
    if (col_index >= 0) {
      const std::string_view s = f[static_cast<std::size_t>(col_index)];
      const auto res = std::from_chars(s.data(), s.data() + s.size(), row.index);
      if (res.ec != std::errc() || res.ptr != s.data() + s.size()) r.fail("expected a non-negative integer index, found '" + shorten(s) + "'");
    }
    auto coord = [&](int col, double& out, const char* what) {
      if (col < 0) return;
      const std::string_view s = f[static_cast<std::size_t>(col)];
      if (!to_double(s, out) || !std::isfinite(out)) r.fail(std::string("expected a ") + what + ", found '" + shorten(s) + "'");
    };
    coord(col_lat, row.lat, "latitude");
    coord(col_lon, row.lon, "longitude");
    if (!seen.emplace(row.id, r.line_number()).second)
      r.fail("sensor id '" + shorten(row.id) + "' is listed twice (first on line " + std::to_string(seen[row.id]) + ")");
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw_file(path, "lists no sensors");
  if (rows.size() >= kMaxVertices) throw_file(path, "too many sensors for 32-bit ids");
  if (col_index >= 0) {
    std::vector<char> have(rows.size(), 0);
    for (const Row& row : rows) {
      if (row.index >= rows.size() || have[row.index])
        throw_file(path, "the index column must number the " + std::to_string(rows.size()) +
                             " sensors 0.." + std::to_string(rows.size() - 1) + " once each (found " +
                             std::to_string(row.index) + (row.index < rows.size() ? " twice)" : ")"));
      have[row.index] = 1;
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.index < b.index; });
  }
  SensorList out;
  for (Row& row : rows) {
    out.ids.push_back(std::move(row.id));
    if (col_lat >= 0 && col_lon >= 0) {
      out.lat.push_back(row.lat);
      out.lon.push_back(row.lon);
    }
  }
  return out;
}

// ---- speed.csv header -----------------------------------------------------------------------
struct SpeedHeader {
  bool has_timestamps = false;
  std::vector<std::string> ids;
  std::uint64_t line = 0;  // line number of the header
};

SpeedHeader parse_speed_header(LineReader& r) {
  std::string_view line;
  std::vector<std::string_view> f;
  while (r.next(line)) {
    if (is_blank(line)) continue;
    split_csv(line, f);
    SpeedHeader h;
    h.line = r.line_number();
    const std::string first = lower(f[0]);
    h.has_timestamps = first.empty() || first == "timestamp" || first == "time" || first == "date" ||
                       first == "datetime" || first == "index" || first == "unnamed: 0";
    std::unordered_map<std::string, std::size_t> seen;
    for (std::size_t i = h.has_timestamps ? 1 : 0; i < f.size(); ++i) {
      if (f[i].empty()) r.fail("empty sensor id in header column " + std::to_string(i + 1));
      std::string id(f[i]);
      if (!seen.emplace(id, i + 1).second)
        r.fail("sensor id '" + shorten(id) + "' appears twice in the header (columns " + std::to_string(seen[id]) +
               " and " + std::to_string(i + 1) + ")");
      h.ids.push_back(std::move(id));
    }
    if (h.ids.empty()) r.fail("header names no sensor columns (expected timestamp,<sensor ids>)");
    return h;
  }
  throw_file(r.path(), "empty file: expected a header 'timestamp,<sensor ids>' and one row per time step");
}

// Reads the rows. Appends to signal (N values per row) and timestamps.
void read_speed_rows(LineReader& r, const SpeedHeader& h, std::vector<float>* signal,
                     std::vector<std::string>* timestamps, std::uint64_t& steps, std::string* first_ts,
                     std::string* last_ts) {
  const std::size_t n = h.ids.size();
  const std::size_t cols = n + (h.has_timestamps ? 1 : 0);
  std::string_view line;
  std::vector<std::string_view> f;
  std::uint64_t blank_line = 0;
  steps = 0;
  while (r.next(line)) {
    if (is_blank(line)) {
      if (!blank_line) blank_line = r.line_number();
      continue;
    }
    if (blank_line) throw_at_line(r.path(), blank_line, "empty row in the middle of the file");
    split_csv(line, f);
    if (f.size() != cols)
      r.fail("row has " + std::to_string(f.size()) + " fields, expected " + std::to_string(cols) + " (" +
             (h.has_timestamps ? "a timestamp and " : "") + std::to_string(n) + " sensors, as in the header)");
    const std::size_t off = h.has_timestamps ? 1 : 0;
    if (h.has_timestamps) {
      if (timestamps) timestamps->emplace_back(f[0]);
      if (first_ts && steps == 0) *first_ts = std::string(f[0]);
      if (last_ts) *last_ts = std::string(f[0]);
    }
    if (signal) {
      for (std::size_t i = 0; i < n; ++i) {
        const std::string_view s = f[off + i];
        double v = 0;
        if (s.empty()) r.fail("empty cell for sensor " + h.ids[i] + " (column " + std::to_string(off + i + 1) + ")");
        if (!to_double(s, v)) r.fail("expected a speed for sensor " + h.ids[i] + ", found '" + shorten(s) + "'");
        if (!std::isfinite(v))
          r.fail("speed for sensor " + h.ids[i] + " is '" + shorten(s) + "' (column " + std::to_string(off + i + 1) +
                 "; NaN/inf are not allowed; 0 marks a missing reading)");
        // Checked after narrowing: 1e39 is a finite double but becomes inf as float32.
        if (!std::isfinite(static_cast<float>(v)))
          r.fail("speed for sensor " + h.ids[i] + " is '" + shorten(s) + "' (column " + std::to_string(off + i + 1) +
                 "), beyond the float32 range (+-3.4e38) the signal is stored in");
        if (v < 0) r.fail("negative speed " + std::string(s) + " for sensor " + h.ids[i]);
        signal->push_back(static_cast<float>(v));
      }
    } else {
      for (std::size_t i = 0; i < n; ++i)
        if (f[off + i].empty()) r.fail("empty cell for sensor " + h.ids[i] + " (column " + std::to_string(off + i + 1) + ")");
    }
    ++steps;
  }
}

// ---- sensor order ---------------------------------------------------------------------------
SensorList canonical_sensors(const Layout& l) {
  if (l.npy.empty() && !l.speed.empty()) {
    LineReader r(l.speed);
    SpeedHeader h = parse_speed_header(r);
    SensorList out;
    if (!l.sensors.empty()) {
      SensorList s = read_sensors_csv(l.sensors);
      std::unordered_map<std::string, std::size_t> pos;
      for (std::size_t i = 0; i < s.ids.size(); ++i) pos.emplace(s.ids[i], i);
      for (const auto& id : h.ids) {
        const auto it = pos.find(id);
        if (it == pos.end())
          throw_at_line(l.speed, h.line, "sensor " + id + " of the header is not listed in " + l.sensors);
        if (!s.lat.empty()) {
          out.lat.push_back(s.lat[it->second]);
          out.lon.push_back(s.lon[it->second]);
        }
      }
      if (s.ids.size() != h.ids.size())
        throw_file(l.sensors, "lists " + std::to_string(s.ids.size()) + " sensors, " + l.speed + " has " +
                                  std::to_string(h.ids.size()) + " sensor columns");
    }
    out.ids = std::move(h.ids);
    if (out.ids.size() >= kMaxVertices) throw_file(l.speed, "too many sensors for 32-bit ids");
    return out;
  }
  if (!l.sensors.empty()) return read_sensors_csv(l.sensors);
  if (!l.npy.empty())
    throw_file(l.dir, "has signal.npy but no sensors.csv (index,sensor_id,latitude,longitude) naming its sensors");
  throw_file(l.dir, "no sensor list: a traffic folder needs sensors.csv or speed.csv");
}

// ---- graph ----------------------------------------------------------------------------------
using IdMap = std::unordered_map<std::string, VertexId>;

IdMap id_map(const std::vector<std::string>& ids) {
  IdMap m;
  m.reserve(ids.size() * 2);
  for (std::size_t i = 0; i < ids.size(); ++i) m.emplace(ids[i], static_cast<VertexId>(i));
  return m;
}

// Reads `from,to,value` rows (`from,to` alone when value_optional: value 1). The first
// non-blank line is a header when its value field is not a number, or, for a two-field line,
// when its first field is not a sensor id. Calls fn(from_field, to_field, value, reader).
template <typename Fn>
void read_triples(const std::string& path, const IdMap& ids, const char* value_name, bool value_optional, Fn&& fn) {
  LineReader r(path);
  std::string_view line;
  std::vector<std::string_view> f;
  bool first = true;
  while (r.next(line)) {
    if (is_blank(line)) continue;
    split_csv(line, f);
    double v = 1.0;
    const bool two = f.size() == 2 && value_optional;
    const bool numeric = f.size() >= 3 && to_double(f[2], v);
    if (first) {
      first = false;
      if (f.size() >= 3 && !numeric) continue;
      if (two && ids.find(std::string(f[0])) == ids.end()) continue;
    }
    if (!two) {
      if (f.size() != 3)
        r.fail("expected 3 fields 'from,to," + std::string(value_name) + "', found " + std::to_string(f.size()));
      if (!numeric) r.fail(std::string("expected a number for ") + value_name + ", found '" + shorten(f[2]) + "'");
      if (!std::isfinite(v)) r.fail(std::string(value_name) + " is not finite ('" + shorten(f[2]) + "', column 3)");
      // Checked after narrowing: the graph keeps float32 values, where 1e39 is inf.
      if (!std::isfinite(static_cast<float>(v)))
        r.fail(std::string(value_name) + " '" + shorten(f[2]) + "' (column 3) is beyond the float32 range (+-3.4e38)");
      if (v < 0) r.fail(std::string("negative ") + value_name + " " + std::string(f[2]));
    }
    if (f[0].empty() || f[1].empty()) r.fail("empty sensor id");
    fn(f[0], f[1], v, r);
  }
}

TrafficGraph read_adj(const std::string& path, const std::vector<std::string>& ids) {
  const IdMap m = id_map(ids);
  struct E {
    VertexId u, v;
    float w;
    std::uint64_t line;
  };
  std::vector<E> edges;
  read_triples(path, m, "weight", true, [&](std::string_view a, std::string_view b, double w, const LineReader& r) {
    const auto ia = m.find(std::string(a));
    const auto ib = m.find(std::string(b));
    if (ia == m.end() || ib == m.end())
      r.fail("unknown sensor '" + shorten(ia == m.end() ? a : b) + "' (not in the folder's sensor list)");
    if (w == 0) return;  // a zero entry of a dense matrix: no edge
    edges.push_back({ia->second, ib->second, static_cast<float>(w), r.line_number()});
  });
  std::stable_sort(edges.begin(), edges.end(), [](const E& x, const E& y) { return x.u != y.u ? x.u < y.u : x.v < y.v; });
  TrafficGraph g;
  g.sensor_ids = ids;
  g.source = path;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (i > 0 && edges[i].u == edges[i - 1].u && edges[i].v == edges[i - 1].v)
      throw_at_line(path, std::max(edges[i].line, edges[i - 1].line),
                    "pair " + ids[edges[i].u] + " -> " + ids[edges[i].v] + " is listed twice (also on line " +
                        std::to_string(std::min(edges[i].line, edges[i - 1].line)) + ")");
    g.src.push_back(edges[i].u);
    g.dst.push_back(edges[i].v);
    g.weight.push_back(edges[i].w);
  }
  return g;
}

TrafficGraph read_distances(const std::string& path, const std::vector<std::string>& ids) {
  const IdMap m = id_map(ids);
  std::vector<DistanceEntry> entries;
  std::uint64_t skipped = 0;
  read_triples(path, m, "distance", false, [&](std::string_view a, std::string_view b, double d, const LineReader&) {
    const auto ia = m.find(std::string(a));
    const auto ib = m.find(std::string(b));
    if (ia == m.end() || ib == m.end()) {
      ++skipped;
      return;
    }
    entries.push_back({ia->second, ib->second, d});
  });
  TrafficGraph g = gaussian_kernel_graph(ids.size(), entries);
  g.sensor_ids = ids;
  g.source = path;
  g.distance_rows = entries.size();
  g.distance_rows_skipped = skipped;
  return g;
}

TrafficGraph graph_of(const Layout& l, const std::vector<std::string>& ids) {
  if (!l.adj.empty()) return read_adj(l.adj, ids);
  if (!l.dist.empty()) return read_distances(l.dist, ids);
  throw_file(l.dir, "no sensor graph: a traffic folder needs adj.csv (from,to,weight) or distances.csv (from,to,distance)");
}

// ---- signal.npy -----------------------------------------------------------------------------
void check_signal_header(const NpyHeader& h, const std::string& path, std::uint64_t num_sensors) {
  if (h.type != NpyType::Float32 && h.type != NpyType::Float64)
    throw_file(path, "the signal must be float32 or float64, found " + h.dtype);
  if (h.shape.size() != 2 && h.shape.size() != 3)
    throw_file(path, "the signal must have shape [T, N, F] or [T, N], found " + npy_shape_string(h.shape));
  if (h.shape[1] != num_sensors)
    throw_file(path, "signal shape " + npy_shape_string(h.shape) + " has " + std::to_string(h.shape[1]) +
                         " sensors, the sensor list has " + std::to_string(num_sensors));
  if (h.shape.size() == 3 && h.shape[2] == 0) throw_file(path, "the signal has 0 features per sensor");
}

// Howard Hinnant's days_from_civil.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(const std::string& s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

// ---- EdgeStream over the sensor graph -------------------------------------------------------
class TrafficEdgeStream final : public EdgeStream {
 public:
  explicit TrafficEdgeStream(const std::string& dir) : graph_(read_traffic_graph(dir)) {
    info_.format = GraphFormat::Traffic;
    info_.path = dir;
    info_.num_nodes = graph_.sensor_ids.size();
    info_.num_edges_hint = graph_.num_entries() - graph_.num_self_loops();
    info_.has_edge_weights = true;
    info_.each_edge_once = false;
  }
  void rewind() override { next_ = 0; }
  bool next_chunk(EdgeChunk& chunk, std::size_t max_edges) override {
    chunk.clear();
    if (max_edges == 0) max_edges = 1;
    while (next_ < graph_.src.size() && chunk.size() < max_edges) {
      if (graph_.src[next_] != graph_.dst[next_]) {
        chunk.src.push_back(graph_.src[next_]);
        chunk.dst.push_back(graph_.dst[next_]);
        chunk.weight.push_back(graph_.weight[next_]);
      }
      ++next_;
    }
    report(next_, graph_.src.size());
    return chunk.size() > 0;
  }

 private:
  TrafficGraph graph_;
  std::size_t next_ = 0;
};

}  // namespace

// ---- public ---------------------------------------------------------------------------------
std::uint64_t TrafficGraph::num_self_loops() const {
  std::uint64_t c = 0;
  for (std::size_t i = 0; i < src.size(); ++i) c += src[i] == dst[i];
  return c;
}

TrafficGraph gaussian_kernel_graph(std::uint64_t num_sensors, const std::vector<DistanceEntry>& entries,
                                   double threshold) {
  // Sparse version of the dense matrix: sort by (from, to), keep the last of repeated pairs.
  std::vector<std::pair<std::uint64_t, std::size_t>> order;  // (key, position in entries)
  order.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const DistanceEntry& e = entries[i];
    if (e.from >= num_sensors || e.to >= num_sensors)
      throw std::out_of_range("distance entry outside 0.." + std::to_string(num_sensors) + " sensors");
    order.emplace_back(static_cast<std::uint64_t>(e.from) * num_sensors + e.to, i);
  }
  std::sort(order.begin(), order.end());
  std::vector<std::pair<std::uint64_t, float>> cells;  // DCRNN's matrix is float32
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i + 1 < order.size() && order[i + 1].first == order[i].first) continue;  // a later one wins
    cells.emplace_back(order[i].first, static_cast<float>(entries[order[i].second].distance));
  }
  double mean = 0;
  for (const auto& c : cells) mean += c.second;
  if (!cells.empty()) mean /= static_cast<double>(cells.size());
  double var = 0;
  for (const auto& c : cells) var += (c.second - mean) * (c.second - mean);
  if (!cells.empty()) var /= static_cast<double>(cells.size());
  TrafficGraph g;
  g.from_distances = true;
  g.sigma = std::sqrt(var);
  for (const auto& c : cells) {
    double w;
    if (g.sigma > 0) {
      const double x = c.second / g.sigma;
      w = std::exp(-x * x);
    } else {
      w = c.second == 0 ? 1.0 : 0.0;
    }
    const float wf = static_cast<float>(w);
    if (wf < static_cast<float>(threshold) || wf == 0) continue;
    g.src.push_back(static_cast<VertexId>(c.first / num_sensors));
    g.dst.push_back(static_cast<VertexId>(c.first % num_sensors));
    g.weight.push_back(wf);
  }
  return g;
}

bool parse_timestamp(const std::string& s, float& time_of_day, std::uint8_t& day_of_week) {
  unsigned y, mo, d, h, mi, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 16 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != ' ' && s[10] != 'T') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi))
    return false;
  std::size_t end = 16;
  if (s.size() > 16 && s[16] == ':') {
    if (!digits(s, 17, 2, sec)) return false;
    end = 19;
    if (s.size() > end && s[end] == '.') {
      ++end;
      while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    }
  }
  if (end != s.size()) return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  const unsigned secs = std::min(h * 3600 + mi * 60 + sec, 86399u);
  time_of_day = static_cast<float>(secs / 86400.0);
  const std::int64_t days = days_from_civil(static_cast<std::int64_t>(y), mo, d);
  day_of_week = static_cast<std::uint8_t>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  return true;
}

TrafficGraph read_traffic_graph(const std::string& dir) {
  const Layout l = layout_of(dir);
  const SensorList s = canonical_sensors(l);
  return graph_of(l, s.ids);
}

TrafficData read_traffic(const std::string& dir) { return read_traffic(dir, TrafficReadOptions{}); }

TrafficData read_traffic(const std::string& dir, const TrafficReadOptions& opt) {
  const Layout l = layout_of(dir);
  // Steps [first, first + count) of a series of `total` steps; throws when first is beyond it.
  auto clip = [&](const std::string& file, std::uint64_t total) {
    if (opt.first_step > total || (opt.first_step == total && total > 0 && opt.num_steps > 0))
      throw_file(file, "step range starts at " + std::to_string(opt.first_step) + ", beyond the series' " +
                           std::to_string(total) + " steps");
    return std::min(opt.num_steps, total - opt.first_step);
  };
  TrafficData td;
  td.dir = dir;
  SensorList s = canonical_sensors(l);
  td.sensor_ids = std::move(s.ids);
  td.latitude = std::move(s.lat);
  td.longitude = std::move(s.lon);
  td.num_sensors = td.sensor_ids.size();
  if (!l.npy.empty()) {
    NpyRowReader rr(l.npy);
    const NpyHeader& h = rr.header();
    check_signal_header(h, l.npy, td.num_sensors);
    td.series_steps = h.shape[0];
    td.first_step = opt.first_step;
    td.num_steps = clip(l.npy, td.series_steps);
    td.num_features = h.shape.size() == 3 ? h.shape[2] : 1;
    td.signal_source = l.npy;
    const std::uint64_t re = rr.row_elements();
    td.signal.resize(static_cast<std::size_t>(td.num_steps * re));  // within the validated file size
    rr.seek_row(td.first_step);
    const std::uint64_t base = td.first_step * re;  // element offset of the first row read
    const std::uint64_t chunk = std::max<std::uint64_t>(1, (std::uint64_t{16} << 20) / std::max<std::uint64_t>(1, re));
    for (std::uint64_t t = 0; t < td.num_steps;) {
      const std::uint64_t got = rr.read_rows_float(td.signal.data() + t * re, std::min(chunk, td.num_steps - t));
      for (std::uint64_t j = t * re; j < (t + got) * re; ++j) {
        const float v = td.signal[j];
        const std::uint64_t i = base + j;  // element index in the file
        if (!std::isfinite(v))
          throw_at_byte(l.npy, h.data_offset + i * h.word_size,
                        "non-finite value at step " + std::to_string(i / re) + ", sensor " +
                            td.sensor_ids[(i % re) / td.num_features] + ", channel " +
                            std::to_string(i % td.num_features));
        // Channel 0 is the speed: as in speed.csv, negative speeds are rejected (0 marks a
        // missing reading).
        if (v < 0 && i % td.num_features == 0)
          throw_at_byte(l.npy, h.data_offset + i * h.word_size,
                        "negative speed " + shorten_number(v) + " at step " + std::to_string(i / re) + ", sensor " +
                            td.sensor_ids[(i % re) / td.num_features] +
                            " (channel 0 is the speed; 0 marks a missing reading)");
      }
      t += got;
    }
  } else if (!l.speed.empty()) {
    LineReader r(l.speed);
    const SpeedHeader h = parse_speed_header(r);
    td.signal_source = l.speed;
    td.num_features = 1;
    read_speed_rows(r, h, &td.signal, &td.timestamps, td.num_steps, nullptr, nullptr);
    if (td.num_steps == 0) throw_file(l.speed, "has a header but no rows (no time steps)");
    td.series_steps = td.num_steps;
    td.first_step = opt.first_step;
    const std::uint64_t keep = clip(l.speed, td.series_steps);
    if (td.first_step > 0 || keep < td.num_steps) {  // trim to the step range
      const auto first = static_cast<std::ptrdiff_t>(td.first_step), count = static_cast<std::ptrdiff_t>(keep);
      std::vector<float>(td.signal.begin() + first * static_cast<std::ptrdiff_t>(td.num_sensors),
                         td.signal.begin() + (first + count) * static_cast<std::ptrdiff_t>(td.num_sensors))
          .swap(td.signal);
      std::vector<std::string>(td.timestamps.begin() + first, td.timestamps.begin() + first + count).swap(td.timestamps);
      td.num_steps = keep;
    }
    td.time_of_day.resize(td.timestamps.size());
    td.day_of_week.resize(td.timestamps.size());
    for (std::size_t t = 0; t < td.timestamps.size(); ++t) {
      if (!parse_timestamp(td.timestamps[t], td.time_of_day[t], td.day_of_week[t])) {
        td.time_of_day.clear();
        td.day_of_week.clear();
        break;
      }
    }
  } else {
    throw_file(dir, "no signal: a traffic folder needs speed.csv or signal.npy (use read_traffic_graph for the graph alone)");
  }
  if (opt.graph) td.graph = graph_of(l, td.sensor_ids);
  return td;
}

TrafficInfo describe_traffic(const std::string& dir) {
  const Layout l = layout_of(dir);
  TrafficInfo info;
  const SensorList s = canonical_sensors(l);
  info.num_sensors = s.ids.size();
  if (!l.npy.empty()) {
    const NpyHeader h = read_npy_header(l.npy);
    check_signal_header(h, l.npy, info.num_sensors);
    info.signal_source = l.npy;
    info.num_steps = h.shape[0];
    info.num_features = h.shape.size() == 3 ? h.shape[2] : 1;
  } else if (!l.speed.empty()) {
    LineReader r(l.speed);
    const SpeedHeader h = parse_speed_header(r);
    info.signal_source = l.speed;
    info.num_features = 1;
    read_speed_rows(r, h, nullptr, nullptr, info.num_steps, &info.first_timestamp, &info.last_timestamp);
  }
  const TrafficGraph g = graph_of(l, s.ids);
  info.graph_source = g.source;
  info.graph_entries = g.num_entries();
  info.graph_self_loops = g.num_self_loops();
  info.sigma = g.sigma;
  return info;
}

namespace detail {
std::unique_ptr<EdgeStream> open_traffic_stream(const std::string& dir) {
  return std::make_unique<TrafficEdgeStream>(dir);
}
}  // namespace detail

}  // namespace flotilla
