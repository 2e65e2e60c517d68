#include "flotilla/trainer/train_config.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
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
T parse_number(const std::string& name, const std::string& v) {
  // istream reads "-1" into an unsigned type as 2^64 - 1: refuse a sign there.
  if (std::is_unsigned_v<T> && v.find('-') != std::string::npos)
    throw std::invalid_argument(name + ": bad value '" + v + "' (must not be negative)");
  if constexpr (std::is_floating_point_v<T>) {
    // strtod: also "inf" and "nan", which the range checks then refuse by name.
    char* end = nullptr;
    const double d = v.empty() || std::isspace(static_cast<unsigned char>(v[0])) ? 0 : std::strtod(v.c_str(), &end);
    if (end == nullptr || end != v.c_str() + v.size())
      throw std::invalid_argument(name + ": bad value '" + v + "' (expected a number)");
    return static_cast<T>(d);
  } else {
    std::istringstream ss(v);
    T out{};
    ss >> out;
    if (ss.fail() || !ss.eof()) throw std::invalid_argument(name + ": bad value '" + v + "' (expected an integer)");
    return out;
  }
}

bool parse_bool(const std::string& name, const std::string& v) {
  if (v == "true" || v == "yes" || v == "1" || v == "on") return true;
  if (v == "false" || v == "no" || v == "0" || v == "off") return false;
  throw std::invalid_argument(name + ": bad value '" + v + "' (true or false)");
}

std::string quote(const std::string& s) {
  if (s.empty()) return "\"\"";
  return s;
}

template <typename T>
std::string str(T v) {
  std::ostringstream o;
  o.precision(12);
  o << v;
  return o.str();
}

// Integer in [lo, hi], read as a 64-bit integer first so that a value beyond T is out of
// range too; an upper bound at the 64-bit maximum prints as "or more".
template <typename T>
T in_range(const std::string& name, const std::string& v, T lo, T hi) {
  using Wide = std::conditional_t<std::is_signed_v<T>, std::int64_t, std::uint64_t>;
  const Wide x = parse_number<Wide>(name, v);
  if (x < static_cast<Wide>(lo) || x > static_cast<Wide>(hi)) {
    const std::string range = static_cast<Wide>(hi) == std::numeric_limits<Wide>::max() ? str(lo) + " or more"
                                                                                      : str(lo) + " to " + str(hi);
    throw std::invalid_argument(name + ": " + v + " is out of range (valid: " + range + ")");
  }
  return static_cast<T>(x);
}

// Finite real with x > 0 (positive), x >= 0, or 0 <= x < 1 (fraction).
enum class Real { Positive, NonNegative, Fraction };
double real_in_range(const std::string& name, const std::string& v, Real kind) {
  const double x = parse_number<double>(name, v);
  const bool ok = std::isfinite(x) && (kind == Real::Positive ? x > 0 : kind == Real::NonNegative ? x >= 0 : x >= 0 && x < 1);
  if (!ok)
    throw std::invalid_argument(name + ": " + v + " is out of range (valid: " +
                                (kind == Real::Positive      ? "a finite number > 0"
                                 : kind == Real::NonNegative ? "a finite number >= 0"
                                                             : "0 <= x < 1") +
                                ")");
  return x;
}

const std::string& one_of(const std::string& name, const std::string& v, const std::vector<std::string>& allowed) {
  for (const std::string& a : allowed)
    if (v == a) return v;
  std::string list;
  for (std::size_t i = 0; i < allowed.size(); ++i)
    list += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
  throw std::invalid_argument(name + ": '" + v + "' is not one of " + list);
}

constexpr int kIntMax = std::numeric_limits<int>::max();

}  // namespace

