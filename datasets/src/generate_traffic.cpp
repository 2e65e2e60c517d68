// Synthetic traffic: a road-like sensor graph and a [T, N, F] speed signal (METR-LA-like).
//
// Layout: H = clamp(round(sqrt(N) / 3), 1, 40) random "highways" in a 50 x 50 km box: the
// first crosses the box, each later one branches off an earlier one and runs to the
// boundary (a connected network), all bent by smooth random offsets. Sensors are spread
// along them in proportion to length, one per equal stretch (stratified) with ~30 m of
// jitter. distances.csv lists, for each sensor, its k = 8 nearest sensors in both
// directions, with a road distance of the straight-line distance times a detour factor
// (1.00-1.05 along the same highway, 1.25-1.75 between highways, different per direction),
// plus each sensor's 0 self-distance, as PEMS-BAY's distances.csv does.
//
// Signal, per 5-minute step t (288 per day; t = 0 is a Monday 00:00) and sensor n:
//   speed = free_flow[n] * (1 - congestion) * (1 - incident) + AR(1) noise, clamped to [2, 85]
//   congestion: weekday morning and evening rush-hour dips (Gaussian in time of day) whose
//   depths are random fields smoothed over the sensor graph; weekends a weaker midday dip;
//   scaled by a per-day factor. Incidents start at random sensors (about 0.04 per sensor per
//   day), last 30 min to 3 h, and spread to 1- and 2-hop neighbours with half / quarter
//   severity and a delay. Readings are missing (0, as in METR-LA) in sensor outages of 1-12 h
//   and at random (about 0.5% overall).
// Channels: 0 speed (mph), 1 time of day in [0, 1), 2 day of week / 7 (0 = Monday).
//
// Determinism: every random number comes from a generator seeded by (seed, purpose, index):
// per sensor for its noise and outages, per day for incidents. Blocks of steps are computed
// in parallel over sensors, so the bytes do not depend on the thread count or block size.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "flotilla/datasets/error.h"
#include "flotilla/datasets/atomic_output.h"
#include "flotilla/datasets/durable.h"
#include "flotilla/datasets/generators.h"
#include "flotilla/datasets/npy.h"
#include "flotilla/datasets/random.h"
#include "flotilla/datasets/types.h"

