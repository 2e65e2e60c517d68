#include "flotilla/trainer/train_config.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "flotilla/datasets/error.h"
#include "flotilla/datasets/line_reader.h"
#include "flotilla/sampler/neighbor_sampler.h"

namespace flotilla {

namespace {

std::string canonical(std::string k) {
  for (char& c : k)
    if (c == '_') c = '-';
  return k;
}

template <typename T>
T parse_number(const std::string& key, const std::string& v) {
  // istream reads "-1" into an unsigned type as 2^64 - 1: refuse a sign there.
  if (std::is_unsigned_v<T> && v.find('-') != std::string::npos)
    throw std::invalid_argument("bad value '" + v + "' for " + key + " (must not be negative)");
  std::istringstream ss(v);
  T out{};
  ss >> out;
  if (ss.fail() || !ss.eof()) throw std::invalid_argument("bad value '" + v + "' for " + key);
  return out;
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "yes" || v == "1" || v == "on") return true;
  if (v == "false" || v == "no" || v == "0" || v == "off") return false;
  throw std::invalid_argument("bad value '" + v + "' for " + key + " (true or false)");
}

std::string quote(const std::string& s) {
  if (s.empty()) return "\"\"";
  return s;
}

}  // namespace

const std::vector<std::string>& train_config_keys() {
  static const std::vector<std::string> keys = {
      "task",    "shards", "samplers", "loaders", "trainers-per-node", "model",   "fanouts",  "batch-size", "eval-batch-size",
      "epochs",  "lr",     "weight-decay", "hidden", "heads", "dropout", "input-dropout", "feature-norm", "prefetch", "seed-assignment", "max-steps", "eval", "data", "batching", "horizon", "layers", "diffusion-steps", "max-grad-norm", "shard-time",   "out",
      "resume",  "seed",   "device",   "threads",  "dry-run", "print-config", "quiet", "log-level"};
  return keys;
}

void set_config_value(TrainConfig& c, const std::string& raw_key, const std::string& v) {
  const std::string k = canonical(raw_key);
  if (k == "task") c.task = v;
  else if (k == "shards") c.shards = v;
  else if (k == "samplers") c.samplers = parse_number<int>(k, v);
  else if (k == "loaders") c.loaders = parse_number<int>(k, v);
  else if (k == "trainers-per-node") c.trainers_per_node = parse_number<int>(k, v);
  else if (k == "model") c.model = v;
  else if (k == "fanouts") c.fanouts = v;
  else if (k == "batch-size") c.batch_size = parse_number<std::uint64_t>(k, v);
  else if (k == "eval-batch-size") c.eval_batch_size = parse_number<std::uint64_t>(k, v);
  else if (k == "epochs") c.epochs = parse_number<int>(k, v);
  else if (k == "lr") c.lr = parse_number<double>(k, v);
  else if (k == "weight-decay") c.weight_decay = parse_number<double>(k, v);
  else if (k == "hidden") c.hidden = parse_number<std::int64_t>(k, v);
  else if (k == "heads") c.heads = parse_number<int>(k, v);
  else if (k == "dropout") c.dropout = parse_number<double>(k, v);
  else if (k == "input-dropout") c.input_dropout = parse_number<double>(k, v);
  else if (k == "feature-norm") c.feature_norm = v;
  else if (k == "prefetch") c.prefetch = parse_number<std::uint32_t>(k, v);
  else if (k == "seed-assignment") c.seed_assignment = v;
  else if (k == "max-steps") c.max_steps = parse_number<std::uint64_t>(k, v);
  else if (k == "eval") c.eval = parse_bool(k, v);
  else if (k == "data") c.data = v;
  else if (k == "batching") c.batching = v;
  else if (k == "horizon") c.horizon = parse_number<std::int64_t>(k, v);
  else if (k == "layers") c.layers = parse_number<int>(k, v);
  else if (k == "diffusion-steps") c.diffusion_steps = parse_number<int>(k, v);
  else if (k == "max-grad-norm") c.max_grad_norm = parse_number<double>(k, v);
  else if (k == "shard-time") c.shard_time = parse_bool(k, v);
  else if (k == "out") c.out = v;
  else if (k == "resume") c.resume = v;
  else if (k == "seed") c.seed = parse_number<std::uint64_t>(k, v);
  else if (k == "device") c.device = v;
  else if (k == "threads") c.threads = parse_number<int>(k, v);
  else if (k == "dry-run") c.dry_run = parse_bool(k, v);
  else if (k == "print-config") c.print_config = parse_bool(k, v);
  else if (k == "quiet") c.quiet = parse_bool(k, v);
  else if (k == "log-level") {
    if (v != "error" && v != "warn" && v != "info" && v != "debug")
      throw std::invalid_argument("log-level: '" + v + "' is not one of error, warn, info, debug");
    c.log_level = v;
  }
  else throw std::invalid_argument("unknown key '" + raw_key + "'");
}

