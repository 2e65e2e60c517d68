#include "flotilla/trainer/forecast_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "flotilla/datasets/progress.h"

namespace flotilla {

namespace {

const torch::TensorOptions kLongCpu = torch::TensorOptions().dtype(torch::kLong);

std::string str(std::int64_t v) { return std::to_string(v); }

// Number of training input windows [0, num_train) whose steps [i, i + h) cover step t.
std::int64_t cover_count(std::int64_t t, std::int64_t h, std::int64_t num_train) {
  const std::int64_t hi = std::min(t, num_train - 1), lo = std::max<std::int64_t>(0, t - h + 1);
  return hi >= lo ? hi - lo + 1 : 0;
}

// Checks that every start of a CPU tensor lies in `w`.
void check_starts(const torch::Tensor& starts, const WindowRange& w) {
  if (starts.dim() != 1) throw std::invalid_argument("start indices must be a 1-d tensor");
  if (!starts.device().is_cpu() || starts.numel() == 0) return;
  const auto lo = starts.min().item<std::int64_t>(), hi = starts.max().item<std::int64_t>();
  if (lo < w.begin || hi >= w.end)
    throw std::out_of_range("window start indices [" + str(lo) + ", " + str(hi) + "] outside the held windows [" +
                            str(w.begin) + ", " + str(w.end) + ")");
}

// Steps starts[b] - offset + k (k in [first, first + h)), flattened [B * h], on `device`.
torch::Tensor step_index(const torch::Tensor& starts, std::int64_t offset, std::int64_t first, std::int64_t h,
                         const torch::Device& device) {
  const auto s = starts.to(device, torch::kLong);
  const auto k = torch::arange(first - offset, first - offset + h, kLongCpu.device(device));
  return (s.unsqueeze(1) + k.unsqueeze(0)).reshape({-1});
}

}  // namespace

std::int64_t python_round(double v) {
  double r = std::round(v);  // half away from zero
  if (std::fabs(r - v) == 0.5) r = 2.0 * std::round(v / 2.0);
  return static_cast<std::int64_t>(r);
}

WindowSplit dcrnn_split(std::int64_t num_steps, std::int64_t horizon, double train_fraction, double test_fraction) {
  if (horizon < 1) throw std::invalid_argument("horizon must be at least 1");
  if (num_steps < 2 * horizon)
    throw std::invalid_argument(str(num_steps) + " steps are fewer than one window of 2 x " + str(horizon));
  if (!(train_fraction >= 0) || !(test_fraction >= 0) || train_fraction + test_fraction > 1)
    throw std::invalid_argument("train and test fractions must be >= 0 and add up to at most 1");
  WindowSplit s;
  s.num_windows = num_steps - 2 * horizon + 1;
  s.num_test = python_round(static_cast<double>(s.num_windows) * test_fraction);
  s.num_train = python_round(static_cast<double>(s.num_windows) * train_fraction);
  s.num_valid = s.num_windows - s.num_train - s.num_test;
  if (s.num_valid < 0) throw std::invalid_argument("rounded train and test sets exceed the windows");
  return s;
}

static std::int64_t series_steps_of(const TrafficData& d) {
  return static_cast<std::int64_t>(d.series_steps ? d.series_steps : d.num_steps);  // 0: built by hand, whole series
}

double window_scaler_sum(const TrafficData& data, std::int64_t horizon, std::int64_t num_train_windows,
                         std::int64_t lo, std::int64_t hi, double centre, bool squared) {
  if (num_train_windows < 1) throw std::invalid_argument("no training windows to fit the scaler on");
  const auto n = static_cast<std::int64_t>(data.num_sensors), f = static_cast<std::int64_t>(data.num_features);
  const auto first = static_cast<std::int64_t>(data.first_step), held = static_cast<std::int64_t>(data.num_steps);
  hi = std::min(hi, num_train_windows + horizon - 1);  // steps beyond the last training input weigh 0
  if (lo < hi && (lo < first || hi > first + held))
    throw std::invalid_argument("scaler steps [" + str(lo) + ", " + str(hi) + ") not held (steps [" + str(first) +
                                ", " + str(first + held) + "))");
  double sum = 0;
  for (std::int64_t t = std::max<std::int64_t>(lo, 0); t < hi; ++t) {
    const float* p = data.signal.data() + (t - first) * n * f;
    double acc = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(p[i * f]) - centre;
      acc += squared ? d * d : d;
    }
    sum += static_cast<double>(cover_count(t, horizon, num_train_windows)) * acc;
  }
  return sum;
}