std::uint64_t parse_byte_size(const std::string& name, const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string suffix = text.substr(digits);
  int shift = -1;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "k" || suffix == "KiB") shift = 10;
  else if (suffix == "M" || suffix == "MiB") shift = 20;
  else if (suffix == "G" || suffix == "GiB") shift = 30;
  else if (suffix == "T" || suffix == "TiB") shift = 40;
  if (digits == 0 || shift < 0 || digits > 19)
    throw std::invalid_argument(name + ": '" + text + "' is not a byte count (digits with an optional K, M, G or T suffix, e.g. 4G)");
  const std::uint64_t x = std::stoull(text.substr(0, digits));
  if (x > (std::uint64_t{1} << (63 - shift)))
    throw std::invalid_argument(name + ": " + text + " is out of range (valid: 0 to 8E bytes)");
  return x << shift;
}

const std::vector<std::string>& train_config_keys() {
  static const std::vector<std::string> keys = {
      "task",    "shards", "samplers", "loaders", "trainers-per-node", "model",   "fanouts",  "batch-size", "eval-batch-size",
      "epochs",  "patience", "lr",     "weight-decay", "hidden", "heads", "dropout", "input-dropout", "feature-norm", "prefetch", "seed-assignment", "max-steps", "full-batch", "eval", "memory-budget", "data", "batching", "horizon", "layers", "diffusion-steps", "max-grad-norm", "shard-time",   "out",
      "resume",  "seed",   "device",   "threads",  "rank-timeout", "overwrite", "dry-run", "print-config", "quiet", "log-level"};
  return keys;
}