void read_config_file(const std::string& path, TrainConfig& cfg) {
  LineReader in(path);
  std::string_view view;
  std::map<std::string, std::uint64_t> seen;
  while (in.next(view)) {
    std::string line(view);
    const std::uint64_t no = in.line_number();
    // A comment starts at a '#' that begins the line or follows a blank (YAML's rule), so
    // values such as `out: run#1` keep their '#'.
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
        line.resize(i);
        break;
      }
    }
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) throw_at_line(path, no, "expected 'key: value'");
    std::string key = line.substr(first, colon - first), value = line.substr(colon + 1);
    auto trim = [](std::string& s) {
      const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
      s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
      if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\'')))
        s = s.substr(1, s.size() - 2);
    };
    trim(key);
    trim(value);
    if (auto [it, fresh] = seen.emplace(canonical(key), no); !fresh)
      throw_at_line(path, no, "key '" + key + "' already set on line " + std::to_string(it->second));
    try {
      set_config_value(cfg, key, value);
    } catch (const std::invalid_argument& e) {
      throw_at_line(path, no, e.what());
    }
  }
}

LogLevel log_level_of(const TrainConfig& c) {
  LogLevel l = c.log_level == "error" ? LogLevel::Error
               : c.log_level == "warn" ? LogLevel::Warn
               : c.log_level == "debug" ? LogLevel::Debug
                                        : LogLevel::Info;
  if (c.quiet && l > LogLevel::Warn) l = LogLevel::Warn;
  return l;
}

// Run-time options (dry-run, print-config, quiet, log-level) are not part of a run's
// configuration: a resumed run may use others.
std::string config_to_yaml(const TrainConfig& c) {
  std::ostringstream o;
  o.precision(12);
  o << "task: " << c.task << "\nshards: " << quote(c.shards) << "\nsamplers: " << c.samplers
    << "\nloaders: " << c.loaders << "\ntrainers-per-node: " << c.trainers_per_node << "\nmodel: " << c.model << "\nfanouts: " << c.fanouts
    << "\nbatch-size: " << c.batch_size << "\neval-batch-size: " << c.eval_batch_size << "\nepochs: " << c.epochs
    << "\nlr: " << c.lr << "\nweight-decay: " << c.weight_decay << "\nhidden: " << c.hidden << "\nheads: " << c.heads
    << "\ndropout: " << c.dropout << "\ninput-dropout: " << c.input_dropout << "\nfeature-norm: " << c.feature_norm << "\nprefetch: " << c.prefetch << "\nseed-assignment: " << c.seed_assignment << "\nmax-steps: " << c.max_steps
    << "\neval: " << (c.eval ? "true" : "false") << "\ndata: " << quote(c.data) << "\nbatching: " << c.batching
    << "\nhorizon: " << c.horizon << "\nlayers: " << c.layers << "\ndiffusion-steps: " << c.diffusion_steps
    << "\nmax-grad-norm: " << c.max_grad_norm << "\nshard-time: " << (c.shard_time ? "true" : "false") << "\nout: " << quote(c.out)
    << "\nseed: " << c.seed << "\ndevice: " << c.device << "\nthreads: " << c.threads << "\n";
  return o.str();
}