double window_scaler_count(const TrafficData& data, std::int64_t horizon, std::int64_t num_train_windows) {
  return static_cast<double>(num_train_windows) * static_cast<double>(horizon) * static_cast<double>(data.num_sensors);
}

Scaler scaler_from_sums(double sum, double squared_deviations, double count) {
  Scaler s;
  s.mean = sum / count;
  s.std = std::sqrt(squared_deviations / count);
  if (!(s.std > 0)) s.std = 1;
  return s;
}

Scaler fit_window_scaler(const TrafficData& data, std::int64_t horizon, std::int64_t num_train_windows) {
  if (num_train_windows < 1) throw std::invalid_argument("no training windows to fit the scaler on");
  const std::int64_t steps = num_train_windows + horizon - 1;
  if (steps > series_steps_of(data)) throw std::invalid_argument("training windows beyond the series");
  const double count = window_scaler_count(data, horizon, num_train_windows);
  const double mean = window_scaler_sum(data, horizon, num_train_windows, 0, steps, 0, false) / count;
  // Second pass around the mean (numerically stable).
  return scaler_from_sums(mean * count, window_scaler_sum(data, horizon, num_train_windows, 0, steps, mean, true), count);
}

ForecastDataset::ForecastDataset(const TrafficData& data, const ForecastOptions& opt) { build(data, opt, nullptr); }

ForecastDataset::ForecastDataset(TrafficData&& data, const ForecastOptions& opt) { build(data, opt, &data.signal); }

void ForecastDataset::build(const TrafficData& data, const ForecastOptions& opt, std::vector<float>* take) {
  horizon_ = opt.horizon;
  num_steps_ = series_steps_of(data);
  const auto first = static_cast<std::int64_t>(data.first_step), held = static_cast<std::int64_t>(data.num_steps);
  num_nodes_ = static_cast<std::int64_t>(data.num_sensors);
  const auto f = static_cast<std::int64_t>(data.num_features);
  if (f < 1 || data.signal.size() != data.num_steps * data.num_sensors * data.num_features)
    throw std::invalid_argument("traffic signal is not [T, N, F] with F >= 1");
  const std::int64_t channels = opt.signal_channels == 0 ? f : opt.signal_channels;
  if (channels < 1 || channels > f)
    throw std::invalid_argument("signal_channels " + str(opt.signal_channels) + " not in 0.." + str(f));
  split_ = dcrnn_split(num_steps_, horizon_, opt.train_fraction, opt.test_fraction);
  time_begin_ = opt.time_begin;
  time_end_ = opt.time_end == 0 ? first + held : opt.time_end;
  if (time_begin_ < first || time_begin_ > time_end_ || time_end_ > first + held)
    throw std::invalid_argument("time range [" + str(time_begin_) + ", " + str(time_end_) + ") not within the held steps " +
                                str(first) + ".." + str(first + held));
  scaler_ = opt.scaler ? *opt.scaler : fit_window_scaler(data, horizon_, split_.num_train);
  if (opt.steps_per_day < 1) throw std::invalid_argument("steps_per_day must be at least 1");

  time_from_timestamps_ = data.time_of_day.size() == data.num_steps && data.day_of_week.size() == data.num_steps &&
                          data.num_steps > 0;
  const std::int64_t spd = opt.steps_per_day;
  auto tod = [&](std::int64_t t) {  // t: global step
    return time_from_timestamps_ ? data.time_of_day[static_cast<std::size_t>(t - first)]
                                 : static_cast<float>(static_cast<double>(t % spd) / static_cast<double>(spd));
  };
  auto dow = [&](std::int64_t t) {
    return time_from_timestamps_ ? static_cast<std::int64_t>(data.day_of_week[static_cast<std::size_t>(t - first)])
                                 : (t / spd) % 7;
  };

  num_features_ = channels + (opt.time_of_day ? 1 : 0) + (opt.day_of_week ? 7 : 0);
  const std::int64_t len = time_end_ - time_begin_, fo = num_features_;
  // In place when the caller gave up the signal and the layout has the same width: row t,
  // sensor i is rewritten over itself (inputs read before outputs at the same offsets).
  const bool in_place = take != nullptr && opt.device.is_cpu() && fo == f && time_begin_ == first && len == held &&
                        !opt.day_of_week;
  torch::Tensor sig;
  if (in_place) {
    auto* owned = new std::vector<float>(std::move(*take));
    take->clear();
    sig = torch::from_blob(owned->data(), {len, num_nodes_, fo}, [owned](void*) { delete owned; },
                           torch::TensorOptions().dtype(torch::kFloat));
  } else {
    sig = torch::zeros({len, num_nodes_, fo}, torch::TensorOptions().dtype(torch::kFloat));
  }
  float* out = sig.data_ptr<float>();
  for (std::int64_t t = 0; t < len; ++t) {
    const std::int64_t gt = time_begin_ + t;
    const float* in = (in_place ? out : data.signal.data()) + (gt - first) * num_nodes_ * f;
    const float td = opt.time_of_day ? tod(gt) : 0.f;
    const std::int64_t dw = opt.day_of_week ? dow(gt) : 0;
    for (std::int64_t i = 0; i < num_nodes_; ++i) {
      float* o = out + (t * num_nodes_ + i) * fo;
      for (std::int64_t c = 0; c < channels; ++c) o[c] = in[i * f + c];
      std::int64_t c = channels;
      if (opt.time_of_day) o[c++] = td;
      for (; in_place && c < fo; ++c) o[c] = 0.f;  // zeros() gives these in the copying path
      if (opt.day_of_week) o[c + dw] = 1.f;
    }
  }
  signal_ = opt.device.is_cpu() ? sig : sig.to(opt.device);
}