void set_config_value(TrainConfig& c, const std::string& raw_key, const std::string& v, const TrainConfig::Source& from) {
  const std::string k = canonical(raw_key);
  // Errors name the flag as written on the command line, or the key of a config file line
  // (read_config_file adds the file and line).
  const std::string n = from.file.empty() ? "--" + k : k;
  if (k == "task") c.task = one_of(n, v, {"nodeclass", "forecast"});
  else if (k == "shards") c.shards = v;
  else if (k == "samplers") c.samplers = in_range<int>(n, v, 0, kIntMax);
  else if (k == "loaders") c.loaders = in_range<int>(n, v, 0, kIntMax);
  else if (k == "trainers-per-node") c.trainers_per_node = in_range<int>(n, v, 0, kIntMax);
  // Every model of either task here; validate_config checks it against the task.
  else if (k == "model") c.model = one_of(n, v, {"sage", "gcn", "gat", "sgc", "dcrnn", "dcrnn1", "tgcn"});
  else if (k == "fanouts") c.fanouts = v;
  else if (k == "batch-size") c.batch_size = in_range<std::uint64_t>(n, v, 1, std::numeric_limits<std::uint64_t>::max());
  else if (k == "eval-batch-size") c.eval_batch_size = in_range<std::uint64_t>(n, v, 1, std::numeric_limits<std::uint64_t>::max());
  else if (k == "epochs") c.epochs = in_range<int>(n, v, 1, kIntMax);
  else if (k == "patience") {
    if (v == "off") c.patience = TrainConfig::kPatienceOff;
    else try {
      c.patience = in_range<int>(n, v, 1, kIntMax);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument(n + ": '" + v + "' is not an epoch count from 1 or 'off'");
    }
  }
  else if (k == "lr") c.lr = real_in_range(n, v, Real::Positive);
  else if (k == "weight-decay") c.weight_decay = real_in_range(n, v, Real::NonNegative);
  else if (k == "hidden") c.hidden = in_range<std::int64_t>(n, v, 1, std::int64_t{1} << 20);
  else if (k == "heads") c.heads = in_range<int>(n, v, 1, 1024);
  else if (k == "dropout") c.dropout = real_in_range(n, v, Real::Fraction);
  else if (k == "input-dropout") c.input_dropout = real_in_range(n, v, Real::Fraction);
  else if (k == "feature-norm") c.feature_norm = one_of(n, v, {"none", "row"});
  else if (k == "prefetch") c.prefetch = in_range<std::uint32_t>(n, v, 1, 65536);
  else if (k == "seed-assignment") c.seed_assignment = one_of(n, v, {"global", "local"});
  else if (k == "max-steps") c.max_steps = parse_number<std::uint64_t>(n, v);  // 0 = all
  else if (k == "full-batch") c.full_batch = parse_bool(n, v);
  else if (k == "eval") {
    const std::string& e = one_of(n, v, {"auto", "full", "sampled", "none", "true", "false"});
    c.eval = e == "true" ? "auto" : e == "false" ? "none" : e;
  }
  else if (k == "memory-budget") c.memory_budget = parse_byte_size(n, v);
  else if (k == "data") c.data = v;
  else if (k == "batching") c.batching = one_of(n, v, {"index", "materialized"});
  else if (k == "horizon") c.horizon = in_range<std::int64_t>(n, v, 1, std::int64_t{1} << 20);
  else if (k == "layers") c.layers = in_range<int>(n, v, 1, 64);
  else if (k == "diffusion-steps") c.diffusion_steps = in_range<int>(n, v, 0, 64);
  else if (k == "max-grad-norm") c.max_grad_norm = real_in_range(n, v, Real::NonNegative);  // 0 = off
  else if (k == "shard-time") c.shard_time = parse_bool(n, v);
  else if (k == "out") c.out = v;
  else if (k == "resume") c.resume = v;
  else if (k == "seed") c.seed = parse_number<std::uint64_t>(n, v);
  else if (k == "device") {
    const bool cuda_n = v.rfind("cuda:", 0) == 0 && v.size() > 5 && v.size() <= 8 &&
                        v.find_first_not_of("0123456789", 5) == std::string::npos;
    if (v != "auto" && v != "cpu" && v != "cuda" && !cuda_n)
      throw std::invalid_argument(n + ": '" + v + "' is not one of auto, cpu, cuda or cuda:N");
    c.device = v;
  }
  else if (k == "threads") c.threads = in_range<int>(n, v, 0, 65536);  // 0 = CPUs / ranks on the node
  else if (k == "rank-timeout") {
    const double x = parse_number<double>(n, v);
    if (!(std::isfinite(x) && x >= 1 && x <= 604800))
      throw std::invalid_argument(n + ": " + v + " is out of range (valid: 1 to 604800 seconds; there is no 'off')");
    c.rank_timeout = x;
  }
  else if (k == "overwrite") c.overwrite = parse_bool(n, v);
  else if (k == "dry-run") c.dry_run = parse_bool(n, v);
  else if (k == "print-config") c.print_config = parse_bool(n, v);
  else if (k == "quiet") c.quiet = parse_bool(n, v);
  else if (k == "log-level") c.log_level = one_of(n, v, {"error", "warn", "info", "debug"});
  else throw std::invalid_argument("unknown key '" + raw_key + "'");
  c.sources[k] = from;
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
      set_config_value(cfg, key, value, TrainConfig::Source{path, no});
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
  // Settings not given and not resolved yet (model, the optionals) are left out: reading the
  // text back leaves them unset.
  auto opt = [&o](const char* key, const auto& v) {
    if (v) o << "\n" << key << ": " << *v;
  };
  o << "task: " << c.task << "\nshards: " << quote(c.shards) << "\nsamplers: " << c.samplers
    << "\nloaders: " << c.loaders << "\ntrainers-per-node: " << c.trainers_per_node;
  if (!c.model.empty()) o << "\nmodel: " << c.model;
  o << "\nfanouts: " << c.fanouts;
  opt("batch-size", c.batch_size);
  o << "\neval-batch-size: " << c.eval_batch_size;
  opt("epochs", c.epochs);
  if (c.patience) {
    if (*c.patience == TrainConfig::kPatienceOff) o << "\npatience: off";
    else o << "\npatience: " << *c.patience;
  }
  opt("lr", c.lr);
  opt("weight-decay", c.weight_decay);
  opt("hidden", c.hidden);
  o << "\nheads: " << c.heads
    << "\ndropout: " << c.dropout << "\ninput-dropout: " << c.input_dropout << "\nfeature-norm: " << c.feature_norm << "\nprefetch: " << c.prefetch << "\nseed-assignment: " << c.seed_assignment << "\nmax-steps: " << c.max_steps << "\nfull-batch: " << (c.full_batch ? "true" : "false")
    << "\neval: " << c.eval << "\nmemory-budget: " << c.memory_budget << "\ndata: " << quote(c.data) << "\nbatching: " << c.batching
    << "\nhorizon: " << c.horizon << "\nlayers: " << c.layers << "\ndiffusion-steps: " << c.diffusion_steps
    << "\nmax-grad-norm: " << c.max_grad_norm << "\nshard-time: " << (c.shard_time ? "true" : "false") << "\nout: " << quote(c.out)
    << "\nseed: " << c.seed << "\ndevice: " << c.device << "\nthreads: " << c.threads
    << "\nrank-timeout: " << c.rank_timeout << "\n";
  return o.str();
}

