// `flotilla predict`: a trained run's model over every node (layer-wise full-neighbourhood
// inference), written as .npy files in original node order. Runs as one process or under
// mpirun/srun (every rank computes blocks of nodes).
#include <cxxopts.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>

#include "../cli_util.h"
#include "../commands.h"
#include "flotilla/comm.h"
#include "flotilla/datasets/error.h"
#include "flotilla/trainer/predict.h"
#include "flotilla/trainer/train_config.h"

namespace flotilla::cli {

namespace {

// A whole decimal number in [lo, hi]; anything else names the flag and the range.
std::uint64_t count_in_range(const std::string& flag, const std::string& text, std::uint64_t lo, std::uint64_t hi) {
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  errno = 0;
  const unsigned long long v = digits ? std::strtoull(text.c_str(), nullptr, 10) : 0;
  if (!digits || errno == ERANGE)
    throw std::invalid_argument(flag + ": '" + text + "' is not a whole number");
  if (v < lo || v > hi)
    throw std::invalid_argument(flag + ": " + text + " is out of range (valid: " + std::to_string(lo) + " to " +
                                std::to_string(hi) + ")");
  return v;
}

}  // namespace

int cmd_predict(int argc, char** argv) {
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "flotilla ") + std::string(argv[i]);
  cxxopts::Options options("flotilla predict",
                           "Run a trained node-classification model over every node of a graph, one layer at a time\n"
                           "over the full neighbourhoods (as DGL/PyG evaluate), and write the predictions.\n"
                           "  [mpirun -np P] flotilla predict --run RUNDIR [--shards DIR] --out OUTDIR [--probs] [--embeddings]\n"
                           "OUTDIR gets predictions.npy (int64 class per node, original node order), optionally probs.npy\n"
                           "and embeddings.npy, and summary.json (accuracy per labelled split, peak RSS, times).");
  options.add_options()
      ("run", "run folder of `flotilla train` (its config.yaml; parameters from best_model.pt)", cxxopts::value<std::string>())
      ("checkpoint", "parameters file instead of RUNDIR/best_model.pt (best_model.pt or checkpoint.pt); without --run, "
       "its folder is the run folder", cxxopts::value<std::string>())
      ("shards", "graph with features: a `flotilla partition` folder (default: the run's --shards)", cxxopts::value<std::string>())
      ("out", "output folder: absent or empty unless --overwrite; written as OUTDIR.tmp-PID and renamed", cxxopts::value<std::string>())
      ("probs", "also write probs.npy: float32 [nodes, classes], softmax of the logits")
      ("embeddings", "also write embeddings.npy: float32 [nodes, hidden], the last hidden layer (the output layer's input)")
      ("overwrite", "replace an earlier predict output in --out")
      ("memory-budget", "bytes of activations kept in memory, e.g. 512M, 4G (default 4G); beyond it each layer's "
       "activations go to files in --scratch. 0 = always on disk", cxxopts::value<std::string>())
      ("block-size", "destination nodes per block (default 4096, as training's full evaluation; 1 or more)",
       cxxopts::value<std::string>())
      ("scratch", "folder for activations over --memory-budget, the same (shared) path on every rank (default: "
       "inside OUTDIR's temp folder)", cxxopts::value<std::string>())
      ("loaders", "feature-loader ranks: the last L ranks of the job serve the feature rows and keep each layer's "
       "rows (on disk beyond --memory-budget), the others compute (default 0: every rank holds the graph)",
       cxxopts::value<std::string>())
      ("device", "auto | cpu | cuda[:i] (default auto: GPU by node-local rank when present)", cxxopts::value<std::string>())
      ("threads", "LibTorch threads per rank, 0 (default) = this process's CPUs divided by the ranks on its node",
       cxxopts::value<std::string>())
      ("q,quiet", "no progress bar or summary (log level warn)")
      ("log-level", "error | warn | info (default: progress bar on a TTY, summary) | debug", cxxopts::value<std::string>())
      ("h,help", "show this help");
  int code = kExitOk;
  auto parsed = parse_or_exit(options, argc, argv, &code);
  if (!parsed) return code;
  auto& r = *parsed;
  PredictConfig cfg;
  try {
    auto text = [&r](const char* k) { return r.count(k) ? r[k].as<std::string>() : std::string(); };
    cfg.run = text("run");
    cfg.checkpoint = text("checkpoint");
    cfg.shards = text("shards");
    cfg.out = text("out");
    cfg.scratch = text("scratch");
    cfg.probs = r.count("probs") > 0;
    cfg.embeddings = r.count("embeddings") > 0;
    cfg.overwrite = r.count("overwrite") > 0;
    if (r.count("memory-budget")) cfg.memory_budget = parse_byte_size("--memory-budget", text("memory-budget"));
    if (r.count("block-size"))
      cfg.block_size = count_in_range("--block-size", text("block-size"), 1, std::numeric_limits<std::uint32_t>::max());
    if (r.count("loaders")) cfg.loaders = static_cast<int>(count_in_range("--loaders", text("loaders"), 0, 65536));
    if (r.count("threads")) cfg.threads = static_cast<int>(count_in_range("--threads", text("threads"), 0, 65536));
    if (r.count("device")) {
      const std::string d = text("device");
      const bool cuda_n = d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.size() <= 8 &&
                          d.find_first_not_of("0123456789", 5) == std::string::npos;
      if (d != "auto" && d != "cpu" && d != "cuda" && !cuda_n)
        throw std::invalid_argument("--device: '" + d + "' is not one of auto, cpu, cuda or cuda:N");
      cfg.device = d;
    }
    if (r.count("log-level")) {
      cfg.log_level = text("log-level");
      if (cfg.log_level != "error" && cfg.log_level != "warn" && cfg.log_level != "info" && cfg.log_level != "debug")
        throw std::invalid_argument("--log-level: '" + cfg.log_level + "' is not one of error, warn, info or debug");
    }
    if (r.count("quiet") && (cfg.log_level == "info" || cfg.log_level == "debug")) cfg.log_level = "warn";
    if (cfg.run.empty() && cfg.checkpoint.empty())
      throw std::invalid_argument("--run RUNDIR (or --checkpoint FILE) is required");
    if (cfg.out.empty()) throw std::invalid_argument("--out OUTDIR is required");
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "flotilla predict: %s\n(see flotilla predict --help)\n", e.what());
    return kExitUsage;
  }
  MpiSession mpi(&argc, &argv);
  try {
    return run_predict(cfg, mpi, command_line);
  } catch (const std::invalid_argument& e) {  // flags that do not fit the job (e.g. --loaders vs ranks)
    if (mpi.rank() == 0) std::fprintf(stderr, "flotilla predict: %s\n(see flotilla predict --help)\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    // Refusals before the work (no run folder, bad shards, existing output) happen on every
    // rank alike; one says so.
    if (mpi.rank() == 0) std::fprintf(stderr, "flotilla predict: error: %s\n", e.what());
    return kExitFailure;
  }
}

}  // namespace flotilla::cli