WindowRange ForecastDataset::held_windows() const {
  const std::int64_t end = std::min(split_.num_windows, time_end_ - 2 * horizon_ + 1);
  return {time_begin_, std::max(time_begin_, end)};
}

torch::Tensor ForecastDataset::starts(const WindowRange& r) const { return torch::arange(r.begin, r.end, kLongCpu); }

std::int64_t ForecastDataset::bytes() const { return signal_.numel() * static_cast<std::int64_t>(signal_.element_size()); }

void normalise_speed_(torch::Tensor& x, const Scaler& s) {
  if (x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.is_contiguous() && x.dim() > 0 && x.size(-1) > 0) {
    // One pass over the interleaved speed channel: LibTorch's strided sub_ then div_ made two
    // and doubled the cost of an index batch. Used by both batchers, so they stay identical.
    const float mean = static_cast<float>(s.mean), std = static_cast<float>(s.std);
    const std::int64_t f = x.size(-1), rows = x.numel() / f;
    float* p = x.data_ptr<float>();
    for (std::int64_t i = 0; i < rows; ++i) p[i * f] = (p[i * f] - mean) / std;
    return;
  }
  auto speed = x.select(-1, 0);
  speed.sub_(static_cast<float>(s.mean)).div_(static_cast<float>(s.std));
}

IndexBatcher::IndexBatcher(const ForecastDataset& d)
    : signal_(d.signal()), horizon_(d.horizon()), time_begin_(d.time_begin()), windows_(d.held_windows()),
      scaler_(d.scaler()) {}

ForecastBatch IndexBatcher::batch(const torch::Tensor& starts) const {
  check_starts(starts, windows_);
  const std::int64_t b = starts.numel(), h = horizon_, n = signal_.size(1), f = signal_.size(2);
  const auto idx = step_index(starts, time_begin_, 0, h, signal_.device());
  ForecastBatch out;
  if (signal_.device().is_cpu() && signal_.scalar_type() == torch::kFloat && signal_.is_contiguous() && f > 0) {
    // One pass over the batch: each of the b*h rows of x is copied and its speed channel
    // normalised while the row is in L1 (the same arithmetic as normalise_speed_, so equal
    // to materialized batches bit for bit); y is the speed channel of rows idx + h. With
    // index_select plus a strided normalise and a strided channel gather, a batch cost
    // 2.5x the materialized one on the METR-LA week.
    out.x = torch::empty({b, h, n, f}, signal_.options());
    out.y = torch::empty({b, h, n, 1}, signal_.options());
    const auto rows = idx.contiguous();
    const std::int64_t* t = rows.data_ptr<std::int64_t>();
    const float* sig = signal_.data_ptr<float>();
    float* x = out.x.data_ptr<float>();
    float* y = out.y.data_ptr<float>();
    const float mean = static_cast<float>(scaler_.mean), std = static_cast<float>(scaler_.std);
    const std::int64_t row = n * f;
    for (std::int64_t r = 0; r < b * h; ++r) {
      float* dx = x + r * row;
      std::memcpy(dx, sig + t[r] * row, static_cast<std::size_t>(row) * sizeof(float));
      for (std::int64_t j = 0; j < n; ++j) dx[j * f] = (dx[j * f] - mean) / std;
      const float* src = sig + (t[r] + h) * row;
      float* dy = y + r * n;
      for (std::int64_t j = 0; j < n; ++j) dy[j] = src[j * f];
    }
  } else {  // other devices: the same with LibTorch ops
    out.x = signal_.index_select(0, idx).view({b, h, n, f});
    normalise_speed_(out.x, scaler_);
    out.y = signal_.select(2, 0).index_select(0, idx + h).view({b, h, n, 1});
  }
  return out;
}

