// The resolved configuration of a `flotilla train` run: defaults, overridden by a config
// file (YAML subset: one `key: value` per line, `#` comments), overridden by command-line
// flags. Keys are the flag names (with - or _). Torch-free, so the CLI can validate and
// print a configuration without loading LibTorch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flotilla {

struct TrainConfig {
  std::string task = "nodeclass";   // nodeclass | forecast
  // Node classification.
  std::string shards;               // folder written by `flotilla partition`
  int samplers = 0, loaders = 0;    // 0 and 0: co-located sampling and loading
  std::string model = "sage";       // sage | gcn | gat
  std::string fanouts = "15,10";    // input layer first (DGL order); -1 = all neighbours
  std::uint64_t batch_size = 1024;  // global: all trainers together
  std::uint64_t eval_batch_size = 4096;
  int epochs = 50;
  double lr = 0.005;
  double weight_decay = 2e-3;
  std::int64_t hidden = 256;
  int heads = 4;
  double dropout = 0.5;
  double input_dropout = 0.5;       // on the input features
  std::string feature_norm = "none"; // none | row (divide each feature row by its sum)
  std::uint32_t prefetch = 4;       // batches in flight per trainer (distributed)
  // global: global batches sliced across trainers (same result for any trainer count);
  // local: each trainer draws seeds from its home partitions (DistDGL's node_split).
  std::string seed_assignment = "global";
  std::uint64_t max_steps = 0;      // training steps per epoch at most (0 = all; benchmarks, smoke runs)
  bool eval = true;                 // validation and test after every epoch
  // Common.
  std::string out;                  // run folder
  std::string resume;               // run folder to continue (its config.yaml is the base)
  std::uint64_t seed = 1;
  std::string device = "auto";      // auto | cpu | cuda[:i]
  int threads = 0;                  // LibTorch intra/inter-op threads per trainer (0 = default)
  bool dry_run = false;
  bool print_config = false;
  bool quiet = false;
};

// Every key the config accepts, in print order.
const std::vector<std::string>& train_config_keys();

// Applies `key = value` (key with - or _); throws std::invalid_argument naming the key on an
// unknown key or a bad value.
void set_config_value(TrainConfig& cfg, const std::string& key, const std::string& value);

// Reads a config file into `cfg`; errors name the file and line (InputError).
void read_config_file(const std::string& path, TrainConfig& cfg);

// YAML text of every key (parsable by read_config_file).
std::string config_to_yaml(const TrainConfig& cfg);

// Cross-field checks (e.g. shards given, epochs >= 1, fanouts parse); throws std::invalid_argument.
void validate_config(const TrainConfig& cfg);

}  // namespace flotilla
