// Forecasting data (issue #6): DCRNN windows and split, the window-weighted scaler, time
// features, index-batching against the materialised baseline, start-index and time
// sharding, and DCRNN's masked metrics. Data: the embedded METR-LA week (T = 2016, N = 207).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "flotilla/datasets/npy.h"
#include "flotilla/datasets/traffic.h"
#include "flotilla/trainer/forecast_data.h"
#include "test_paths.h"

using namespace flotilla;

namespace {

torch::Tensor i64(const std::vector<std::int64_t>& v) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kLong));
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.dtype() == b.dtype() && torch::equal(a, b);
}

// A TrafficData with signal[t, n, 0] = f(t, n), one channel, no timestamps.
template <typename F>
TrafficData synthetic(std::uint64_t steps, std::uint64_t sensors, F f) {
  TrafficData d;
  d.num_steps = steps;
  d.num_sensors = sensors;
  d.num_features = 1;
  d.signal.resize(steps * sensors);
  for (std::uint64_t t = 0; t < steps; ++t)
    for (std::uint64_t n = 0; n < sensors; ++n) d.signal[t * sensors + n] = f(t, n);
  return d;
}

class ForecastData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(1);
    if (!data_) data_ = new TrafficData(read_traffic(std::string(FLOTILLA_TEST_DATA) + "/../../datasets/embedded/metr-la-week"));
  }
  static const TrafficData& data() { return *data_; }
  static TrafficData* data_;
};
TrafficData* ForecastData::data_ = nullptr;

}  // namespace

// ---- windows and split --------------------------------------------------------------------

TEST(ForecastDataSplit, PythonRoundIsHalfToEven) {
  EXPECT_EQ(python_round(0.5), 0);
  EXPECT_EQ(python_round(1.5), 2);
  EXPECT_EQ(python_round(2.5), 2);
  EXPECT_EQ(python_round(3.5), 4);
  EXPECT_EQ(python_round(2.4999), 2);
  EXPECT_EQ(python_round(2.5001), 3);
  EXPECT_EQ(python_round(7.0), 7);
}

TEST(ForecastDataSplit, DcrnnFormula) {
  for (std::int64_t T : {24, 25, 40, 100, 2016, 34272, 52116}) {
    const auto s = dcrnn_split(T, 12);
    const std::int64_t w = T - 23;  // range(11, T - 12)
    EXPECT_EQ(s.num_windows, w);
    EXPECT_EQ(s.num_test, python_round(w * 0.2));
    EXPECT_EQ(s.num_train, python_round(w * 0.7));
    EXPECT_EQ(s.num_valid, w - s.num_train - s.num_test);
  }
  // DCRNN's published METR-LA / PEMS-BAY sample counts (x_train / x_val / x_test).
  const auto la = dcrnn_split(34272, 12);
  EXPECT_EQ(la.num_train, 23974);
  EXPECT_EQ(la.num_valid, 3425);
  EXPECT_EQ(la.num_test, 6850);
  const auto bay = dcrnn_split(52116, 12);
  EXPECT_EQ(bay.num_train, 36465);
  EXPECT_EQ(bay.num_valid, 5209);
  EXPECT_EQ(bay.num_test, 10419);
  EXPECT_THROW(dcrnn_split(23, 12), std::invalid_argument);
}

TEST_F(ForecastData, MetrLaWeekWindowsAndSplit) {
  ASSERT_EQ(data().num_steps, 2016u);
  ASSERT_EQ(data().num_sensors, 207u);
  const ForecastDataset ds(data());
  const auto& s = ds.split();
  EXPECT_EQ(s.num_windows, 1993);
  EXPECT_EQ(s.num_test, 399);   // round(398.6)
  EXPECT_EQ(s.num_train, 1395);  // round(1395.1)
  EXPECT_EQ(s.num_valid, 199);
  const auto tr = ds.train_starts(), va = ds.valid_starts(), te = ds.test_starts();
  EXPECT_EQ(tr.numel(), 1395);
  EXPECT_EQ(va.numel(), 199);
  EXPECT_EQ(te.numel(), 399);
  // Disjoint, ordered, covering [0, W) in order.
  const auto all = torch::cat({tr, va, te});
  EXPECT_TRUE(same(all, torch::arange(0, 1993, torch::kLong)));
  EXPECT_EQ(ds.num_features(), 2);  // speed + time of day
  EXPECT_EQ(ds.signal().sizes(), (std::vector<std::int64_t>{2016, 207, 2}));
  EXPECT_EQ(ds.held_windows().begin, 0);
  EXPECT_EQ(ds.held_windows().end, 1993);
}

