// Traffic forecasting data (issue #6): DCRNN's sliding windows, index-batching (PGT-I),
// the materialised-window baseline, start-index sharding and DCRNN's masked metrics.
//
// Windows (DCRNN generate_training_data.py, x_offsets = -(h-1)..0, y_offsets = 1..h):
// window i has input steps [i, i+h) and target steps [i+h, i+2h); W = T - 2h + 1 windows,
// split in order: num_test = round(0.2 W), num_train = round(0.7 W) (Python's round: half to
// even, on the double product), num_valid = W - num_train - num_test. Train = [0, num_train),
// valid = [num_train, num_train + num_valid), test = [W - num_test, W). (DCRNN's x[-0:] quirk,
// where num_test = 0 selects everything, is not reproduced: the test set is then empty.)
//
// Input channels per step: the first `signal_channels` channels of the signal (channel 0 =
// speed, the only normalised one), then time of day in [0, 1) (add_time_in_day), then the
// day-of-week one-hot (7 channels, add_day_in_week). Target: channel 0, raw (not normalised).
//
// Normalisation (DCRNN's StandardScaler): ONE mean and ONE std of channel 0 over x_train,
// i.e. every training input window, every sensor, zeros (missing readings) included, numpy's
// population std (ddof = 0). Computed from the raw series in double: step t is weighted by
// the number of training input windows covering it; no window is materialised. A std of 0
// is replaced by 1 (DCRNN would divide by zero).
//
// What is stored (decision): ONE float32 tensor [T', N, F'] on the device, time-major, holding
// channel 0 RAW and the other channels as they enter the model. x's channel 0 is normalised
// at gather time ((v - mean) / std on the gathered batch, the very same float op the
// materialised baseline applies once), y is gathered raw. So memory is 1x the signal, targets
// are exact raw speeds (zeros stay exactly 0 and are masked; de-normalising a stored
// normalised copy would not give exact zeros back), and no second copy of the speeds exists.
//
// Time sharding: a dataset built with a time range [t0, t1) holds only those steps; start
// indices stay global (the batchers subtract t0) and a window must lie inside the range.
// The TrafficData may itself hold only part of the series (read_traffic with a step range):
// the split is always that of the whole series (TrafficData::series_steps), and the range
// must lie within the held steps.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flotilla/datasets/traffic.h"
#include "flotilla/sampler/epoch_schedule.h"

namespace flotilla {

// A half-open range of window start indices.
struct WindowRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};

struct WindowSplit {
  std::int64_t num_windows = 0, num_train = 0, num_valid = 0, num_test = 0;
  WindowRange train() const { return {0, num_train}; }
  WindowRange valid() const { return {num_train, num_train + num_valid}; }
  WindowRange test() const { return {num_windows - num_test, num_windows}; }
};

// DCRNN's window count and split for T steps (throws std::invalid_argument when T < 2h).
WindowSplit dcrnn_split(std::int64_t num_steps, std::int64_t horizon, double train_fraction = 0.7,
                        double test_fraction = 0.2);
// Python's round() on a double: nearest, ties to even.
std::int64_t python_round(double v);

struct Scaler {
  double mean = 0, std = 1;
};

// DCRNN's scaler over the training inputs x_train[..., 0] (windows [0, num_train_windows)),
// from the raw series with window-count weights. Channel 0 of data.signal.
Scaler fit_window_scaler(const TrafficData& data, std::int64_t horizon, std::int64_t num_train_windows);

// The same in parts, for ranks that each hold a block of the series (--shard-time): the
// weighted sum over global steps [lo, hi) of (v - centre) (squared = false) or
// (v - centre)^2, v = channel 0; the steps must be held by `data` (TrafficData::first_step).
// Ranks sum disjoint step ranges that together cover [0, num_train_windows + h - 1), add the
// sums up (first pass: centre 0, giving the mean; second pass: centre = mean) and call
// scaler_from_sums with window_scaler_count.
double window_scaler_sum(const TrafficData& data, std::int64_t horizon, std::int64_t num_train_windows,
                         std::int64_t lo, std::int64_t hi, double centre, bool squared);
double window_scaler_count(const TrafficData& data, std::int64_t horizon, std::int64_t num_train_windows);
Scaler scaler_from_sums(double sum, double squared_deviations, double count);

