// `flotilla train`: configuration (defaults < --config file < --resume RUNDIR's config <
// flags), then the MPI job. Runs as a single process or under mpirun/srun.
#include <cxxopts.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "../cli_util.h"
#include "../commands.h"
#include "flotilla/comm.h"
#include "flotilla/comm/communicator.h"
#include "flotilla/comm/watchdog.h"
#include "flotilla/datasets/error.h"
#include "flotilla/partition/shard.h"
#include "flotilla/trainer/forecast.h"
#include "flotilla/trainer/nodeclass.h"
#include "flotilla/trainer/run_folder.h"
#include "flotilla/trainer/train_config.h"

namespace flotilla::cli {

int cmd_train(int argc, char** argv) {
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "flotilla ") + std::string(argv[i]);
  cxxopts::Options options("flotilla train",
                           "Train a GNN on shards written by `flotilla partition`.\n"
                           "  mpirun -np P flotilla train --shards DIR --samplers S --loaders L --out RUNDIR\n"
                           "The remaining P - S - L ranks are trainers; --samplers 0 --loaders 0 samples and loads\n"
                           "inside each trainer. Options may also come from --config FILE (lines 'key: value').");
  const TrainConfig d;
  options.add_options()
      ("config", "config file (YAML subset: key: value per line); flags override it", cxxopts::value<std::string>())
      ("task", "nodeclass | forecast", cxxopts::value<std::string>())
      ("data", "forecast: traffic folder (speed.csv + adj.csv or distances.csv, or signal.npy)", cxxopts::value<std::string>())
      ("batching", "forecast: index (signal stored once) | materialized (every window stored)", cxxopts::value<std::string>())
      ("horizon", "forecast: input and output steps (default 12)", cxxopts::value<std::string>())
      ("layers", "forecast: recurrent layers of dcrnn/tgcn (default 2)", cxxopts::value<std::string>())
      ("diffusion-steps", "forecast: diffusion hops per direction (default 2)", cxxopts::value<std::string>())
      ("max-grad-norm", "forecast: gradient clipping norm, 0 = off (default 5)", cxxopts::value<std::string>())
      ("shard-time", "forecast: each rank holds only its contiguous time block of the train, validation and test windows (plus the 2h-1 steps they reach) and draws only its own windows")
      ("shards", "folder written by `flotilla partition`", cxxopts::value<std::string>())
      ("samplers", "sampler ranks (default 0)", cxxopts::value<std::string>())
      ("loaders", "feature-loader ranks (default 0)", cxxopts::value<std::string>())
      ("trainers-per-node", "N > 0: the trainers take the first N ranks of each node, nodes in rank order "
       "(multi-GPU trainer nodes first, sampler/loader nodes after); 0 = by turns over the nodes (default)",
       cxxopts::value<std::string>())
      ("model", "sage | gcn | gat | sgc (default sage; sgc: one linear map after K = number of --fanouts "
       "parameter-free propagation hops); forecast: dcrnn | dcrnn1 | tgcn (default dcrnn)", cxxopts::value<std::string>())
      ("fanouts", "neighbours per layer, input layer first, -1 = all (default 15,10)", cxxopts::value<std::string>())
      ("batch-size", "global training batch, all trainers together (default 1024; forecast 64)", cxxopts::value<std::string>())
      ("eval-batch-size", "global evaluation batch (default 4096)", cxxopts::value<std::string>())
      ("epochs", "epochs at most, at least 1 (default 200; forecast 10, DCRNN's METR-LA config uses 100); with "
       "--resume the total to reach", cxxopts::value<std::string>())
      ("patience", "early stopping: end training after N epochs in a row without a better validation accuracy "
       "(forecast: MAE); N >= 1 or off (default 100; forecast off)", cxxopts::value<std::string>())
      ("lr", "Adam learning rate (default 0.01, sgc 0.2; forecast 0.01)", cxxopts::value<std::string>())
      ("weight-decay", "Adam weight decay (default 5e-4, sgc 0; forecast 0)", cxxopts::value<std::string>())
      ("hidden", "hidden width (default 256; forecast 64)", cxxopts::value<std::string>())
      ("heads", "GAT attention heads (default 4)", cxxopts::value<std::string>())
      ("dropout", "dropout between layers (default 0.5)", cxxopts::value<std::string>())
      ("input-dropout", "dropout on the input features (default 0)", cxxopts::value<std::string>())
      ("feature-norm", "none | row: divide each input feature row by its sum (default none)", cxxopts::value<std::string>())
      ("prefetch", "batches in flight per trainer with sampler ranks (default 4)", cxxopts::value<std::string>())
      ("seed-assignment", "global (batches independent of the trainer count) | local (seeds from each trainer's "
       "home partitions, less traffic)", cxxopts::value<std::string>())
      ("max-steps", "training steps per epoch at most, 0 = all (benchmarks)", cxxopts::value<std::string>())
      ("full-batch", "full-batch training, the reference for sampled training: one step per epoch over the whole graph "
       "(every node and edge, loss on all training nodes); one process, no samplers or loaders; --fanouts gives only "
       "the layer count; evaluation full")
      ("eval", "validation and test after every epoch: full (layer-wise inference over every node) | sampled "
       "(mini-batches with --fanouts) | none | auto (default: full when its activations fit --memory-budget, else "
       "sampled); true/false = auto/none", cxxopts::value<std::string>())
      ("memory-budget", "bytes of activations full-graph evaluation may keep in memory, e.g. 512M, 4G (default 4G); "
       "beyond it auto evaluates sampled and full spills them to disk", cxxopts::value<std::string>())
      ("out", "run folder: metrics.jsonl, summary.json, checkpoints; absent or empty unless --overwrite", cxxopts::value<std::string>())
      ("overwrite", "--out may hold an earlier run: its run files are deleted and replaced")
      ("resume", "continue the run in this folder from its last checkpoint", cxxopts::value<std::string>())
      ("seed", "random seed (default 1)", cxxopts::value<std::string>())
      ("device", "auto | cpu | cuda[:i] (default auto: GPU by node-local rank when present)", cxxopts::value<std::string>())
      ("threads", "LibTorch intra/inter-op threads per trainer, 0 (default) = this process's CPUs divided by the ranks on its node", cxxopts::value<std::string>())
      ("rank-timeout", "seconds a rank may go without a heartbeat (stopped, frozen, unreachable) before the job "
       "ends naming it; 1 to 604800 (default 60)", cxxopts::value<std::string>())
      ("dry-run", "print the rank -> role -> host -> partitions/device plan and exit")
      ("print-config", "print the resolved configuration and exit")
      ("q,quiet", "no per-epoch lines (log level warn)")
      ("log-level", "error | warn | info (default: start, epoch lines, progress bar on a TTY) | debug (every step)",
       cxxopts::value<std::string>())
      ("h,help", "show this help");
  int code = kExitOk;
  auto parsed = parse_or_exit(options, argc, argv, &code);
  if (!parsed) return code;
  auto& r = *parsed;
  TrainConfig cfg;
  try {
    if (r.count("config")) read_config_file(r["config"].as<std::string>(), cfg);
    if (r.count("resume")) {
      const std::string dir = r["resume"].as<std::string>();
      const std::string saved = dir + "/config.yaml";
      if (!std::filesystem::exists(saved)) {
        std::fprintf(stderr, "flotilla train: %s: no config.yaml: not a run folder\n", dir.c_str());
        return kExitFailure;
      }
      read_config_file(saved, cfg);
      cfg.out = dir;
      cfg.resume = dir;
    }
    for (const std::string& key : train_config_keys()) {
      if (key == "resume" || !r.count(key)) continue;
      if (key == "dry-run" || key == "print-config" || key == "quiet" || key == "shard-time" || key == "overwrite" ||
          key == "full-batch") {
        set_config_value(cfg, key, "true");
      } else {
        set_config_value(cfg, key, r[key].as<std::string>());
      }
    }
    if (!cfg.resume.empty() && cfg.out != cfg.resume) {
      std::fprintf(stderr, "flotilla train: --resume continues in its own folder; drop --out\n");
      return kExitUsage;
    }
    resolve_task_defaults(cfg);
    if (cfg.print_config) {
      std::printf("%s", config_to_yaml(cfg).c_str());
      return kExitOk;
    }
    validate_config(cfg);
  } catch (const InputError& e) {
    std::fprintf(stderr, "flotilla train: %s\n", e.what());
    return kExitFailure;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "flotilla train: %s\n(see flotilla train --help)\n", e.what());
    return kExitUsage;
  }
  MpiSession mpi(&argc, &argv);
  // A rank silent for --rank-timeout s (SIGSTOP, frozen node) ends the job naming it (issue 16.9).
  const RankWatchdog watchdog(cfg.rank_timeout, mpi.hostname(),
                              cfg.out.empty() ? "" : "Continue from the last checkpoint with: flotilla train --resume " + cfg.out);
  try {
    // The run folder is this job's until it ends (rank 0 holds the lock); a folder in use by
    // another job, or holding an earlier run without --overwrite, ends every rank here.
    RunFolderLock lock;
    if (!cfg.dry_run) lock = claim_run_folder(cfg, Communicator::world());
    if (cfg.task != "forecast" && !cfg.shards.empty()) check_shard_set(cfg.shards);  // one partition run (issue 16.6)
    const RunInfo info{command_line, versions_json()};
    return cfg.task == "forecast" ? run_forecast(cfg, mpi, info) : run_training(cfg, mpi, info);
  } catch (const UsageError& e) {
    if (mpi.rank() == 0) std::fprintf(stderr, "flotilla train: %s\n(see flotilla train --help)\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    // Before the roles start (bad shards folder, ...): every rank fails the same way; one says so.
    if (mpi.rank() == 0) std::fprintf(stderr, "flotilla train: error: %s\n", e.what());
    return kExitFailure;
  }
}

}  // namespace flotilla::cli