TEST_F(ForecastData, WindowContents) {
  const ForecastDataset ds(data());
  const IndexBatcher ib(ds);
  const auto sc = ds.scaler();
  for (std::int64_t w : {0, 1, 700, 1992}) {
    const auto b = ib.batch(i64({w}));
    ASSERT_EQ(b.x.sizes(), (std::vector<std::int64_t>{1, 12, 207, 2}));
    ASSERT_EQ(b.y.sizes(), (std::vector<std::int64_t>{1, 12, 207, 1}));
    const auto x = b.x.accessor<float, 4>();
    const auto y = b.y.accessor<float, 4>();
    for (std::int64_t k = 0; k < 12; ++k)
      for (std::int64_t n : {0, 100, 206}) {
        const float raw_x = data().at(static_cast<std::uint64_t>(w + k), static_cast<std::uint64_t>(n));
        const float raw_y = data().at(static_cast<std::uint64_t>(w + 12 + k), static_cast<std::uint64_t>(n));
        EXPECT_EQ(x[0][k][n][0], (raw_x - static_cast<float>(sc.mean)) / static_cast<float>(sc.std));
        EXPECT_EQ(x[0][k][n][1], data().time_of_day[static_cast<std::size_t>(w + k)]);
        EXPECT_EQ(y[0][k][n][0], raw_y);  // raw, exact
      }
  }
}

// ---- normalisation ------------------------------------------------------------------------

TEST_F(ForecastData, ScalerMatchesBruteForceOverTrainingWindows) {
  const ForecastDataset ds(data());
  const std::int64_t h = 12, n = 207, wt = ds.split().num_train;
  double sum = 0, cnt = 0;
  for (std::int64_t w = 0; w < wt; ++w)
    for (std::int64_t k = 0; k < h; ++k)
      for (std::int64_t i = 0; i < n; ++i) {
        sum += data().at(static_cast<std::uint64_t>(w + k), static_cast<std::uint64_t>(i));
        cnt += 1;
      }
  const double mean = sum / cnt;
  double sq = 0;
  for (std::int64_t w = 0; w < wt; ++w)
    for (std::int64_t k = 0; k < h; ++k)
      for (std::int64_t i = 0; i < n; ++i) {
        const double d = data().at(static_cast<std::uint64_t>(w + k), static_cast<std::uint64_t>(i)) - mean;
        sq += d * d;
      }
  const double std = std::sqrt(sq / cnt);  // ddof = 0
  EXPECT_NEAR(ds.scaler().mean, mean, 1e-6 * std::fabs(mean));
  EXPECT_NEAR(ds.scaler().std, std, 1e-6 * std);
  // The same from the materialised training windows (x de-normalised), and zeros included.
  const MaterializedBatcher mb(ds);
  const auto x = mb.batch(ds.train_starts()).x.select(-1, 0).to(torch::kDouble) * ds.scaler().std + ds.scaler().mean;
  EXPECT_NEAR(x.mean().item<double>(), mean, 1e-5 * mean);
  EXPECT_NEAR((x - x.mean()).square().mean().sqrt().item<double>(), std, 1e-5 * std);
  EXPECT_GT(mean, 40);
  EXPECT_GT(std, 10);
  std::printf("METR-LA week scaler: mean %.6f std %.6f\n", ds.scaler().mean, ds.scaler().std);
}

TEST(ForecastDataScaler, WeightsOnATinySeries) {
  // T = 10, h = 2: W = 7, train = round(4.9) = 5 windows, steps 0..5 with weights 1,2,2,2,2,1.
  const auto d = synthetic(10, 1, [](std::uint64_t t, std::uint64_t) { return static_cast<float>(t); });
  const auto s = dcrnn_split(10, 2);
  ASSERT_EQ(s.num_train, 5);
  const Scaler sc = fit_window_scaler(d, 2, 5);
  const double w[] = {1, 2, 2, 2, 2, 1};
  double m = 0;
  for (int t = 0; t < 6; ++t) m += w[t] * t;
  m /= 10;
  double v = 0;
  for (int t = 0; t < 6; ++t) v += w[t] * (t - m) * (t - m);
  EXPECT_DOUBLE_EQ(sc.mean, m);
  EXPECT_NEAR(sc.std, std::sqrt(v / 10), 1e-12);
  // A constant series: std 0 is replaced by 1.
  const auto c = synthetic(40, 3, [](std::uint64_t, std::uint64_t) { return 55.f; });
  const Scaler cs = fit_window_scaler(c, 12, 12);
  EXPECT_DOUBLE_EQ(cs.mean, 55);
  EXPECT_DOUBLE_EQ(cs.std, 1);
}