struct ForecastOptions {
  std::int64_t horizon = 12;          // input and output steps
  bool time_of_day = true;            // DCRNN add_time_in_day
  bool day_of_week = false;           // DCRNN add_day_in_week (7-channel one-hot)
  std::int64_t signal_channels = 1;   // leading signal channels used as inputs; 0 = all
  // Time features when the data has no timestamps (signal.npy): step t is at
  // (t mod steps_per_day) / steps_per_day of its day and t = 0 is a Monday 00:00 (the
  // convention of `flotilla generate traffic`).
  std::int64_t steps_per_day = 288;
  double train_fraction = 0.7, test_fraction = 0.2;
  torch::Device device = torch::kCPU;
  // Hold only steps [time_begin, time_end) (time_end = 0: up to T). See time_shard().
  std::int64_t time_begin = 0, time_end = 0;
  // Use this scaler instead of fitting one (e.g. fitted once on rank 0 and broadcast).
  std::optional<Scaler> scaler;
};

class ForecastDataset {
 public:
  ForecastDataset(const TrafficData& data, const ForecastOptions& options = {});
  // Same, but may take over data.signal instead of copying it (CPU, whole time range, as
  // many output channels as input channels): the signal then exists once in memory, which
  // is what lets a 9.4 GB PeMS-scale series train within 16 GB. `data.signal` is left empty
  // when taken.
  ForecastDataset(TrafficData&& data, const ForecastOptions& options = {});

  std::int64_t horizon() const { return horizon_; }
  std::int64_t num_steps() const { return num_steps_; }        // T of the whole series
  std::int64_t num_nodes() const { return num_nodes_; }
  std::int64_t num_features() const { return num_features_; }  // F' (input channels)
  const WindowSplit& split() const { return split_; }
  const Scaler& scaler() const { return scaler_; }
  bool time_from_timestamps() const { return time_from_timestamps_; }
  // Held steps [time_begin, time_end) and the windows that lie inside them.
  std::int64_t time_begin() const { return time_begin_; }
  std::int64_t time_end() const { return time_end_; }
  WindowRange held_windows() const;

  // Start indices (int64, CPU) of a split.
  torch::Tensor starts(const WindowRange& r) const;
  torch::Tensor train_starts() const { return starts(split_.train()); }
  torch::Tensor valid_starts() const { return starts(split_.valid()); }
  torch::Tensor test_starts() const { return starts(split_.test()); }

  // [time_end - time_begin, N, F'] float32 on the device; channel 0 raw (see above).
  const torch::Tensor& signal() const { return signal_; }
  std::int64_t bytes() const;

 private:
  void build(const TrafficData& data, const ForecastOptions& opt, std::vector<float>* take);
  std::int64_t horizon_ = 0, num_steps_ = 0, num_nodes_ = 0, num_features_ = 0;
  std::int64_t time_begin_ = 0, time_end_ = 0;
  bool time_from_timestamps_ = false;
  WindowSplit split_;
  Scaler scaler_;
  torch::Tensor signal_;
};

// x [B, h, N, F'] (channel 0 normalised), y [B, h, N, 1] (raw speed).
struct ForecastBatch {
  torch::Tensor x, y;
};

class ForecastBatcher {
 public:
  virtual ~ForecastBatcher() = default;
  // starts: int64 [B] global window start indices (any device; CPU ones are range-checked).
  virtual ForecastBatch batch(const torch::Tensor& starts) const = 0;
  virtual std::int64_t bytes() const = 0;  // tensor memory held
  virtual std::string name() const = 0;
};

// Index-batching: shares the dataset's signal tensor; per batch two vectorised gathers
// (x: steps starts + [0, h) all channels, then channel 0 normalised in place on the copy;
// y: steps starts + [h, 2h) of channel 0), no per-sample work.
class IndexBatcher : public ForecastBatcher {
 public:
  explicit IndexBatcher(const ForecastDataset& data);
  ForecastBatch batch(const torch::Tensor& starts) const override;
  std::int64_t bytes() const override;
  std::string name() const override { return "index"; }

 private:
  torch::Tensor signal_;  // shared with the dataset
  std::int64_t horizon_, time_begin_;
  WindowRange windows_;
  Scaler scaler_;
};