void resolve_task_defaults(TrainConfig& c) {
  const bool fc = c.task == "forecast";
  if (c.model.empty()) c.model = fc ? "dcrnn" : "sage";
  if (!c.batch_size) c.batch_size = fc ? 64 : 1024;
  // Forecast: 10 epochs suit a week of 5-minute data (~1,400 training windows); DCRNN's own
  // METR-LA config (4 months) runs 100: pass --epochs 100 there.
  // Node classification: up to 200 epochs, stopped 100 epochs after the best validation
  // accuracy (the GAT paper's patience). Small Planetoid training sets (140 nodes on Cora) make
  // one step per epoch and need the 200 steps of the full-batch references; their validation
  // accuracy peaks within 10 epochs, dips as the model overfits and recovers under weight
  // decay, so a patience of 50 stopped before the later peaks (full-batch references replayed
  // with patience 50: Cora sage 0.794, CiteSeer sage 0.685; with 100 or none: 0.797, 0.693).
  if (!c.epochs) c.epochs = fc ? 10 : 200;
  if (!c.patience) c.patience = fc ? TrainConfig::kPatienceOff : 100;
  // Node classification: PyG's/DGL's example settings (Adam lr 0.01, weight decay 5e-4), which
  // on Facebook Page-Page reach the full-batch reference (docs/nodeclass-references.md) where
  // lr 0.005 with weight decay 2e-3 and input dropout 0.5 stayed 2 points below it. sgc is
  // logistic regression: the SGC paper's lr 0.2 (it learns nothing useful in 50 epochs at 0.01).
  const bool sgc = c.model == "sgc";
  if (!c.lr) c.lr = fc ? 0.01 : sgc ? 0.2 : 0.01;
  if (!c.weight_decay) c.weight_decay = fc ? 0.0 : sgc ? 0.0 : 5e-4;
  if (!c.hidden) c.hidden = fc ? 64 : 256;
}