std::int64_t IndexBatcher::bytes() const { return 0; }  // the signal belongs to the dataset

MaterializedBatcher::MaterializedBatcher(const ForecastDataset& d) : windows_(d.held_windows()) {
  const auto& sig = d.signal();
  const std::int64_t w = windows_.size(), h = d.horizon(), n = sig.size(1), f = sig.size(2);
  // Every window stored: fail with the figures before the allocator does (or, with
  // overcommit, before the OOM killer does halfway through the copy).
  const double need = static_cast<double>(w) * static_cast<double>(h) * static_cast<double>(n) *
                      static_cast<double>(f + 1) * static_cast<double>(sig.element_size());
  const std::int64_t avail = sig.device().is_cpu() ? mem_available_bytes() : -1;
  if (avail >= 0 && need > static_cast<double>(avail))
    throw std::runtime_error("materialized batching stores all " + str(w) + " windows: x [" + str(w) + ", " + str(h) +
                             ", " + str(n) + ", " + str(f) + "] + y [" + str(w) + ", " + str(h) + ", " + str(n) +
                             ", 1] float32 = " + gib_string(need) + ", more than the " + gib_string(static_cast<double>(avail)) +
                             " of memory available; use --batching index (the signal once: " +
                             gib_string(static_cast<double>(d.bytes())) + ")");
  const auto starts = torch::arange(windows_.begin, windows_.end, kLongCpu);
  const auto idx = step_index(starts, d.time_begin(), 0, h, sig.device());
  x_ = sig.index_select(0, idx).view({w, h, n, f});
  normalise_speed_(x_, d.scaler());
  y_ = sig.select(2, 0).index_select(0, idx + h).view({w, h, n, 1});
}

ForecastBatch MaterializedBatcher::batch(const torch::Tensor& starts) const {
  check_starts(starts, windows_);
  const auto rows = starts.to(x_.device(), torch::kLong) - windows_.begin;
  return {x_.index_select(0, rows), y_.index_select(0, rows)};
}

std::int64_t MaterializedBatcher::bytes() const {
  return (x_.numel() + y_.numel()) * static_cast<std::int64_t>(x_.element_size());
}

std::unique_ptr<ForecastBatcher> make_forecast_batcher(const ForecastDataset& data, const std::string& kind) {
  if (kind == "index") return std::make_unique<IndexBatcher>(data);
  if (kind == "materialized") return std::make_unique<MaterializedBatcher>(data);
  throw std::invalid_argument("unknown batching '" + kind + "' (expected index or materialized)");
}

// ---- sharding -------------------------------------------------------------------------------