// The usual loader (DCRNN's npz, PyTorch Geometric Temporal's StaticGraphTemporalSignal):
// every window held in the dataset's range stored as x [W, h, N, F'] (normalised) and
// y [W, h, N, 1]; a batch gathers rows. Memory baseline; independent of the dataset once built.
class MaterializedBatcher : public ForecastBatcher {
 public:
  explicit MaterializedBatcher(const ForecastDataset& data);
  ForecastBatch batch(const torch::Tensor& starts) const override;
  std::int64_t bytes() const override;
  std::string name() const override { return "materialized"; }

 private:
  torch::Tensor x_, y_;
  WindowRange windows_;
};

// kind = "index" or "materialized" (--batching); throws std::invalid_argument otherwise.
std::unique_ptr<ForecastBatcher> make_forecast_batcher(const ForecastDataset& data, const std::string& kind);

// Normalises channel 0 of x ([..., F']) in place: (v - mean) / std in float32. Both batchers
// use it, so their x are bit-identical.
void normalise_speed_(torch::Tensor& x, const Scaler& s);

// ---- start-index sharding ---------------------------------------------------------------

std::vector<VertexId> window_ids(const WindowRange& r);
torch::Tensor to_starts(const std::vector<VertexId>& ids);  // int64 [B] on CPU

// Distributed-index-batching: every rank holds the whole signal; global batch b of `epoch`
// is a deterministic shuffle of the windows from (seed, epoch), and rank r of P takes its
// contiguous slice (EpochSchedule's global mode). shuffle = false for evaluation.
EpochSchedule window_schedule(const WindowRange& windows, std::uint64_t global_batch_size, std::uint64_t seed,
                              bool shuffle = true);
torch::Tensor rank_starts(const EpochSchedule& schedule, std::uint32_t epoch, std::uint64_t batch,
                          std::uint32_t rank, std::uint32_t num_ranks);

// --shard-time: rank r of P owns the contiguous block `windows` of the window range
// ([begin + n r / P, begin + n (r + 1) / P), n = range size) and must hold the steps
// [windows.begin, windows.end + 2h - 1) (empty when its block is).
struct TimeShard {
  WindowRange windows;
  std::int64_t time_begin = 0, time_end = 0;
};
TimeShard time_shard(const WindowRange& windows, std::int64_t horizon, std::uint32_t rank, std::uint32_t num_ranks);
// Per-epoch shuffle within each rank's own block, ceil(global batch / P) windows per rank
// and step (EpochSchedule's local mode, whose chunks are exactly time_shard's blocks).
EpochSchedule time_shard_schedule(const WindowRange& windows, std::uint32_t num_ranks,
                                  std::uint64_t global_batch_size, std::uint64_t seed, bool shuffle = true);

// ---- metrics ------------------------------------------------------------------------------

// DCRNN's masked_mae_np / masked_rmse_np / masked_mape_np with null_val = 0 on de-normalised
// speeds: mask = label != 0, normalised by its mean, so each metric = sum over unmasked
// entries / number of unmasked entries; NaN contributions become 0 (np.nan_to_num) but
// still count. Kept as sums in double so batches and ranks can be added (all-reduce
// `sums` as kSize doubles) before dividing. MAPE is a fraction (DCRNN prints it so).
struct ForecastMetrics {
  static constexpr std::array<int, 3> kHorizons{3, 6, 12};  // 1-based steps: 15, 30, 60 min
  static constexpr int kSlots = 4;                           // the three horizons, then all steps
  static constexpr int kSize = kSlots * 4;
  // Per slot: sum |e|, sum e^2, sum |e| / |label|, count.
  std::array<double, kSize> sums{};

  // pred, truth: [B, h, N] or [B, h, N, 1], de-normalised. Horizons beyond h are skipped.
  void add(const torch::Tensor& pred, const torch::Tensor& truth);
  void merge(const ForecastMetrics& o);
  double* data() { return sums.data(); }

  // slot 0..2 = kHorizons, 3 = all steps. 0 when nothing was counted (DCRNN: nan_to_num).
  double mae(int slot) const;
  double rmse(int slot) const;
  double mape(int slot) const;
  double count(int slot) const { return sums[static_cast<std::size_t>(slot * 4 + 3)]; }
};

// Persistence baseline: every horizon predicts the last observed input speed, de-normalised
// from x [B, h, N, F']: returns [B, h, N, 1].
torch::Tensor persistence_forecast(const torch::Tensor& x, const Scaler& s);

}  // namespace flotilla