namespace {

// A configuration error about `key`: at the config file line that set it (InputError), or
// naming the flag (std::invalid_argument, the CLI's usage error).
[[noreturn]] void bad_setting(const TrainConfig& c, const std::string& key, const std::string& what) {
  const auto it = c.sources.find(key);
  if (it != c.sources.end() && !it->second.file.empty())
    throw_at_line(it->second.file, it->second.line, key + ": " + what);
  throw std::invalid_argument("--" + key + ": " + what);
}

// Re-applies the range checks of set_config_value to the values held (a TrainConfig built in
// code, or defaults), naming where each came from.
void check_ranges(const TrainConfig& c) {
  auto again = [&c](const std::string& key, const std::string& text) {
    TrainConfig scratch;
    try {
      set_config_value(scratch, key, text, c.sources.count(key) ? c.sources.at(key) : TrainConfig::Source{});
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      const auto colon = m.find(": ");
      bad_setting(c, key, colon == std::string::npos ? m : m.substr(colon + 2));
    }
  };
  auto num = [](auto v) {
    std::ostringstream o;
    o.precision(17);
    o << v;
    return o.str();
  };
  again("task", c.task);
  if (!c.model.empty()) again("model", c.model);
  again("samplers", num(c.samplers));
  again("loaders", num(c.loaders));
  again("trainers-per-node", num(c.trainers_per_node));
  if (c.batch_size) again("batch-size", num(*c.batch_size));
  again("eval-batch-size", num(c.eval_batch_size));
  if (c.epochs) again("epochs", num(*c.epochs));
  if (c.patience) again("patience", *c.patience == TrainConfig::kPatienceOff ? "off" : num(*c.patience));
  if (c.lr) again("lr", num(*c.lr));
  if (c.weight_decay) again("weight-decay", num(*c.weight_decay));
  if (c.hidden) again("hidden", num(*c.hidden));
  again("heads", num(c.heads));
  again("dropout", num(c.dropout));
  again("input-dropout", num(c.input_dropout));
  again("feature-norm", c.feature_norm);
  again("prefetch", num(c.prefetch));
  again("seed-assignment", c.seed_assignment);
  again("batching", c.batching);
  again("horizon", num(c.horizon));
  again("layers", num(c.layers));
  again("diffusion-steps", num(c.diffusion_steps));
  again("max-grad-norm", num(c.max_grad_norm));
  again("device", c.device);
  again("threads", num(c.threads));
  again("rank-timeout", num(c.rank_timeout));
  again("log-level", c.log_level);
}

}  // namespace

void validate_config(const TrainConfig& c) {
  auto bad = [](const std::string& m) { throw std::invalid_argument(m); };
  check_ranges(c);
  if (!c.batch_size || !c.epochs || !c.patience || !c.lr || !c.weight_decay || !c.hidden || c.model.empty())
    throw std::logic_error("validate_config: resolve_task_defaults first");
  if (!c.resume.empty() && c.overwrite) bad("--overwrite and --resume exclude each other (--resume continues its run folder)");
  if (c.task == "forecast") {
    if (c.data.empty()) bad("--data DIR is required for --task forecast (a traffic folder)");
    if (c.out.empty() && !c.dry_run) bad("--out RUNDIR is required");
    if (c.model != "dcrnn" && c.model != "dcrnn1" && c.model != "tgcn")
      bad_setting(c, "model", "'" + c.model + "' is not a forecasting model (dcrnn, dcrnn1 or tgcn)");
    if (c.eval == "full" || c.eval == "sampled")
      bad_setting(c, "eval", "'" + c.eval + "' applies to node classification (forecasting: auto or none)");
    if (c.full_batch) bad("--full-batch applies to node classification");
    if (c.samplers || c.loaders || c.trainers_per_node)
      bad("forecasting has no sampler or loader ranks (every rank trains): --samplers, --loaders and "
          "--trainers-per-node apply to node classification");
    return;
  }
  if (c.shard_time) bad("--shard-time applies to --task forecast (node classification shards by partition)");
  if (c.full_batch) {
    if (c.samplers || c.loaders)
      bad("--full-batch trains one process on the whole graph: it takes no --samplers or --loaders");
    if (c.eval == "sampled")
      bad_setting(c, "eval", "'sampled' does not apply to --full-batch, which evaluates on the full graph (full, none or auto)");
  }
  if (c.shards.empty()) bad("--shards DIR is required (a folder written by `flotilla partition`)");
  if (c.out.empty() && !c.dry_run) bad("--out RUNDIR is required");
  if ((c.samplers == 0) != (c.loaders == 0)) bad("--samplers and --loaders are both 0 (co-located) or both >= 1");
  if (c.model != "sage" && c.model != "gcn" && c.model != "gat" && c.model != "sgc")
    bad_setting(c, "model", "'" + c.model + "' is not a node-classification model (sage, gcn, gat or sgc)");
  try {
    parse_fanouts(c.fanouts);
  } catch (const std::invalid_argument& e) {
    bad_setting(c, "fanouts", e.what());
  }
}

}  // namespace flotilla
