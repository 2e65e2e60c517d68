// The resolved configuration of a `flotilla train` run: defaults, overridden by a config
// file (YAML subset: one `key: value` per line, `#` comments), overridden by command-line
// flags. Keys are the flag names (with - or _). Torch-free, so the CLI can validate and
// print a configuration without loading LibTorch.
//
// Every value is range-checked when it is set (set_config_value): a value out of range is an
// error naming the flag (or the config file and line) and the valid range; a number given as
// 0 is 0, never "unset". The task-dependent settings are std::optional: empty = not given,
// filled by resolve_task_defaults.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace flotilla {

struct TrainConfig {
  std::string task = "nodeclass";   // nodeclass | forecast
  // Node classification.
  std::string shards;               // folder written by `flotilla partition`
  int samplers = 0, loaders = 0;    // 0 and 0: co-located sampling and loading
  int trainers_per_node = 0;        // > 0: trainers fill the first nodes, N each (role_plan.h)
  std::string model;                // nodeclass: sage | gcn | gat | sgc; forecast: dcrnn | dcrnn1 | tgcn ("" = task default)
  std::string fanouts = "15,10";    // input layer first (DGL order); -1 = all neighbours
  // Task-dependent: empty until given, then resolve_task_defaults fills the task's default.
  std::optional<std::uint64_t> batch_size;  // global: all trainers together (default 1024, forecast 64)
  std::uint64_t eval_batch_size = 4096;
  std::optional<int> epochs;                // default 200, forecast 10
  // Early stopping: training ends once this many epochs in a row brought no better validation
  // figure (accuracy; forecast: MAE); kPatienceOff = never. Default 100, forecast off.
  std::optional<int> patience;
  static constexpr int kPatienceOff = -1;
  std::optional<double> lr;                 // default 0.01 (sgc 0.2), forecast 0.01 (DCRNN's base_lr)
  std::optional<double> weight_decay;       // default 5e-4 (sgc 0), forecast 0
  std::optional<std::int64_t> hidden;       // default 256, forecast 64
  int heads = 4;
  double dropout = 0.5;
  double input_dropout = 0.0;       // on the input features (0.5 cost 2 points on Facebook Page-Page)
  std::string feature_norm = "none"; // none | row (divide each feature row by its sum)
  std::uint32_t prefetch = 4;       // batches in flight per trainer (distributed)
  // global: global batches sliced across trainers (same result for any trainer count);
  // local: each trainer draws seeds from its home partitions (DistDGL's node_split).
  std::string seed_assignment = "global";
  std::uint64_t max_steps = 0;      // training steps per epoch at most (0 = all; benchmarks, smoke runs)
  // Full-batch training (the reference of sampled training): one step per epoch over the
  // whole graph (every node, every edge, the loss on all training nodes), in this same
  // trainer, model, optimizer and full-graph evaluation; one process, no sampler or loader
  // ranks; --fanouts only gives the layer count. Evaluation is full (or none).
  bool full_batch = false;
  // Validation and test after every epoch: full (layer-wise inference over the whole graph,
  // flotilla/trainer/layerwise_inference.h), sampled (mini-batches with the training
  // fanouts), none, or auto (default: full when its activations fit memory_budget, else
  // sampled). "true" and "false" (older configs) read as auto and none.
  std::string eval = "auto";
  // Bytes of activations full-graph evaluation may hold in memory (beyond: auto picks sampled,
  // an explicit full spills them to RUN/.eval-activations). 0 is 0, not unlimited.
  std::uint64_t memory_budget = std::uint64_t{4} << 30;
  // Forecasting.
  std::string data;                 // traffic folder (speed.csv + adj.csv/distances.csv, or signal.npy)
  std::string batching = "index";   // index | materialized
  std::int64_t horizon = 12;        // input steps = output steps
  int layers = 2;                   // dcrnn/tgcn recurrent layers
  int diffusion_steps = 2;          // dcrnn/dcrnn1 hops per direction
  double max_grad_norm = 5.0;       // gradient clipping (DCRNN's max_grad_norm; 0 = off)
  bool shard_time = false;          // forecast: each rank holds only its time blocks
  // Common.
  std::string out;                  // run folder
  std::string resume;               // run folder to continue (its config.yaml is the base)
  std::uint64_t seed = 1;
  std::string device = "auto";      // auto | cpu | cuda[:i]
  int threads = 0;                  // LibTorch intra/inter-op threads per trainer (0 = CPUs / ranks on the node)
  // Seconds without a heartbeat from a rank (stopped, frozen, unreachable) before the job ends
  // naming it (comm/watchdog.h); 1 to 604800, never 0/off.
  double rank_timeout = 60;
  bool overwrite = false;           // --out may hold an earlier run: its run files are replaced
  bool dry_run = false;
  bool print_config = false;
  bool quiet = false;                // same as log-level warn
  std::string log_level = "info";   // error | warn | info (epoch lines, progress) | debug (every step)

  // Where each key given was set: a config file and line, or the command line (line 0).
  struct Source {
    std::string file;                // empty: a command-line flag
    std::uint64_t line = 0;
  };
  std::map<std::string, Source> sources;  // canonical key (dashes) -> where it was last set
  bool given(const std::string& key) const { return sources.count(key) != 0; }
};

// A configuration that cannot run, found only once the job knows its ranks (e.g. more
// samplers and loaders than ranks): the CLI exits 2 as for a bad flag.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Log levels, most severe first. `quiet` caps the level at Warn.
enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };
LogLevel log_level_of(const TrainConfig& c);

// What a run records beside its metrics besides the configuration: the command line and the
// software it ran with (versions.json, built by the CLI, which links every library).
struct RunInfo {
  std::string command_line;
  std::string versions_json;
};

// A byte count: digits with an optional K, M, G or T suffix (powers of 1024; "4G", "512M",
// "0"). Throws std::invalid_argument naming `name` (e.g. "--memory-budget") on anything else
// or a value beyond 2^63.
std::uint64_t parse_byte_size(const std::string& name, const std::string& text);

// Every key the config accepts, in print order.
const std::vector<std::string>& train_config_keys();

// Applies `key = value` (key with - or _) and records `from` as its source; throws
// std::invalid_argument naming the key (as --key for a flag) on an unknown key, a value that
// does not parse, or one out of its range (the message gives the range).
void set_config_value(TrainConfig& cfg, const std::string& key, const std::string& value,
                      const TrainConfig::Source& from = {});

// Reads a config file into `cfg`; errors name the file and line (InputError).
void read_config_file(const std::string& path, TrainConfig& cfg);

// YAML text of every key (parsable by read_config_file).
std::string config_to_yaml(const TrainConfig& cfg);

// Early stopping: true when `patience` epochs in a row after the best one brought nothing
// better (last_epoch - best_epoch >= patience). Never with kPatienceOff or before any best.
inline bool patience_exhausted(int patience, std::int64_t last_epoch, std::int64_t best_epoch) {
  return patience != TrainConfig::kPatienceOff && best_epoch >= 0 && last_epoch - best_epoch >= patience;
}

// Fills the task-dependent settings not given (model, batch size, epochs, lr, weight decay,
// hidden width) with the task's defaults.
void resolve_task_defaults(TrainConfig& cfg);

// Cross-field checks (e.g. shards given, model of the task, fanouts parse) and the ranges again.
// A setting that came from a config file fails with an InputError naming file and line, one
// from a flag (or missing) with std::invalid_argument naming the flag.
void validate_config(const TrainConfig& cfg);

}  // namespace flotilla