namespace flotilla {

namespace {

namespace fs = std::filesystem;

constexpr double kBox = 50000.0;           // metres
constexpr int kStepsPerDay = 288;          // 5-minute steps
constexpr std::uint64_t kBlockSteps = 96;  // steps per parallel block (8 hours)
constexpr int kNeighbours = 8;

std::uint64_t seed_of(std::uint64_t seed, std::uint64_t purpose, std::uint64_t index) {
  return splitmix64(splitmix64(seed ^ (purpose * 0x9e3779b97f4a7c15ULL)) + index);
}

int resolve_threads(int threads) {
  if (threads < 0) throw std::invalid_argument("threads must be >= 0 (0 = all hardware threads)");
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Runs fn(begin, end) over [0, n) split into `threads` contiguous ranges.
template <typename Fn>
void parallel_ranges(std::uint64_t n, int threads, Fn&& fn) {
  const std::uint64_t t = std::min<std::uint64_t>(static_cast<std::uint64_t>(std::max(threads, 1)), std::max<std::uint64_t>(n, 1));
  if (t <= 1) {
    fn(std::uint64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(t);
  for (std::uint64_t i = 0; i < t; ++i) {
    const std::uint64_t b = n * i / t, e = n * (i + 1) / t;
    pool.emplace_back([&, i, b, e] {
      try {
        fn(b, e);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

struct Point {
  double x, y;
};

// ---- layout ---------------------------------------------------------------------------------
struct Layout {
  std::vector<Point> pos;
  std::vector<std::uint32_t> highway;
};

Point boundary_point(Rng& rng, int side) {
  const double u = 0.1 + 0.8 * rng.uniform();
  switch (side) {
    case 0: return {u * kBox, 0};
    case 1: return {kBox, u * kBox};
    case 2: return {u * kBox, kBox};
    default: return {0, u * kBox};
  }
}

Layout make_layout(std::uint64_t n, std::uint64_t seed) {
  Rng rng(seed_of(seed, 1, 0));
  const int h = static_cast<int>(std::clamp<double>(std::round(std::sqrt(static_cast<double>(n)) / 3.0), 1.0, 40.0));
  // Highways: the first runs from one side of the box to another; each later one branches
  // off an earlier highway (at 40-140 degrees to it) and runs to the box boundary, so the
  // network is connected. All are bent by a smooth random offset that vanishes at the ends.
  std::vector<std::vector<Point>> roads(static_cast<std::size_t>(h));
  std::vector<double> length(static_cast<std::size_t>(h), 0.0);
  constexpr int kSegments = 12;
  constexpr double kPi = 3.141592653589793;
  auto exit_distance = [](Point a, double cx, double cy) {
    const double tx = cx > 1e-12 ? (kBox - a.x) / cx : cx < -1e-12 ? -a.x / cx : 1e18;
    const double ty = cy > 1e-12 ? (kBox - a.y) / cy : cy < -1e-12 ? -a.y / cy : 1e18;
    return std::min(tx, ty);
  };
  for (int r = 0; r < h; ++r) {
    Point a, b;
    if (r == 0) {
      const int s0 = static_cast<int>(rng.below(4));
      const int s1 = (s0 + 1 + static_cast<int>(rng.below(3))) % 4;
      a = boundary_point(rng, s0);
      b = boundary_point(rng, s1);
    } else {
      const auto& base = roads[static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(r)))];
      const std::size_t seg = 1 + static_cast<std::size_t>(rng.below(kSegments - 2));  // away from the ends
      const double f = rng.uniform();
      a = {base[seg].x + f * (base[seg + 1].x - base[seg].x), base[seg].y + f * (base[seg + 1].y - base[seg].y)};
      const double theta = std::atan2(base[seg + 1].y - base[seg].y, base[seg + 1].x - base[seg].x);
      double phi = theta + (rng.uniform() < 0.5 ? 1 : -1) * (40.0 + 100.0 * rng.uniform()) * kPi / 180.0;
      double t = exit_distance(a, std::cos(phi), std::sin(phi));
      if (t < 8000.0) {
        phi += kPi;
        t = exit_distance(a, std::cos(phi), std::sin(phi));
      }
      b = {std::clamp(a.x + t * std::cos(phi), 0.0, kBox), std::clamp(a.y + t * std::sin(phi), 0.0, kBox)};
    }
    const double dx = b.x - a.x, dy = b.y - a.y;
    const double len = std::hypot(dx, dy);
    const double px = -dy / len, py = dx / len;  // unit normal
    double offset = 0, drift = 0;
    auto& pts = roads[static_cast<std::size_t>(r)];
    for (int i = 0; i <= kSegments; ++i) {
      const double f = static_cast<double>(i) / kSegments;
      const double taper = std::sin(kPi * f);  // ends stay in place
      Point p{a.x + f * dx + taper * offset * px, a.y + f * dy + taper * offset * py};
      p.x = std::clamp(p.x, 0.0, kBox);
      p.y = std::clamp(p.y, 0.0, kBox);
      if (i > 0) length[static_cast<std::size_t>(r)] += std::hypot(p.x - pts.back().x, p.y - pts.back().y);
      pts.push_back(p);
      drift = 0.7 * drift + 900.0 * rng.normal();
      offset += drift;
    }
  }
  // Sensors per highway in proportion to length (largest remainders).
  double total = 0;
  for (double l : length) total += l;
  std::vector<std::uint64_t> count(static_cast<std::size_t>(h), 0);
  std::vector<std::pair<double, int>> rem;
  std::uint64_t assigned = 0;
  for (int r = 0; r < h; ++r) {
    const double want = static_cast<double>(n) * length[static_cast<std::size_t>(r)] / total;
    count[static_cast<std::size_t>(r)] = static_cast<std::uint64_t>(want);
    assigned += count[static_cast<std::size_t>(r)];
    rem.emplace_back(-(want - std::floor(want)), r);
  }
  std::sort(rem.begin(), rem.end());
  for (std::size_t i = 0; assigned < n; i = (i + 1) % rem.size(), ++assigned) ++count[static_cast<std::size_t>(rem[i].second)];

  Layout out;
  out.pos.reserve(n);
  out.highway.reserve(n);
  std::vector<double> at;
  for (int r = 0; r < h; ++r) {
    const auto& pts = roads[static_cast<std::size_t>(r)];
    const std::uint64_t c = count[static_cast<std::size_t>(r)];
    at.resize(c);
    // Stratified along the road (real detectors are spaced fairly regularly): one per
    // stretch of length L / c, at a random place in its middle 70%.
    const double stretch = length[static_cast<std::size_t>(r)] / static_cast<double>(std::max<std::uint64_t>(c, 1));
    for (std::uint64_t j = 0; j < c; ++j) at[j] = (static_cast<double>(j) + 0.15 + 0.7 * rng.uniform()) * stretch;
    std::size_t seg = 0;
    double seg_start = 0;
    for (double s : at) {
      double seg_len = std::hypot(pts[seg + 1].x - pts[seg].x, pts[seg + 1].y - pts[seg].y);
      while (s > seg_start + seg_len && seg + 2 < pts.size()) {
        seg_start += seg_len;
        ++seg;
        seg_len = std::hypot(pts[seg + 1].x - pts[seg].x, pts[seg + 1].y - pts[seg].y);
      }
      const double f = seg_len > 0 ? std::clamp((s - seg_start) / seg_len, 0.0, 1.0) : 0.0;
      Point p{pts[seg].x + f * (pts[seg + 1].x - pts[seg].x), pts[seg].y + f * (pts[seg + 1].y - pts[seg].y)};
      p.x = std::clamp(p.x + 30.0 * rng.normal(), 0.0, kBox);
      p.y = std::clamp(p.y + 30.0 * rng.normal(), 0.0, kBox);
      out.pos.push_back(p);
      out.highway.push_back(static_cast<std::uint32_t>(r));
    }
  }
  return out;
}

// k nearest neighbours of every point (grid search), ties broken by index.
std::vector<std::uint32_t> knn(const std::vector<Point>& pos, int k, int threads) {
  const std::uint64_t n = pos.size();
  const int g = std::max(1, static_cast<int>(std::sqrt(static_cast<double>(n) / 2.0)));
  const double cell = kBox / g;
  auto cell_of = [&](double v) { return std::clamp(static_cast<int>(v / cell), 0, g - 1); };
  std::vector<std::uint32_t> start(static_cast<std::size_t>(g) * g + 1, 0), items(n);
  for (const Point& p : pos) ++start[static_cast<std::size_t>(cell_of(p.y)) * g + cell_of(p.x) + 1];
  for (std::size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  {
    std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
    for (std::uint64_t i = 0; i < n; ++i)
      items[fill[static_cast<std::size_t>(cell_of(pos[i].y)) * g + cell_of(pos[i].x)]++] = static_cast<std::uint32_t>(i);
  }
  std::vector<std::uint32_t> out(n * static_cast<std::uint64_t>(k));
  parallel_ranges(n, threads, [&](std::uint64_t b, std::uint64_t e) {
    std::vector<std::pair<double, std::uint32_t>> cand;
    for (std::uint64_t i = b; i < e; ++i) {
      cand.clear();
      const int cx = cell_of(pos[i].x), cy = cell_of(pos[i].y);
      for (int r = 0; r <= g; ++r) {
        for (int yy = cy - r; yy <= cy + r; ++yy) {
          if (yy < 0 || yy >= g) continue;
          for (int xx = cx - r; xx <= cx + r; ++xx) {
            if (xx < 0 || xx >= g) continue;
            if (std::max(std::abs(xx - cx), std::abs(yy - cy)) != r) continue;  // ring only
            const std::size_t c = static_cast<std::size_t>(yy) * g + xx;
            for (std::uint32_t j = start[c]; j < start[c + 1]; ++j) {
              const std::uint32_t q = items[j];
              if (q == i) continue;
              cand.emplace_back(std::hypot(pos[q].x - pos[i].x, pos[q].y - pos[i].y), q);
            }
          }
        }
        if (cand.size() >= static_cast<std::size_t>(k)) {
          std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end());
          if (cand[static_cast<std::size_t>(k - 1)].first <= r * cell) break;  // nothing closer further out
        }
      }
      std::sort(cand.begin(), cand.end());
      for (int j = 0; j < k; ++j) out[i * k + static_cast<std::uint64_t>(j)] = cand[static_cast<std::size_t>(j)].second;
    }
  });
  return out;
}

// ---- incidents ------------------------------------------------------------------------------
struct Impact {
  std::uint32_t sensor;
  std::uint64_t begin, end;  // steps [begin, end)
  float severity;
};

// Incidents starting on `day`, with their spread to 1- and 2-hop neighbours.
void day_impacts(std::uint64_t seed, std::uint64_t day, std::uint64_t n, const std::vector<std::uint64_t>& off,
                 const std::vector<std::uint32_t>& nbr, std::vector<Impact>& out) {
  Rng rng(seed_of(seed, 5, day));
  const double mean = 0.04 * static_cast<double>(n);
  std::uint64_t count;
  if (mean > 30) {
    count = static_cast<std::uint64_t>(std::max(0.0, std::round(mean + std::sqrt(mean) * rng.normal())));
  } else {  // Knuth
    const double l = std::exp(-mean);
    double p = 1;
    count = 0;
    for (;;) {
      p *= rng.uniform();
      if (p <= l) break;
      ++count;
    }
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto s = static_cast<std::uint32_t>(rng.below(n));
    const std::uint64_t start = day * kStepsPerDay + rng.below(kStepsPerDay);
    const std::uint64_t dur = 6 + rng.below(31);
    const float sev = static_cast<float>(0.3 + 0.5 * rng.uniform());
    out.push_back({s, start, start + dur, sev});
    for (std::uint64_t a = off[s]; a < off[s + 1]; ++a) {
      const std::uint32_t v = nbr[a];
      out.push_back({v, start + 1, start + dur + 2, 0.5f * sev});
      for (std::uint64_t b = off[v]; b < off[v + 1]; ++b)
        if (nbr[b] != s) out.push_back({nbr[b], start + 2, start + dur + 4, 0.25f * sev});
    }
  }
}

// ---- per-sensor parameters ------------------------------------------------------------------
struct SensorParams {
  float free_flow;
  float am_depth, pm_depth;
  std::uint16_t am_shape, pm_shape;  // index into the rush-hour shape tables
  float noise_sd;
};

// Rush-hour shapes: Gaussians in time of day with kShapes centres/widths, tabulated per step
// of the day (the per-sensor variation of peak time is quantised to these shapes).
constexpr int kShapes = 16;
struct ShapeTables {
  std::vector<float> am, pm, weekend;  // [kShapes][288], [kShapes][288], [288]
};

ShapeTables make_shapes() {
  ShapeTables s;
  s.am.resize(kShapes * kStepsPerDay);
  s.pm.resize(kShapes * kStepsPerDay);
  s.weekend.resize(kStepsPerDay);
  for (int k = 0; k < kShapes; ++k) {
    const double q = (k + 0.5) / kShapes;  // 0..1 across the shapes
    const double am_c = 7.4 + 1.0 * q, am_w = 0.8 + 0.4 * q;
    const double pm_c = 16.8 + 1.2 * q, pm_w = 1.1 + 0.5 * (1 - q);
    for (int t = 0; t < kStepsPerDay; ++t) {
      const double h = 24.0 * t / kStepsPerDay;
      const double za = (h - am_c) / am_w, zp = (h - pm_c) / pm_w;
      s.am[static_cast<std::size_t>(k * kStepsPerDay + t)] = static_cast<float>(std::exp(-0.5 * za * za));
      s.pm[static_cast<std::size_t>(k * kStepsPerDay + t)] = static_cast<float>(std::exp(-0.5 * zp * zp));
    }
  }
  for (int t = 0; t < kStepsPerDay; ++t) {
    const double z = (24.0 * t / kStepsPerDay - 14.0) / 2.5;
    s.weekend[static_cast<std::size_t>(t)] = static_cast<float>(0.35 * std::exp(-0.5 * z * z));
  }
  return s;
}

// Approximately standard normal from one 64-bit draw (Irwin-Hall sum of four 16-bit uniforms).
inline double fast_normal(std::uint64_t x) {
  const double s = static_cast<double>((x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48));
  return (s * (1.0 / 65536.0) - 2.0) * 1.7320508075688772;
}

// Random field smoothed over the graph, rescaled to [lo, hi].
std::vector<double> smooth_field(std::uint64_t seed, std::uint64_t purpose, std::uint64_t n,
                                 const std::vector<std::uint64_t>& off, const std::vector<std::uint32_t>& nbr,
                                 double lo, double hi) {
  std::vector<double> f(n), g(n);
  for (std::uint64_t i = 0; i < n; ++i) f[i] = Rng(seed_of(seed, purpose, i)).uniform();
  for (int it = 0; it < 4; ++it) {
    for (std::uint64_t i = 0; i < n; ++i) {
      double s = 0;
      for (std::uint64_t a = off[i]; a < off[i + 1]; ++a) s += f[nbr[a]];
      const std::uint64_t d = off[i + 1] - off[i];
      g[i] = d ? 0.4 * f[i] + 0.6 * s / static_cast<double>(d) : f[i];
    }
    f.swap(g);
  }
  const auto [mn, mx] = std::minmax_element(f.begin(), f.end());
  const double a = *mn, b = *mx;
  for (double& v : f) v = b > a ? lo + (hi - lo) * (v - a) / (b - a) : 0.5 * (lo + hi);
  return f;
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[128];
  const int k = std::snprintf(buf, sizeof buf, f, a, b, c);
  return std::string(buf, static_cast<std::size_t>(std::max(0, k)));
}

// Text file written through a bounded buffer.
class TextOut {
 public:
  explicit TextOut(std::string path) : path_(std::move(path)) {
    f_ = std::fopen(path_.c_str(), "wb");
    if (!f_) throw_file(path_, std::string("cannot create: ") + std::strerror(errno));
  }
  ~TextOut() {
    if (f_) std::fclose(f_);
  }
  TextOut(const TextOut&) = delete;
  TextOut& operator=(const TextOut&) = delete;
  TextOut& operator<<(const std::string& s) {
    buf_ += s;
    if (buf_.size() >= (std::size_t{4} << 20)) flush();
    return *this;
  }
  std::uint64_t close() {
    flush();
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) throw_file(path_, std::string("write failed: ") + std::strerror(errno));
    return bytes_;
  }

 private:
  void flush() {
    if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size())
      throw_file(path_, std::string("write failed: ") + std::strerror(errno));
    bytes_ += buf_.size();
    buf_.clear();
  }
  std::string path_;
  std::FILE* f_ = nullptr;
  std::string buf_;
  std::uint64_t bytes_ = 0;
};


}  // namespace

TrafficGenResult generate_traffic(const TrafficGenOptions& opts, const std::string& out_dir_arg,
                                  const GenProgressFn& progress) {
  const auto t_start = std::chrono::steady_clock::now();
  const std::uint64_t n = opts.num_sensors, steps = opts.num_steps;
  const std::uint64_t nf = static_cast<std::uint64_t>(opts.num_features);
  if (n < 2 || n > 50'000'000) throw std::invalid_argument("num_sensors must be between 2 and 50,000,000");
  if (steps < 1) throw std::invalid_argument("num_steps must be at least 1");
  if (opts.num_features < 1 || opts.num_features > 3)
    throw std::invalid_argument("num_features must be 1 (speed), 2 (+ time of day) or 3 (+ day of week)");
  const int threads = resolve_threads(opts.threads);
  if (out_dir_arg.empty()) throw std::invalid_argument("output folder is empty");
  const std::string out_dir = normalise_out_dir(out_dir_arg);

  std::error_code ec;
  const fs::path dir(out_dir);
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw_file(out_dir, "exists and is not a folder; refusing to overwrite");
    if (!fs::is_empty(dir, ec)) throw_file(out_dir, "exists and is not empty; refusing to overwrite");
  }
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path());
  const std::string tmp = temp_path_for(out_dir);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);

  TrafficGenResult result;
  try {
    // Layout, graph, parameters.
    const Layout lay = make_layout(n, opts.seed);
    const int k = static_cast<int>(std::min<std::uint64_t>(kNeighbours, n - 1));
    const std::vector<std::uint32_t> near = knn(lay.pos, k, threads);
    // Directed pairs both ways, deduplicated: (from, to).
    std::vector<std::uint64_t> pairs;
    pairs.reserve(n * static_cast<std::uint64_t>(k) * 2);
    for (std::uint64_t i = 0; i < n; ++i)
      for (int j = 0; j < k; ++j) {
        const std::uint64_t q = near[i * k + static_cast<std::uint64_t>(j)];
        pairs.push_back(i * n + q);
        pairs.push_back(q * n + i);
      }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    // Undirected neighbour lists (CSR) for smoothing and incident spread.
    std::vector<std::uint64_t> off(n + 1, 0);
    std::vector<std::uint32_t> nbr(pairs.size());
    for (std::uint64_t p : pairs) ++off[p / n + 1];
    for (std::uint64_t i = 0; i < n; ++i) off[i + 1] += off[i];
    for (std::size_t i = 0; i < pairs.size(); ++i) nbr[i] = static_cast<std::uint32_t>(pairs[i] % n);  // sorted by from

    auto sensor_id = [](std::uint64_t i) { return std::to_string(400000 + i); };
    {  // sensors.csv
      TextOut text(tmp + "/sensors.csv");
      text << "index,sensor_id,latitude,longitude\n";
      const double lat0 = 34.0, lon0 = -118.5;
      const double m_per_deg_lat = 111320.0, m_per_deg_lon = 111320.0 * std::cos(lat0 * 3.141592653589793 / 180.0);
      for (std::uint64_t i = 0; i < n; ++i)
        text << std::to_string(i) + "," + sensor_id(i) +
                    fmt(",%.6f,%.6f\n", lat0 + lay.pos[i].y / m_per_deg_lat, lon0 + lay.pos[i].x / m_per_deg_lon);
      result.bytes += text.close();
    }
    {  // distances.csv: self-distances and road distances (detour factor per direction)
      TextOut text(tmp + "/distances.csv");
      text << "from,to,distance\n";
      for (std::uint64_t i = 0; i < n; ++i) {
        // Entries of row i in `to` order, the self-distance in its place.
        bool self_done = false;
        auto put_self = [&] {
          text << sensor_id(i) + "," + sensor_id(i) + ",0.0\n";
          self_done = true;
        };
        for (std::uint64_t a = off[i]; a < off[i + 1]; ++a) {
          const std::uint64_t j = nbr[a];
          if (!self_done && j > i) put_self();
          const double e = std::hypot(lay.pos[i].x - lay.pos[j].x, lay.pos[i].y - lay.pos[j].y);
          const double u = Rng(seed_of(opts.seed, 6, i * n + j)).uniform();
          const double detour = lay.highway[i] == lay.highway[j] ? 1.0 + 0.05 * u : 1.25 + 0.5 * u;
          text << sensor_id(i) + "," + sensor_id(j) + fmt(",%.1f\n", std::max(1.0, e * detour));
        }
        if (!self_done) put_self();
      }
      result.bytes += text.close();
      result.num_edges = pairs.size();
    }

    const std::vector<double> am = smooth_field(opts.seed, 10, n, off, nbr, 0.10, 0.60);
    const std::vector<double> pm = smooth_field(opts.seed, 11, n, off, nbr, 0.10, 0.55);
    const ShapeTables shapes = make_shapes();
    std::vector<SensorParams> par(n);
    std::vector<Rng> rng;
    rng.reserve(n);
    std::vector<float> noise(n);
    std::vector<std::uint32_t> outage(n, 0);
    for (std::uint64_t i = 0; i < n; ++i) {
      Rng r(seed_of(opts.seed, 2, i));
      SensorParams& p = par[i];
      p.free_flow = static_cast<float>(60.0 + 10.0 * r.uniform());
      p.am_depth = static_cast<float>(am[i]);
      p.pm_depth = static_cast<float>(pm[i]);
      p.am_shape = static_cast<std::uint16_t>(r.below(kShapes));
      p.pm_shape = static_cast<std::uint16_t>(r.below(kShapes));
      p.noise_sd = static_cast<float>(1.5 + 1.5 * r.uniform());
      rng.emplace_back(seed_of(opts.seed, 3, i));
      noise[i] = static_cast<float>(p.noise_sd * rng.back().normal());
    }

    // Signal, block by block: compute block b (parallel over sensors) while block b-1 is written.
    NpyWriter writer(tmp + "/signal.npy", NpyType::Float32, {steps, n, nf});
    const std::uint64_t num_blocks = (steps + kBlockSteps - 1) / kBlockSteps;
    std::vector<float> buf[2];
    std::thread io;
    std::exception_ptr io_error;
    std::vector<Impact> impacts;
    std::vector<std::uint64_t> imp_off(n + 1);
    std::vector<Impact> by_sensor;
    const double phi = 0.85, innov = std::sqrt(1 - phi * phi);
    try {
      for (std::uint64_t blk = 0; blk < num_blocks; ++blk) {
        const std::uint64_t t0 = blk * kBlockSteps, t1 = std::min(steps, t0 + kBlockSteps);
        // Incidents overlapping [t0, t1): those starting on this block's days or the day before.
        impacts.clear();
        const std::uint64_t d0 = t0 / kStepsPerDay, d1 = (t1 - 1) / kStepsPerDay;
        for (std::uint64_t d = d0 == 0 ? 0 : d0 - 1; d <= d1; ++d) day_impacts(opts.seed, d, n, off, nbr, impacts);
        std::fill(imp_off.begin(), imp_off.end(), 0);
        std::size_t kept = 0;
        for (const Impact& im : impacts)
          if (im.end > t0 && im.begin < t1) { impacts[kept++] = im; ++imp_off[im.sensor + 1]; }
        impacts.resize(kept);
        for (std::uint64_t i = 0; i < n; ++i) imp_off[i + 1] += imp_off[i];
        by_sensor.resize(kept);
        {
          std::vector<std::uint64_t> fill(imp_off.begin(), imp_off.end() - 1);
          for (const Impact& im : impacts) by_sensor[fill[im.sensor]++] = im;
        }

        std::vector<float>& out = buf[blk % 2];
        out.resize(static_cast<std::size_t>((t1 - t0) * n * nf));
        parallel_ranges(n, threads, [&](std::uint64_t b, std::uint64_t e) {
          for (std::uint64_t t = t0; t < t1; ++t) {
            const std::uint64_t day = t / kStepsPerDay;
            const int dow = static_cast<int>(day % 7);
            const bool weekend = dow >= 5;
            const std::uint64_t step_of_day = t % kStepsPerDay;
            const float tod = static_cast<float>(step_of_day) / kStepsPerDay;
            const double day_factor = 0.8 + 0.4 * Rng(seed_of(opts.seed, 4, day)).uniform();
            const float* am_col = shapes.am.data() + step_of_day;
            const float* pm_col = shapes.pm.data() + step_of_day;
            const float weekend_shape = shapes.weekend[step_of_day];
            float* row = out.data() + (t - t0) * n * nf;
            for (std::uint64_t i = b; i < e; ++i) {
              const SensorParams& p = par[i];
              double cong = weekend ? weekend_shape * p.pm_depth
                                    : p.am_depth * am_col[p.am_shape * kStepsPerDay] +
                                          p.pm_depth * pm_col[p.pm_shape * kStepsPerDay];
              cong = std::min(0.85, cong * day_factor);
              float inc = 0;
              for (std::uint64_t a = imp_off[i]; a < imp_off[i + 1]; ++a)
                if (t >= by_sensor[a].begin && t < by_sensor[a].end) inc = std::max(inc, by_sensor[a].severity);
              Rng& r = rng[i];
              noise[i] = static_cast<float>(phi * noise[i] + innov * p.noise_sd * fast_normal(r.next_u64()));
              double speed = p.free_flow * (1.0 - cong) * (1.0 - inc) + noise[i];
              speed = std::clamp(speed, 2.0, 85.0);
              // Missing readings: outages of 1-12 h (about one per 60 days) and isolated drops.
              const double u = r.uniform();
              if (outage[i] == 0 && u < 1.0 / (kStepsPerDay * 60.0)) outage[i] = 12 + static_cast<std::uint32_t>(r.below(133));
              bool missing = u > 0.999;
              if (outage[i] > 0) {
                missing = true;
                --outage[i];
              }
              float* cell = row + i * nf;
              cell[0] = missing ? 0.0f : static_cast<float>(speed);
              if (nf > 1) cell[1] = tod;
              if (nf > 2) cell[2] = static_cast<float>(dow) / 7.0f;
            }
          }
        });
        if (io.joinable()) io.join();
        if (io_error) std::rethrow_exception(io_error);
        const float* data = out.data();
        const std::uint64_t count = out.size();
        io = std::thread([&writer, &io_error, data, count] {
          try {
            writer.write(data, count);
          } catch (...) {
            io_error = std::current_exception();
          }
        });
        if (progress) progress(t1, steps);
      }
      if (io.joinable()) io.join();
      if (io_error) std::rethrow_exception(io_error);
    } catch (...) {
      if (io.joinable()) io.join();
      throw;
    }
    writer.finish();
    result.bytes += writer.bytes_total();

    if (fs::exists(dir, ec)) fs::remove(dir);  // an empty folder (checked above)
    fs::rename(tmp, dir);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  result.num_sensors = n;
  result.num_steps = steps;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return result;
}

}  // namespace flotilla