// ---- time features ------------------------------------------------------------------------

TEST_F(ForecastData, TimeOfDayFromTimestamps) {
  ASSERT_EQ(data().timestamps.size(), 2016u);
  EXPECT_EQ(data().timestamps[0], "2012-03-01 00:00:00");
  const ForecastDataset ds(data());
  EXPECT_TRUE(ds.time_from_timestamps());
  const auto sig = ds.signal().accessor<float, 3>();
  for (std::int64_t t = 0; t < 2016; ++t) {
    // Gapless 5-minute steps from midnight: (t mod 288) * 300 s / 86400 s.
    const double expect = static_cast<double>((t % 288) * 300) / 86400.0;
    EXPECT_NEAR(sig[t][0][1], expect, 1e-6) << data().timestamps[static_cast<std::size_t>(t)];
    EXPECT_EQ(sig[t][5][1], sig[t][0][1]);
  }
  EXPECT_NEAR(sig[1][0][1], 300.0 / 86400, 1e-7);     // 00:05
  EXPECT_NEAR(sig[287][0][1], 86100.0 / 86400, 1e-7);  // 23:55
  EXPECT_EQ(sig[288][0][1], 0.f);                      // next midnight
}

TEST_F(ForecastData, DayOfWeekOneHot) {
  ForecastOptions o;
  o.day_of_week = true;
  const ForecastDataset ds(data(), o);
  EXPECT_EQ(ds.num_features(), 9);  // speed, time of day, 7 days
  const auto sig = ds.signal();
  // 2012-03-01 was a Thursday (3 with Monday = 0); one hot per step.
  EXPECT_TRUE(same(sig.narrow(2, 2, 7).sum(2), torch::ones({2016, 207})));
  EXPECT_EQ(sig[0][0][2 + 3].item<float>(), 1.f);
  EXPECT_EQ(sig[288][0][2 + 4].item<float>(), 1.f);   // Friday
  EXPECT_EQ(sig[2015][0][2 + 2].item<float>(), 1.f);  // Wednesday 2012-03-07
  ForecastOptions none;
  none.time_of_day = false;
  EXPECT_EQ(ForecastDataset(data(), none).num_features(), 1);
}

TEST(ForecastDataTime, FallbackWithoutTimestamps) {
  // signal.npy has no timestamps: step t at (t mod 288) / 288, t = 0 a Monday.
  const auto d = synthetic(700, 2, [](std::uint64_t t, std::uint64_t n) { return static_cast<float>(t + n); });
  ForecastOptions o;
  o.day_of_week = true;
  const ForecastDataset ds(d, o);
  EXPECT_FALSE(ds.time_from_timestamps());
  const auto sig = ds.signal().accessor<float, 3>();
  for (std::int64_t t : {0, 1, 287, 288, 600}) {
    EXPECT_EQ(sig[t][1][1], static_cast<float>(static_cast<double>(t % 288) / 288.0));
    EXPECT_EQ(sig[t][1][2 + (t / 288) % 7], 1.f);
  }
}

// ---- index-batching vs materialised -----------------------------------------------------

TEST_F(ForecastData, IndexAndMaterializedBatchesAreIdentical) {
  const ForecastDataset ds(data());
  const auto ib = make_forecast_batcher(ds, "index");
  const auto mb = make_forecast_batcher(ds, "materialized");
  EXPECT_EQ(ib->name(), "index");
  EXPECT_EQ(mb->name(), "materialized");
  torch::manual_seed(7);
  std::vector<torch::Tensor> sets = {
      i64({0}), i64({1992}), i64({0, 1992}), i64({1992, 0, 5, 5, 1394, 1395, 1593, 1594}),
      ds.train_starts(), ds.valid_starts(), ds.test_starts(), torch::randint(0, 1993, {64}, torch::kLong),
      torch::randperm(1993, torch::kLong), i64({})};
  for (const auto& s : sets) {
    const auto a = ib->batch(s), b = mb->batch(s);
    EXPECT_TRUE(same(a.x, b.x)) << s.numel();
    EXPECT_TRUE(same(a.y, b.y)) << s.numel();
    EXPECT_EQ(a.x.size(0), s.numel());
    EXPECT_TRUE(a.x.is_contiguous());
    EXPECT_TRUE(a.y.is_contiguous());
  }
  // Materialised: every window stored, x with F' channels and y with 1: 1993 * 12 * 207 * 3 floats.
  EXPECT_EQ(mb->bytes(), 1993LL * 12 * 207 * 3 * 4);
  EXPECT_EQ(ds.bytes(), 2016LL * 207 * 2 * 4);
  EXPECT_EQ(ib->bytes(), 0);
  // Starts outside the windows are errors.
  EXPECT_THROW(ib->batch(i64({1993})), std::out_of_range);
  EXPECT_THROW(mb->batch(i64({-1})), std::out_of_range);
  EXPECT_THROW(make_forecast_batcher(ds, "dense"), std::invalid_argument);
}