void resolve_task_defaults(TrainConfig& c) {
  const bool fc = c.task == "forecast";
  if (c.model.empty()) c.model = fc ? "dcrnn" : "sage";
  if (c.batch_size == 0) c.batch_size = fc ? 64 : 1024;
  // Forecast: 10 epochs suit a week of 5-minute data (~1,400 training windows); DCRNN's own
  // METR-LA config (4 months) runs 100: pass --epochs 100 there.
  if (c.epochs == 0) c.epochs = fc ? 10 : 50;
  if (c.lr == 0) c.lr = fc ? 0.01 : 0.005;
  if (c.weight_decay < 0) c.weight_decay = fc ? 0.0 : 2e-3;
  if (c.hidden == 0) c.hidden = fc ? 64 : 256;
}

void validate_config(const TrainConfig& c) {
  auto bad = [](const std::string& m) { throw std::invalid_argument(m); };
  if (c.task != "nodeclass" && c.task != "forecast") bad("--task must be nodeclass or forecast");
  if (c.task == "forecast") {
    if (c.data.empty()) bad("--data DIR is required for --task forecast (a traffic folder)");
    if (c.out.empty() && !c.dry_run) bad("--out RUNDIR is required");
    if (c.model != "dcrnn" && c.model != "dcrnn1" && c.model != "tgcn") bad("--model must be dcrnn, dcrnn1 or tgcn for forecasting");
    if (c.batching != "index" && c.batching != "materialized") bad("--batching must be index or materialized");
    if (c.horizon < 1) bad("--horizon must be at least 1");
    if (c.epochs < 1) bad("--epochs must be at least 1");
    if (c.batch_size < 1) bad("--batch-size must be at least 1");
    if (!(c.lr > 0) || !std::isfinite(c.lr)) bad("--lr must be positive");
    if (c.layers < 1 || c.diffusion_steps < 0 || c.hidden < 1) bad("--layers, --hidden >= 1 and --diffusion-steps >= 0");
    if (!(c.max_grad_norm >= 0)) bad("--max-grad-norm must be >= 0");
    if (c.samplers || c.loaders || c.trainers_per_node)
      bad("forecasting has no sampler or loader ranks (every rank trains): --samplers, --loaders and "
          "--trainers-per-node apply to node classification");
    return;
  }
  if (c.shard_time) bad("--shard-time applies to --task forecast (node classification shards by partition)");
  if (c.shards.empty()) bad("--shards DIR is required (a folder written by `flotilla partition`)");
  if (c.out.empty() && !c.dry_run) bad("--out RUNDIR is required");
  if (c.epochs < 1) bad("--epochs must be at least 1");
  if (c.batch_size < 1 || c.eval_batch_size < 1) bad("batch sizes must be at least 1");
  if (!(c.lr > 0) || !std::isfinite(c.lr)) bad("--lr must be positive");
  if (!(c.weight_decay >= 0)) bad("--weight-decay must be >= 0");
  if (!(c.dropout >= 0 && c.dropout < 1)) bad("--dropout must be in [0, 1)");
  if (!(c.input_dropout >= 0 && c.input_dropout < 1)) bad("--input-dropout must be in [0, 1)");
  if (c.hidden < 1) bad("--hidden must be at least 1");
  if (c.heads < 1) bad("--heads must be at least 1");
  if (c.prefetch < 1) bad("--prefetch must be at least 1");
  if (c.feature_norm != "none" && c.feature_norm != "row") bad("--feature-norm must be none or row");
  if (c.seed_assignment != "global" && c.seed_assignment != "local") bad("--seed-assignment must be global or local");
  if (c.threads < 0) bad("--threads must be >= 0");
  if (c.samplers < 0 || c.loaders < 0) bad("--samplers and --loaders must be >= 0");
  if (c.trainers_per_node < 0) bad("--trainers-per-node must be >= 0");
  if ((c.samplers == 0) != (c.loaders == 0)) bad("--samplers and --loaders are both 0 (co-located) or both >= 1");
  if (c.model != "sage" && c.model != "gcn" && c.model != "gat") bad("--model must be sage, gcn or gat");
  parse_fanouts(c.fanouts);
}

}  // namespace flotilla
