// Forecasting loop: DCRNN's recipe (Adam, masked MAE on de-normalised speed, gradient
// clipping, scheduled sampling) over index batches; gradients and metrics summed across
// ranks. Validation and test metrics every epoch; test figures reported at the best
// validation MAE, beside the persistence baseline.
#include "flotilla/trainer/forecast.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "flotilla/comm.h"
#include "flotilla/comm/communicator.h"
#include "flotilla/comm/watchdog.h"
#include "flotilla/datasets/json_writer.h"
#include "flotilla/datasets/progress.h"
#include "flotilla/datasets/random.h"
#include "flotilla/datasets/traffic.h"
#include "flotilla/models.h"
#include "flotilla/models/forecast.h"
#include "flotilla/trainer.h"
#include "flotilla/trainer/forecast_data.h"
#include "run_files.h"

namespace flotilla {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Sum of |pred - y| over entries with y != 0, and their count (DCRNN's masked MAE loss,
// null_val = 0, on de-normalised speeds).
std::pair<torch::Tensor, torch::Tensor> masked_abs_error(const torch::Tensor& pred, const torch::Tensor& y) {
  const torch::Tensor mask = y.ne(0).to(pred.dtype());
  return {((pred - y).abs() * mask).sum(), mask.sum()};
}

// A metric over no unmasked entry is undefined: NaN (null in JSON), never 0. (ForecastMetrics
// itself returns DCRNN's nan_to_num 0 there.)
double defined_or_nan(const ForecastMetrics& m, int slot, double v) { return m.count(slot) > 0 ? v : std::nan(""); }

void write_metric_fields(JsonWriter& j, const std::string& prefix, const ForecastMetrics& m) {
  static const char* names[] = {"h3", "h6", "h12"};
  for (int s = 0; s < 3; ++s) {
    j.field(prefix + "mae_" + names[s], defined_or_nan(m, s, m.mae(s)));
    j.field(prefix + "rmse_" + names[s], defined_or_nan(m, s, m.rmse(s)));
    j.field(prefix + "mape_" + names[s], defined_or_nan(m, s, m.mape(s)));
  }
  j.field(prefix + "mae", defined_or_nan(m, 3, m.mae(3)));
}

// The traffic data a rank holds: one dataset of the whole series for every split, or with
// --shard-time (time_shard) one dataset per split holding only this rank's block of that
// split's windows plus the 2h - 1 steps they reach into.
struct HeldData {
  struct Part {
    std::shared_ptr<ForecastDataset> data;  // null: no windows of this split on this rank
    std::shared_ptr<ForecastBatcher> batcher;
    WindowRange windows;                    // windows this rank may draw
  };
  std::array<Part, 3> part;  // train, valid, test
  WindowSplit split;
  Scaler scaler;
  std::int64_t num_nodes = 0, num_features = 0, num_steps = 0;
  TrafficGraph graph;

  bool has(int s) const { return part[static_cast<std::size_t>(s)].batcher != nullptr; }
  const ForecastBatcher& batcher(int s) const { return *part[static_cast<std::size_t>(s)].batcher; }
  std::int64_t bytes() const {  // tensor memory held (a shared dataset counted once)
    std::int64_t b = 0;
    for (std::size_t i = 0; i < part.size(); ++i) {
      if (!part[i].data) continue;
      if (i == 0 || part[i].data != part[0].data) b += part[i].data->bytes();
      if (i == 0 || part[i].batcher != part[0].batcher) b += part[i].batcher->bytes();
    }
    return b;
  }
};

// One window takes 2 x horizon steps (input, then output): fewer is an error naming the signal
// file and the flag.
void check_window_fits(const std::string& source, std::uint64_t steps, std::int64_t horizon) {
  if (steps < 2 * static_cast<std::uint64_t>(horizon))
    throw std::runtime_error(source + ": " + std::to_string(steps) + " steps are fewer than one window of 2 x --horizon " +
                             std::to_string(horizon) + " = " + std::to_string(2 * horizon) +
                             " steps (input, then output); give more steps or a smaller --horizon");
}

HeldData load_whole(const TrainConfig& cfg, const torch::Device& device) {
  HeldData h;
  TrafficData raw = read_traffic(cfg.data);
  check_window_fits(raw.signal_source.empty() ? cfg.data : raw.signal_source,
                    raw.series_steps ? raw.series_steps : raw.num_steps, cfg.horizon);
  h.graph = std::move(raw.graph);
  ForecastOptions opt;
  opt.horizon = cfg.horizon;
  opt.device = device;
  auto data = std::make_shared<ForecastDataset>(std::move(raw), opt);  // takes the signal over: one copy
  std::shared_ptr<ForecastBatcher> batcher = make_forecast_batcher(*data, cfg.batching);
  h.split = data->split();
  h.scaler = data->scaler();
  h.num_nodes = data->num_nodes();
  h.num_features = data->num_features();
  h.num_steps = data->num_steps();
  const WindowRange ranges[3] = {h.split.train(), h.split.valid(), h.split.test()};
  for (int s = 0; s < 3; ++s) h.part[static_cast<std::size_t>(s)] = {data, batcher, ranges[s]};
  return h;
}

HeldData load_time_shards(const TrainConfig& cfg, const Communicator& world, const torch::Device& device) {
  HeldData h;
  const auto rank = static_cast<std::uint32_t>(world.rank()), P = static_cast<std::uint32_t>(world.size());
  const TrafficInfo info = describe_traffic(cfg.data);  // counts only; the signal is not read
  h.num_steps = static_cast<std::int64_t>(info.num_steps);
  check_window_fits(info.signal_source.empty() ? cfg.data : info.signal_source, info.num_steps, cfg.horizon);
  h.split = dcrnn_split(h.num_steps, cfg.horizon);
  const WindowRange ranges[3] = {h.split.train(), h.split.valid(), h.split.test()};
  if (ranges[0].size() < static_cast<std::int64_t>(P))
    throw std::runtime_error(cfg.data + ": --shard-time needs at least one training window per rank (" +
                             std::to_string(ranges[0].size()) + " windows, " + std::to_string(P) + " ranks)");
  ForecastOptions opt;
  opt.horizon = cfg.horizon;
  opt.device = device;
  for (int s = 0; s < 3; ++s) {
    const TimeShard ts = time_shard(ranges[s], cfg.horizon, rank, P);
    if (ts.windows.size() == 0) continue;  // more ranks than validation/test windows
    TrafficReadOptions ro;
    ro.first_step = static_cast<std::uint64_t>(ts.time_begin);
    ro.num_steps = static_cast<std::uint64_t>(ts.time_end - ts.time_begin);
    ro.graph = s == 0;
    TrafficData raw = read_traffic(cfg.data, ro);
    if (s == 0) {
      h.graph = std::move(raw.graph);
      // DCRNN's scaler from every rank's share of the training input steps: rank r sums the
      // steps from its first window up to the next rank's first window (the last rank up to
      // the last training input step), so the ranges are disjoint and cover them all.
      const std::int64_t lo = ts.windows.begin, hi = rank + 1 < P ? ts.windows.end : INT64_MAX;
      const std::int64_t nt = h.split.num_train;
      double sum = window_scaler_sum(raw, cfg.horizon, nt, lo, hi, 0, false);
      world.allreduce_sum(&sum, 1);
      const double count = window_scaler_count(raw, cfg.horizon, nt);
      double sq = window_scaler_sum(raw, cfg.horizon, nt, lo, hi, sum / count, true);
      world.allreduce_sum(&sq, 1);
      opt.scaler = scaler_from_sums(sum, sq, count);
      h.scaler = *opt.scaler;
    }
    opt.time_begin = ts.time_begin;
    opt.time_end = ts.time_end;
    auto data = std::make_shared<ForecastDataset>(std::move(raw), opt);
    h.num_nodes = data->num_nodes();
    h.num_features = data->num_features();
    h.part[static_cast<std::size_t>(s)] = {data, std::shared_ptr<ForecastBatcher>(make_forecast_batcher(*data, cfg.batching)),
                                           ts.windows};
  }
  return h;
}

}  // namespace

static int run_forecast_ranks(const TrainConfig& cfg, MpiSession& mpi, const RunInfo& info) {
  const LogLevel log = log_level_of(cfg);
  const Communicator world = Communicator::world();
  const int rank = world.rank();
  const std::uint32_t P = static_cast<std::uint32_t>(world.size());
  bool fell_back = false;
  const std::string device_name = pick_device(cfg.device, mpi.local_rank(), &fell_back);
  if (cfg.dry_run) {
    const auto hosts = world.allgather(mpi.hostname());
    const auto devices = world.allgather(device_name);
    if (rank == 0) {
      std::printf("flotilla train --task forecast: %u ranks, every rank a trainer holding the signal of %s; "
                  "window start indices sharded per epoch (distributed-index-batching)\n",
                  P, cfg.data.c_str());
      std::printf("%5s  %-20s %-12s\n", "rank", "host", "device");
      for (std::uint32_t r = 0; r < P; ++r) std::printf("%5u  %-20s %-12s\n", r, hosts[r].c_str(), devices[r].c_str());
    }
    return 0;
  }
  const torch::Device device(device_name);
  apply_torch_threads(cfg.threads, mpi.local_size());
  const auto t_start = Clock::now();

  // The run folder first: an unwritable --out fails before the data is read.
  if (rank == 0) std::filesystem::create_directories(cfg.out);
  // Data: the signal once, on the device, or with --shard-time only this rank's blocks.
  HeldData held = cfg.shard_time ? load_time_shards(cfg, world, device) : load_whole(cfg, device);
  const WindowSplit split = held.split;
  if (split.num_train == 0 || split.num_valid == 0 || split.num_test == 0)
    throw std::runtime_error(cfg.data + ": too few steps (" + std::to_string(held.num_steps) + ") for " +
                             std::to_string(cfg.horizon) + "-step windows in train, validation and test");
  TrafficGraph& tg = held.graph;
  SensorGraph graph;
  const auto E = static_cast<std::int64_t>(tg.src.size());
  graph.num_nodes = held.num_nodes;
  graph.src = torch::empty({E}, torch::kLong);
  graph.dst = torch::empty({E}, torch::kLong);
  graph.weight = torch::from_blob(tg.weight.data(), {E}, torch::kFloat32).clone();
  {
    std::int64_t* src = graph.src.data_ptr<std::int64_t>();
    std::int64_t* dst = graph.dst.data_ptr<std::int64_t>();
    for (std::size_t e = 0; e < tg.src.size(); ++e) {
      src[e] = static_cast<std::int64_t>(tg.src[e]);
      dst[e] = static_cast<std::int64_t>(tg.dst[e]);
    }
  }
  graph.src = graph.src.to(device);
  graph.dst = graph.dst.to(device);
  graph.weight = graph.weight.to(device);

  ForecastModelConfig mc;
  mc.model = cfg.model;
  mc.num_nodes = held.num_nodes;
  mc.input_dim = held.num_features;
  mc.output_dim = 1;
  mc.horizon = cfg.horizon;
  mc.hidden = *cfg.hidden;
  mc.num_layers = cfg.layers;
  mc.diffusion_steps = cfg.diffusion_steps;
  torch::manual_seed(cfg.seed);
  auto model = make_forecast_model(mc, graph);
  model->to(device);
  // DCRNN: Adam with epsilon 1e-3.
  torch::optim::Adam opt(model->parameters(),
                         torch::optim::AdamOptions(*cfg.lr).eps(1e-3).weight_decay(*cfg.weight_decay));

  const std::string ck_path = cfg.out + "/checkpoint.pt";
  std::uint32_t first_epoch = 0;
  Checkpoint best;
  if (!cfg.resume.empty()) {
    best = load_checkpoint(ck_path, *model, opt);
    first_epoch = static_cast<std::uint32_t>(best.epoch + 1);
  } else {
    // Same initial parameters on every rank (rank 0's).
    torch::NoGradGuard ng;
    std::vector<Span<float>> spans;
    std::vector<torch::Tensor> host;
    for (auto& p : model->parameters()) {
      if (rank != 0) p.zero_();
      host.push_back(p.device().is_cpu() ? p : p.to(torch::kCPU));
      spans.emplace_back(host.back().data_ptr<float>(), static_cast<std::size_t>(host.back().numel()));
    }
    GradientAllReducer(world).allreduce(spans, 1.0f);
    std::size_t i = 0;
    for (auto& p : model->parameters()) {
      if (!p.device().is_cpu()) p.copy_(host[i]);
      ++i;
    }
  }
  if (rank == 0) {
    std::filesystem::create_directories(cfg.out);
    write_text_atomic(cfg.out + "/config.yaml", config_to_yaml(cfg));
    write_text_atomic(cfg.out + "/command.txt", info.command_line + "\n");
    write_text_atomic(cfg.out + "/versions.json", info.versions_json);
    if (cfg.resume.empty()) std::filesystem::remove(cfg.out + "/metrics.jsonl");
    else truncate_metrics(cfg.out + "/metrics.jsonl", first_epoch);
  }
  // Training: global batches sliced over the ranks, or with --shard-time each rank drawing
  // from its own block. Evaluation: each rank a slice of every batch, or its own blocks.
  const std::uint64_t batch_size = *cfg.batch_size;
  const EpochSchedule train_sched = cfg.shard_time ? time_shard_schedule(split.train(), P, batch_size, cfg.seed, true)
                                                   : window_schedule(split.train(), batch_size, cfg.seed, true);
  auto eval_schedule = [&](int s) {
    return cfg.shard_time ? EpochSchedule(window_ids(held.part[s].windows), batch_size, cfg.seed, false)
                          : window_schedule(s == 1 ? split.valid() : split.test(), batch_size, cfg.seed, false);
  };
  const EpochSchedule valid_sched = eval_schedule(1), test_sched = eval_schedule(2);
  const std::uint32_t eval_rank = cfg.shard_time ? 0 : static_cast<std::uint32_t>(rank), eval_ranks = cfg.shard_time ? 1 : P;
  const std::uint64_t steps = cfg.max_steps ? std::min<std::uint64_t>(cfg.max_steps, train_sched.num_batches())
                                            : train_sched.num_batches();
  const Scaler sc = held.scaler;
  if (rank == 0 && log >= LogLevel::Info)
    std::printf("forecasting with %s on %s: %lld sensors, %lld steps, %lld features; windows %lld/%lld/%lld "
                "train/valid/test; %llu steps per epoch of %llu windows on %u rank(s); %s batching (%.1f MB held on rank 0); "
                "scaler mean %.3f std %.3f\n",
                cfg.model.c_str(), cfg.data.c_str(), static_cast<long long>(held.num_nodes),
                static_cast<long long>(held.num_steps), static_cast<long long>(held.num_features),
                static_cast<long long>(split.num_train), static_cast<long long>(split.num_valid),
                static_cast<long long>(split.num_test), static_cast<unsigned long long>(steps),
                static_cast<unsigned long long>(batch_size), P,
                (cfg.batching + (cfg.shard_time ? " (time-sharded)" : "")).c_str(),
                static_cast<double>(held.bytes()) / 1e6, sc.mean, sc.std);
  std::fflush(stdout);

  GradientAllReducer reducer(world);
  double best_valid = best.best_valid;  // lower is better; < 0 = none yet
  std::vector<double> best_metrics = best.best_metrics;
  std::int64_t best_epoch = best.best_epoch;
  std::uint64_t global_step = static_cast<std::uint64_t>(first_epoch) * steps;
  double total_step_s = 0;
  std::uint64_t total_steps = 0;
  ForecastMetrics last_persist;
  std::vector<double> step_seconds;  // every training step of this session
  std::int64_t stopped_after = -1;  // early stop: the last epoch trained
  for (std::uint32_t epoch = first_epoch; epoch < static_cast<std::uint32_t>(*cfg.epochs); ++epoch) {
    // Early stopping (--patience): every rank sees the same all-reduced validation MAE.
    if (patience_exhausted(*cfg.patience, static_cast<std::int64_t>(epoch) - 1, best_epoch)) {
      stopped_after = static_cast<std::int64_t>(epoch) - 1;
      if (rank == 0 && log >= LogLevel::Info)
        std::printf("early stop after epoch %lld: no better validation MAE in %d epochs (best: epoch %lld)\n",
                    static_cast<long long>(stopped_after), *cfg.patience, static_cast<long long>(best_epoch));
      break;
    }
    const auto t_epoch = Clock::now();
    torch::manual_seed(splitmix64(cfg.seed * 0x9e3779b97f4a7c15ULL + epoch));  // scheduled-sampling coins
    model->train();
    double loss_sum = 0, loss_count = 0, batch_s = 0, compute_s = 0, allreduce_s = 0;
    // A bar redrawn on a TTY, a plain line every 30 s otherwise; per-step lines at debug.
    ProgressBar bar("epoch " + std::to_string(epoch), steps, "steps", rank == 0 && log == LogLevel::Info, 30.0);
    for (std::uint64_t b = 0; b < steps; ++b) {
      const auto t_step = Clock::now();
      auto t0 = Clock::now();
      const ForecastBatch fb =
          held.batcher(0).batch(rank_starts(train_sched, epoch, b, static_cast<std::uint32_t>(rank), P).to(device));
      batch_s += since(t0);
      t0 = Clock::now();
      opt.zero_grad();
      double local[2] = {0, 0};
      torch::Tensor err_sum, count;
      if (fb.x.size(0) > 0) {
        const torch::Tensor y_norm = (fb.y - sc.mean) / sc.std;  // teacher forcing works in normalised units
        const torch::Tensor pred = model->forward(fb.x, y_norm, static_cast<std::int64_t>(global_step)) * sc.std + sc.mean;
        std::tie(err_sum, count) = masked_abs_error(pred, fb.y);
        local[0] = err_sum.item<double>();
        local[1] = count.item<double>();
      }
      // Mean over the unmasked entries of the whole global batch: scale by the global count.
      double global[2] = {local[0], local[1]};
      if (P > 1) world.allreduce_sum(global, 2);
      if (err_sum.defined() && global[1] > 0) (err_sum / global[1]).backward();
      compute_s += since(t0);
      t0 = Clock::now();
      if (P > 1) {
        std::vector<Span<float>> spans;
        for (auto& p : model->parameters()) {
          if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
          spans.emplace_back(p.grad().data_ptr<float>(), static_cast<std::size_t>(p.grad().numel()));
        }
        reducer.allreduce(spans, 1.0f);
      }
      allreduce_s += since(t0);
      t0 = Clock::now();
      if (cfg.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), cfg.max_grad_norm);
      opt.step();
      compute_s += since(t0);
      loss_sum += global[0];
      loss_count += global[1];
      ++global_step;
      step_seconds.push_back(since(t_step));
      bar.update(b + 1);
      if (rank == 0 && log >= LogLevel::Debug)
        std::printf("epoch %u step %llu/%llu  batch MAE %.4f  %.3f s\n", epoch, static_cast<unsigned long long>(b + 1),
                    static_cast<unsigned long long>(steps), global[1] > 0 ? global[0] / global[1] : 0.0,
                    step_seconds.back());
    }
    bar.finish();
    const double train_s = since(t_epoch);
    total_step_s += train_s;
    total_steps += steps;
    // Evaluation: each rank its slice of every batch; metric sums all-reduced.
    ForecastMetrics vm, tm, vp, tp;
    model->eval();
    {
      torch::NoGradGuard ng;
      for (int phase = 0; phase < (cfg.eval != "none" ? 2 : 0); ++phase) {  // --eval none: benchmarks
        const EpochSchedule& s = phase == 0 ? valid_sched : test_sched;
        if (!held.has(phase + 1)) continue;  // --shard-time: no windows of this split here
        for (std::uint64_t b = 0; b < s.num_batches(); ++b) {
          const ForecastBatch fb = held.batcher(phase + 1).batch(rank_starts(s, 0, b, eval_rank, eval_ranks).to(device));
          if (fb.x.size(0) == 0) continue;
          const torch::Tensor pred = model->forward(fb.x) * sc.std + sc.mean;
          (phase == 0 ? vm : tm).add(pred.to(torch::kCPU), fb.y.to(torch::kCPU));
          (phase == 0 ? vp : tp).add(persistence_forecast(fb.x, sc).to(torch::kCPU), fb.y.to(torch::kCPU));
        }
      }
    }
    for (ForecastMetrics* m : {&vm, &tm, &vp, &tp}) world.allreduce_sum(m->data(), ForecastMetrics::kSize);
    last_persist = tp;
    // NaN when no validation entry was unmasked (every target 0, or --eval false): written as
    // null, never the best epoch.
    const double valid_mae = defined_or_nan(vm, 3, vm.mae(3));
    if (!std::isnan(valid_mae) && (best_epoch < 0 || valid_mae < best_valid)) {
      best_valid = valid_mae;
      best_epoch = epoch;
      best_metrics.assign(tm.sums.begin(), tm.sums.end());
      if (rank == 0) {
        torch::serialize::OutputArchive a;
        save_params(*model, a);
        save_archive_atomic(a, cfg.out + "/best_model.pt");
      }
    }
    if (rank == 0) {
      JsonWriter j;
      j.begin_object()
          .field("epoch", static_cast<std::int64_t>(epoch))
          .field("train_mae", loss_count > 0 ? loss_sum / loss_count : std::nan(""))
          .field("valid_mae", valid_mae);
      write_metric_fields(j, "valid_", vm);
      write_metric_fields(j, "test_", tm);
      j.field("seconds", since(t_epoch))
          .field("train_seconds", train_s)
          .field("seconds_per_step", steps ? train_s / static_cast<double>(steps) : 0.0)
          .field("batch_seconds", batch_s)
          .field("compute_seconds", compute_s)
          .field("allreduce_seconds", allreduce_s)
          .field("steps", steps)
          .end_object();
      append_line(cfg.out + "/metrics.jsonl", j.str());
      Checkpoint ck;
      ck.epoch = epoch;
      ck.best_valid = best_valid;
      ck.best_epoch = best_epoch;
      ck.test_at_best = best_metrics.empty() ? -1 : best_metrics[3 * 4 + 0];
      ck.best_metrics = best_metrics;
      save_checkpoint(ck_path, *model, opt, ck);
      if (log >= LogLevel::Info)
        std::printf("epoch %3u  train MAE %.4f  valid MAE %.4f (h3 %.3f h6 %.3f h12 %.3f)  %.2fs (%.3f s/step)\n", epoch,
                    loss_count > 0 ? loss_sum / loss_count : 0.0, valid_mae, vm.mae(0), vm.mae(1), vm.mae(2),
                    since(t_epoch), steps ? train_s / static_cast<double>(steps) : 0.0);
      std::fflush(stdout);
    }
  }
  if (rank == 0) {
    ForecastMetrics at_best;
    if (best_metrics.size() == at_best.sums.size()) std::copy(best_metrics.begin(), best_metrics.end(), at_best.sums.begin());
    JsonWriter j;
    j.begin_object().field("task", "forecast").field("model", cfg.model).field("batching", cfg.batching);
    write_metric_fields(j, "test_", at_best);
    write_metric_fields(j, "persistence_test_", last_persist);
    j.field("best_valid_mae", best_epoch < 0 ? std::nan("") : best_valid)
        .field("best_epoch", best_epoch < 0 ? std::nan("") : static_cast<double>(best_epoch))  // null: none
        .field("epochs", static_cast<std::int64_t>(*cfg.epochs))
        .field("patience", static_cast<std::int64_t>(*cfg.patience))  // -1: off
        .field("stopped_early", stopped_after >= 0)
        .field("last_epoch", stopped_after >= 0 ? stopped_after : static_cast<std::int64_t>(*cfg.epochs) - 1)
        .field("ranks", static_cast<std::uint64_t>(P))
        .field("seconds", since(t_start))
        .field("seconds_per_step", total_steps ? total_step_s / static_cast<double>(total_steps) : 0.0)
        .field("train_step_seconds", [&] {  // median over this session's steps
          if (step_seconds.empty()) return std::nan("");
          std::vector<double> v = step_seconds;
          std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
          return v[v.size() / 2];
        }())
        .field("shard_time", cfg.shard_time)
        .field("data_bytes_held", held.bytes())  // rank 0
        .field("peak_rss_bytes", peak_rss_bytes())
        .end_object();
    write_text_atomic(cfg.out + "/summary.json", j.str() + "\n");
    if (log >= LogLevel::Info)
      std::printf("done: test MAE h3 %.3f h6 %.3f h12 %.3f (persistence %.3f %.3f %.3f) at best valid MAE %.4f (epoch %lld)\n",
                  at_best.mae(0), at_best.mae(1), at_best.mae(2), last_persist.mae(0), last_persist.mae(1),
                  last_persist.mae(2), best_valid, static_cast<long long>(best_epoch));
  }
  return 0;
}

int run_forecast(const TrainConfig& cfg, MpiSession& mpi, const RunInfo& info) {
  {  // every rank trains: "trainer R" in a stalled-rank message
    std::vector<std::string> names;
    for (int r = 0; r < mpi.size(); ++r) names.push_back("trainer " + std::to_string(r));
    RankWatchdog::set_roles(names);
  }
  try {
    return run_forecast_ranks(cfg, mpi, info);
  } catch (const std::exception& e) {
    if (mpi.size() == 1) throw;  // the CLI reports it and exits 1
    // One rank alone may fail (e.g. a corrupt row in its --shard-time block) while the others
    // wait in a collective: end the whole job rather than hang.
    abort_job("flotilla train: rank " + std::to_string(mpi.rank()) + " (trainer on " + mpi.hostname() +
              "): error: " + e.what());
  }
}

}  // namespace flotilla