TEST_F(ForecastData, AllSignalChannelsAndDayOfWeekParity) {
  // Two signal channels (speed + a raw extra one, not normalised) and the one-hot.
  TrafficData d = data();
  d.num_features = 2;
  d.signal.resize(d.num_steps * d.num_sensors * 2);
  for (std::uint64_t i = 0; i < data().signal.size(); ++i) {
    d.signal[2 * i] = data().signal[i];
    d.signal[2 * i + 1] = static_cast<float>(i % 13);
  }
  ForecastOptions o;
  o.signal_channels = 0;
  o.day_of_week = true;
  const ForecastDataset ds(d, o);
  EXPECT_EQ(ds.num_features(), 10);
  const ForecastDataset ref(data());
  EXPECT_EQ(ds.scaler().mean, ref.scaler().mean);
  const auto s = i64({0, 3, 1992, 400});
  const auto a = IndexBatcher(ds).batch(s), b = MaterializedBatcher(ds).batch(s);
  EXPECT_TRUE(same(a.x, b.x));
  EXPECT_TRUE(same(a.y, b.y));
  EXPECT_TRUE(same(a.x.select(-1, 0), IndexBatcher(ref).batch(s).x.select(-1, 0)));
  EXPECT_EQ(a.x[0][0][0][1].item<float>(), 0.f);  // extra channel raw: i = 0 -> 0
  EXPECT_EQ(a.x[0][0][1][1].item<float>(), 1.f);  // step 0, sensor 1: i = 1 -> 1 % 13
}

// ---- sharding -----------------------------------------------------------------------------