std::vector<VertexId> window_ids(const WindowRange& r) {
  if (r.begin < 0 || r.end < r.begin || r.end > static_cast<std::int64_t>(kInvalidVertex))
    throw std::invalid_argument("bad window range");
  std::vector<VertexId> v(static_cast<std::size_t>(r.size()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<VertexId>(r.begin + static_cast<std::int64_t>(i));
  return v;
}

torch::Tensor to_starts(const std::vector<VertexId>& ids) {
  auto t = torch::empty({static_cast<std::int64_t>(ids.size())}, kLongCpu);
  auto* p = t.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < ids.size(); ++i) p[i] = ids[i];
  return t;
}

EpochSchedule window_schedule(const WindowRange& windows, std::uint64_t global_batch_size, std::uint64_t seed,
                              bool shuffle) {
  return EpochSchedule(window_ids(windows), global_batch_size, seed, shuffle);
}

torch::Tensor rank_starts(const EpochSchedule& schedule, std::uint32_t epoch, std::uint64_t batch, std::uint32_t rank,
                          std::uint32_t num_ranks) {
  return to_starts(schedule.batch(epoch, batch, rank, num_ranks));
}

TimeShard time_shard(const WindowRange& windows, std::int64_t horizon, std::uint32_t rank, std::uint32_t num_ranks) {
  if (num_ranks == 0 || rank >= num_ranks) throw std::invalid_argument("rank out of range");
  const std::int64_t n = windows.size();
  TimeShard s;
  s.windows.begin = windows.begin + n * rank / num_ranks;
  s.windows.end = windows.begin + n * (rank + 1) / num_ranks;
  s.time_begin = s.windows.begin;
  s.time_end = s.windows.size() > 0 ? s.windows.end + 2 * horizon - 1 : s.windows.begin;
  return s;
}

EpochSchedule time_shard_schedule(const WindowRange& windows, std::uint32_t num_ranks, std::uint64_t global_batch_size,
                                  std::uint64_t seed, bool shuffle) {
  return EpochSchedule::local(window_ids(windows), num_ranks, global_batch_size, seed, shuffle);
}

// ---- metrics ------------------------------------------------------------------------------------

namespace {

void accumulate(double* slot, const torch::Tensor& pred, const torch::Tensor& truth) {
  const auto mask = truth.ne(0);
  const auto zero = torch::zeros({}, pred.options());
  const auto err = (pred - truth).abs();
  auto masked_sum = [&](const torch::Tensor& v) {
    return torch::nan_to_num(torch::where(mask, v, zero), 0.0).sum().item<double>();
  };
  slot[0] += masked_sum(err);
  slot[1] += masked_sum(err * err);
  slot[2] += masked_sum(err / truth.abs());
  slot[3] += static_cast<double>(mask.sum().item<std::int64_t>());
}

}  // namespace

void ForecastMetrics::add(const torch::Tensor& pred, const torch::Tensor& truth) {
  if (pred.sizes() != truth.sizes()) throw std::invalid_argument("prediction and truth shapes differ");
  if (pred.dim() != 3 && !(pred.dim() == 4 && pred.size(3) == 1))
    throw std::invalid_argument("expected [B, h, N] or [B, h, N, 1]");
  const auto p = pred.detach().to(torch::kCPU, torch::kDouble).reshape({pred.size(0), pred.size(1), -1});
  const auto t = truth.detach().to(torch::kCPU, torch::kDouble).reshape({pred.size(0), pred.size(1), -1});
  const std::int64_t h = p.size(1);
  for (std::size_t i = 0; i < kHorizons.size(); ++i)
    if (kHorizons[i] <= h) accumulate(sums.data() + 4 * i, p.select(1, kHorizons[i] - 1), t.select(1, kHorizons[i] - 1));
  accumulate(sums.data() + 4 * (kSlots - 1), p, t);
}

void ForecastMetrics::merge(const ForecastMetrics& o) {
  for (std::size_t i = 0; i < sums.size(); ++i) sums[i] += o.sums[i];
}

double ForecastMetrics::mae(int slot) const {
  const double c = count(slot);
  return c > 0 ? sums[static_cast<std::size_t>(slot * 4)] / c : 0;
}
double ForecastMetrics::rmse(int slot) const {
  const double c = count(slot);
  return c > 0 ? std::sqrt(sums[static_cast<std::size_t>(slot * 4 + 1)] / c) : 0;
}
double ForecastMetrics::mape(int slot) const {
  const double c = count(slot);
  return c > 0 ? sums[static_cast<std::size_t>(slot * 4 + 2)] / c : 0;
}

torch::Tensor persistence_forecast(const torch::Tensor& x, const Scaler& s) {
  if (x.dim() != 4) throw std::invalid_argument("expected x [B, h, N, F]");
  const std::int64_t b = x.size(0), h = x.size(1), n = x.size(2);
  const auto last = x.select(1, h - 1).select(-1, 0).mul(static_cast<float>(s.std)).add(static_cast<float>(s.mean));
  return last.unsqueeze(1).expand({b, h, n}).unsqueeze(-1).contiguous();
}

}  // namespace flotilla