TEST_F(ForecastData, DistributedIndexBatchingSchedule) {
  const ForecastDataset ds(data());
  const auto train = ds.split().train();
  for (std::uint32_t p = 1; p <= 4; ++p) {
    const auto sched = window_schedule(train, 64, 42);
    EXPECT_EQ(sched.num_batches(), (1395u + 63) / 64);
    for (std::uint32_t epoch = 0; epoch < 2; ++epoch) {
      std::vector<std::int64_t> seen;
      for (std::uint64_t b = 0; b < sched.num_batches(); ++b) {
        std::int64_t global = 0;
        for (std::uint32_t r = 0; r < p; ++r) {
          const auto s = rank_starts(sched, epoch, b, r, p);
          global += s.numel();
          for (std::int64_t i = 0; i < s.numel(); ++i) seen.push_back(s[i].item<std::int64_t>());
        }
        EXPECT_EQ(global, static_cast<std::int64_t>(sched.global_batch_size(b)));
      }
      std::vector<std::int64_t> sorted = seen;
      std::sort(sorted.begin(), sorted.end());
      ASSERT_EQ(sorted.size(), 1395u);
      for (std::int64_t i = 0; i < 1395; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
      EXPECT_NE(seen, sorted);  // shuffled
    }
  }
  // Same (seed, epoch): same global batch whatever the rank count.
  const auto s1 = window_schedule(train, 64, 42), s4 = window_schedule(train, 64, 42);
  std::vector<torch::Tensor> parts;
  for (std::uint32_t r = 0; r < 4; ++r) parts.push_back(rank_starts(s4, 3, 5, r, 4));
  EXPECT_TRUE(same(torch::cat(parts), rank_starts(s1, 3, 5, 0, 1)));
  EXPECT_FALSE(same(rank_starts(s1, 3, 5, 0, 1), rank_starts(s1, 4, 5, 0, 1)));
}

TEST_F(ForecastData, ShardTime) {
  const ForecastDataset full(data());
  const auto train = full.split().train();
  const IndexBatcher full_ib(full);
  torch::manual_seed(3);
  for (std::uint32_t p = 1; p <= 4; ++p) {
    std::int64_t next = train.begin;
    const auto sched = time_shard_schedule(train, p, 32, 9);
    for (std::uint32_t r = 0; r < p; ++r) {
      const TimeShard sh = time_shard(train, 12, r, p);
      // Contiguous blocks in rank order whose union is the training set.
      EXPECT_EQ(sh.windows.begin, next);
      next = sh.windows.end;
      // The time range is exactly the steps of its windows.
      EXPECT_EQ(sh.time_begin, sh.windows.begin);
      EXPECT_EQ(sh.time_end, sh.windows.end - 1 + 24);
      EXPECT_LE(sh.time_end, 2016);
      ForecastOptions o;
      o.time_begin = sh.time_begin;
      o.time_end = sh.time_end;
      const ForecastDataset part(data(), o);
      EXPECT_EQ(part.signal().size(0), sh.time_end - sh.time_begin);
      EXPECT_EQ(part.held_windows().begin, sh.windows.begin);
      EXPECT_EQ(part.held_windows().end, sh.windows.end);
      EXPECT_EQ(part.scaler().mean, full.scaler().mean);
      EXPECT_EQ(part.scaler().std, full.scaler().std);
      EXPECT_EQ(part.split().num_train, full.split().num_train);
      const IndexBatcher ib(part);
      const MaterializedBatcher mb(part);
      // Its whole block, first and last windows, and its schedule's batches.
      std::vector<torch::Tensor> sets = {part.starts(sh.windows), i64({sh.windows.begin, sh.windows.end - 1}),
                                         torch::randint(sh.windows.begin, sh.windows.end, {16}, torch::kLong)};
      std::set<std::int64_t> drawn;
      for (std::uint64_t b = 0; b < sched.num_batches(); ++b) {
        const auto s = rank_starts(sched, 1, b, r, p);
        for (std::int64_t i = 0; i < s.numel(); ++i) drawn.insert(s[i].item<std::int64_t>());
        sets.push_back(s);
      }
      EXPECT_EQ(static_cast<std::int64_t>(drawn.size()), sh.windows.size());
      EXPECT_EQ(*drawn.begin(), sh.windows.begin);
      EXPECT_EQ(*drawn.rbegin(), sh.windows.end - 1);
      for (const auto& s : sets) {
        const auto a = ib.batch(s), b = full_ib.batch(s), c = mb.batch(s);
        EXPECT_TRUE(same(a.x, b.x));
        EXPECT_TRUE(same(a.y, b.y));
        EXPECT_TRUE(same(c.x, b.x));
        EXPECT_TRUE(same(c.y, b.y));
      }
      // Windows outside its block need steps it does not hold.
      if (sh.windows.end < train.end) {
        EXPECT_THROW(ib.batch(i64({sh.windows.end})), std::out_of_range);
      }
      if (sh.windows.begin > 0) {
        EXPECT_THROW(ib.batch(i64({sh.windows.begin - 1})), std::out_of_range);
      }
    }
    EXPECT_EQ(next, train.end);
  }
  // More ranks than windows: empty blocks hold nothing.
  const TimeShard e = time_shard({0, 2}, 12, 0, 3);
  EXPECT_EQ(e.windows.size(), 0);
  EXPECT_EQ(e.time_end, e.time_begin);
}

// --shard-time as the trainer does it: each rank reads only its steps (read_traffic with a
// step range: pread of signal.npy rows, or the speed.csv trimmed), the scaler comes from
// partial sums over disjoint step ranges, and its batches equal those of the whole series.
TEST_F(ForecastData, ShardTimeFromPartialReads) {
  const std::string csv_dir = std::string(FLOTILLA_TEST_DATA) + "/../../datasets/embedded/metr-la-week";
  // The same series as signal.npy [T, N, 2] (speed and a second channel) + sensors.csv.
  const std::string npy_dir = flotilla::test::scratch_dir() + "/npy";
  std::filesystem::create_directories(npy_dir);
  const auto T = data().num_steps, N = data().num_sensors;
  std::vector<float> two(T * N * 2);
  for (std::uint64_t i = 0; i < T * N; ++i) {
    two[2 * i] = data().signal[i];
    two[2 * i + 1] = static_cast<float>(i % 97);
  }
  write_npy(npy_dir + "/signal.npy", {T, N, 2}, two);
  for (const char* f : {"/sensors.csv", "/adj.csv"})
    std::filesystem::copy_file(csv_dir + f, npy_dir + f, std::filesystem::copy_options::overwrite_existing);
  for (const std::string& dir : {csv_dir, npy_dir}) {
    const ForecastDataset full(read_traffic(dir));
    const IndexBatcher full_ib(full);
    const auto ranges = {full.split().train(), full.split().valid(), full.split().test()};
    for (std::uint32_t p : {1u, 2u, 3u, 5u}) {
      double sum = 0, sq = 0;
      std::vector<TrafficData> train_parts;
      for (std::uint32_t r = 0; r < p; ++r) {
        const TimeShard sh = time_shard(full.split().train(), 12, r, p);
        TrafficReadOptions ro;
        ro.first_step = static_cast<std::uint64_t>(sh.time_begin);
        ro.num_steps = static_cast<std::uint64_t>(sh.time_end - sh.time_begin);
        ro.graph = false;
        train_parts.push_back(read_traffic(dir, ro));
        const TrafficData& part = train_parts.back();
        ASSERT_EQ(part.first_step, ro.first_step);
        ASSERT_EQ(part.num_steps, ro.num_steps);
        ASSERT_EQ(part.series_steps, T);
        EXPECT_EQ(part.graph.num_entries(), 0u);
        sum += window_scaler_sum(part, 12, full.split().num_train, sh.windows.begin,
                                 r + 1 < p ? sh.windows.end : INT64_MAX, 0, false);
      }
      const double count = window_scaler_count(train_parts[0], 12, full.split().num_train);
      for (std::uint32_t r = 0; r < p; ++r) {
        const TimeShard sh = time_shard(full.split().train(), 12, r, p);
        sq += window_scaler_sum(train_parts[r], 12, full.split().num_train, sh.windows.begin,
                                r + 1 < p ? sh.windows.end : INT64_MAX, sum / count, true);
      }
      const Scaler sc = scaler_from_sums(sum, sq, count);
      EXPECT_NEAR(sc.mean, full.scaler().mean, 1e-12 * full.scaler().mean) << dir << " P=" << p;
      EXPECT_NEAR(sc.std, full.scaler().std, 1e-12 * full.scaler().std) << dir << " P=" << p;
      for (const WindowRange& range : ranges) {
        for (std::uint32_t r = 0; r < p; ++r) {
          const TimeShard sh = time_shard(range, 12, r, p);
          if (sh.windows.size() == 0) continue;
          TrafficReadOptions ro;
          ro.first_step = static_cast<std::uint64_t>(sh.time_begin);
          ro.num_steps = static_cast<std::uint64_t>(sh.time_end - sh.time_begin);
          ForecastOptions o;
          o.time_begin = sh.time_begin;
          o.time_end = sh.time_end;
          o.scaler = full.scaler();  // bit-identical normalisation for the comparison below
          const ForecastDataset part(read_traffic(dir, ro), o);
          EXPECT_EQ(part.held_windows().begin, sh.windows.begin);
          EXPECT_EQ(part.held_windows().end, sh.windows.end);
          const IndexBatcher ib(part);
          const auto s = part.starts(sh.windows);
          const auto a = ib.batch(s), b = full_ib.batch(s);
          EXPECT_TRUE(same(a.x, b.x)) << dir << " P=" << p << " r=" << r;
          EXPECT_TRUE(same(a.y, b.y)) << dir << " P=" << p << " r=" << r;
        }
      }
    }
    // A step range beyond the series, and a dataset whose range is not held, are errors.
    TrafficReadOptions beyond;
    beyond.first_step = T + 1;
    EXPECT_THROW(read_traffic(dir, beyond), InputError);
    TrafficReadOptions some;
    some.first_step = 100;
    some.num_steps = 50;
    ForecastOptions outside;
    outside.time_begin = 90;
    outside.time_end = 140;
    EXPECT_THROW(ForecastDataset(read_traffic(dir, some), outside), std::invalid_argument);
    // Without a given scaler, a partial series cannot fit one (its training steps are not all held).
    EXPECT_THROW(ForecastDataset(read_traffic(dir, some)), std::invalid_argument);
  }
}

// ---- metrics ------------------------------------------------------------------------------

TEST(ForecastDataMetrics, HandComputedWithZerosMasked) {
  // B = 1, h = 12, N = 2. truth 0 = missing reading: masked out of every metric.
  auto truth = torch::full({1, 12, 2, 1}, 50.f);
  auto pred = torch::full({1, 12, 2, 1}, 50.f);
  // Horizon 3 (index 2): errors 5 (truth 50) and a masked sensor (truth 0, prediction 40).
  pred[0][2][0][0] = 55.f;
  truth[0][2][1][0] = 0.f;
  pred[0][2][1][0] = 40.f;
  // Horizon 6 (index 5): errors 2 and 4 on truths 40 and 20.
  truth[0][5][0][0] = 40.f;
  pred[0][5][0][0] = 42.f;
  truth[0][5][1][0] = 20.f;
  pred[0][5][1][0] = 16.f;
  // Horizon 12 (index 11): both masked.
  truth[0][11][0][0] = 0.f;
  truth[0][11][1][0] = 0.f;
  pred[0][11][1][0] = 70.f;
  ForecastMetrics m;
  m.add(pred, truth);
  EXPECT_DOUBLE_EQ(m.count(0), 1);
  EXPECT_DOUBLE_EQ(m.mae(0), 5);
  EXPECT_DOUBLE_EQ(m.rmse(0), 5);
  EXPECT_DOUBLE_EQ(m.mape(0), 0.1);
  EXPECT_DOUBLE_EQ(m.count(1), 2);
  EXPECT_DOUBLE_EQ(m.mae(1), 3);
  EXPECT_DOUBLE_EQ(m.rmse(1), std::sqrt((4.0 + 16.0) / 2));
  EXPECT_DOUBLE_EQ(m.mape(1), (2.0 / 40 + 4.0 / 20) / 2);
  EXPECT_DOUBLE_EQ(m.count(2), 0);
  EXPECT_DOUBLE_EQ(m.mae(2), 0);  // DCRNN: mask / mean(mask) = NaN -> nan_to_num -> 0
  // All steps: 24 entries, 3 masked; errors 5, 2, 4.
  EXPECT_DOUBLE_EQ(m.count(3), 21);
  EXPECT_DOUBLE_EQ(m.mae(3), 11.0 / 21);
  EXPECT_DOUBLE_EQ(m.rmse(3), std::sqrt(45.0 / 21));
  EXPECT_DOUBLE_EQ(m.mape(3), (0.1 + 0.05 + 0.2) / 21);

  // DCRNN's formula literally: mean(nan_to_num(mask / mean(mask) * |e|)).
  const auto p6 = pred.select(1, 5).flatten().to(torch::kDouble), t6 = truth.select(1, 5).flatten().to(torch::kDouble);
  auto mask = t6.ne(0).to(torch::kDouble);
  mask = mask / mask.mean();
  EXPECT_NEAR(torch::nan_to_num(mask * (p6 - t6).abs()).mean().item<double>(), m.mae(1), 1e-12);

  // Sums add across batches / ranks: the same data in two halves.
  ForecastMetrics a, b;
  a.add(pred.narrow(2, 0, 1), truth.narrow(2, 0, 1));
  b.add(pred.narrow(2, 1, 1), truth.narrow(2, 1, 1));
  a.merge(b);
  for (int i = 0; i < ForecastMetrics::kSize; ++i) EXPECT_DOUBLE_EQ(a.sums[static_cast<std::size_t>(i)], m.sums[static_cast<std::size_t>(i)]);
  EXPECT_EQ(static_cast<void*>(a.data()), static_cast<void*>(&a));  // a plain block of doubles

  // NaN predictions contribute 0 but count (np.nan_to_num).
  auto pn = pred.clone();
  pn[0][5][0][0] = std::nanf("");
  ForecastMetrics n;
  n.add(pn, truth);
  EXPECT_DOUBLE_EQ(n.count(1), 2);
  EXPECT_DOUBLE_EQ(n.mae(1), 2);
}

TEST(ForecastDataMetrics, PersistenceOnConstantSeriesIsExact) {
  const auto d = synthetic(200, 4, [](std::uint64_t, std::uint64_t) { return 61.25f; });
  const ForecastDataset ds(d);
  const IndexBatcher ib(ds);
  ForecastMetrics m;
  for (const auto& s : {ds.train_starts(), ds.test_starts()}) {
    const auto b = ib.batch(s);
    m.add(persistence_forecast(b.x, ds.scaler()), b.y);
  }
  for (int k = 0; k < ForecastMetrics::kSlots; ++k) {
    EXPECT_GT(m.count(k), 0);
    EXPECT_EQ(m.mae(k), 0);
    EXPECT_EQ(m.rmse(k), 0);
    EXPECT_EQ(m.mape(k), 0);
  }
}

TEST_F(ForecastData, PersistenceBaselineOnMetrLaWeek) {
  const ForecastDataset ds(data());
  const IndexBatcher ib(ds);
  const auto test = ds.test_starts();
  ForecastMetrics m;
  for (std::int64_t i = 0; i < test.numel(); i += 64) {
    const auto b = ib.batch(test.narrow(0, i, std::min<std::int64_t>(64, test.numel() - i)));
    const auto p = persistence_forecast(b.x, ds.scaler());
    // The de-normalised last input equals the raw reading to float rounding.
    EXPECT_TRUE(torch::allclose(p.select(1, 0).squeeze(-1),
                                ds.signal().index_select(0, test.narrow(0, i, p.size(0)) + 11).select(-1, 0), 1e-6, 1e-4));
    m.add(p, b.y);
  }
  std::printf("persistence on the METR-LA week test set: MAE %.3f / %.3f / %.3f  RMSE %.3f / %.3f / %.3f  "
              "MAPE %.4f / %.4f / %.4f (15 / 30 / 60 min)\n",
              m.mae(0), m.mae(1), m.mae(2), m.rmse(0), m.rmse(1), m.rmse(2), m.mape(0), m.mape(1), m.mape(2));
  EXPECT_GT(m.mae(0), 1);
  EXPECT_LT(m.mae(0), m.mae(1));
  EXPECT_LT(m.mae(1), m.mae(2));
  EXPECT_EQ(m.count(0), 399.0 * 207);  // this week has no missing readings

  // Missing readings (0) at sensor 0, steps 1800..1899: the targets at horizon 3 of the test
  // windows are steps [1608, 2007), so exactly 100 entries leave each horizon's count.
  TrafficData holes = data();
  for (std::uint64_t t = 1800; t < 1900; ++t) holes.signal[t * 207] = 0.f;
  const ForecastDataset hd(holes);
  const auto hb = IndexBatcher(hd).batch(test);
  ForecastMetrics hm;
  hm.add(persistence_forecast(hb.x, hd.scaler()), hb.y);
  EXPECT_EQ(hm.count(0), 399.0 * 207 - 100);
  EXPECT_EQ(hm.count(2), 399.0 * 207 - 100);
  EXPECT_EQ(hm.count(3), 399.0 * 207 * 12 - 1200);
}

// ---- memory (manual) ----------------------------------------------------------------------
// FLOTILLA_FORECAST_MEM_DIR=<traffic folder> FLOTILLA_FORECAST_MEM_KIND=index|materialized
// test_forecast --gtest_filter=ForecastDataMemory.*  prints RSS before and peak RSS after building.

namespace {
double status_mb(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::atof(line.c_str() + key.size() + 1) / 1024.0;
  return -1;
}
}  // namespace

TEST(ForecastDataMemory, PeakRss) {
  const char* dir = std::getenv("FLOTILLA_FORECAST_MEM_DIR");
  const char* kind = std::getenv("FLOTILLA_FORECAST_MEM_KIND");
  if (!dir || !kind) GTEST_SKIP() << "set FLOTILLA_FORECAST_MEM_DIR and FLOTILLA_FORECAST_MEM_KIND";
  torch::set_num_threads(1);
  const TrafficData d = read_traffic(dir);
  const double before = status_mb("VmRSS"), hwm_read = status_mb("VmHWM");
  const ForecastDataset ds(d);
  const auto batcher = make_forecast_batcher(ds, kind);
  const auto b = batcher->batch(ds.train_starts().narrow(0, 0, 64));
  const double after = status_mb("VmRSS"), peak = status_mb("VmHWM");
  std::printf("%s: T=%llu N=%llu F=%llu F'=%lld  rss after read %.0f MB (peak while reading %.0f MB); dataset %.0f MB, "
              "batcher %.0f MB; rss after %.0f MB, peak %.0f MB; growth %.0f MB, peak growth %.0f MB\n",
              kind, static_cast<unsigned long long>(d.num_steps), static_cast<unsigned long long>(d.num_sensors),
              static_cast<unsigned long long>(d.num_features), static_cast<long long>(ds.num_features()), before,
              hwm_read, static_cast<double>(ds.bytes()) / 1048576, static_cast<double>(batcher->bytes()) / 1048576,
              after, peak, after - before, peak - before);
  EXPECT_EQ(b.x.size(0), 64);
}

TEST_F(ForecastData, TakingTheSignalOverGivesTheSameDatasetWithOneCopy) {
  // Two channels in, speed + time of day out: the same width, so the signal is rewritten in
  // place instead of copied.
  TrafficData two = synthetic(300, 5, [](std::uint64_t t, std::uint64_t n) { return static_cast<float>(t * 10 + n); });
  two.num_features = 2;
  std::vector<float> widened;
  for (float v : two.signal) {
    widened.push_back(v);
    widened.push_back(-1.f);  // a second channel the dataset does not use
  }
  two.signal = widened;
  ForecastOptions opt;
  opt.horizon = 6;
  const ForecastDataset copied(two, opt);
  TrafficData moved_from = two;
  const float* before = moved_from.signal.data();
  const ForecastDataset taken(std::move(moved_from), opt);
  EXPECT_TRUE(moved_from.signal.empty());
  EXPECT_EQ(taken.signal().data_ptr<float>(), before);  // no copy
  EXPECT_TRUE(torch::equal(taken.signal(), copied.signal()));
  EXPECT_EQ(taken.scaler().mean, copied.scaler().mean);
  EXPECT_EQ(taken.scaler().std, copied.scaler().std);
  // Different widths still copy.
  TrafficData one = synthetic(300, 5, [](std::uint64_t t, std::uint64_t n) { return static_cast<float>(t + n); });
  const ForecastDataset from_one(std::move(one), opt);
  EXPECT_EQ(from_one.num_features(), 2);
}
