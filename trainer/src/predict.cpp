// `flotilla predict` (see flotilla/trainer/predict.h): every rank loads the shards, computes
// its blocks of each layer (layer-wise inference), rank 0 writes the outputs into
// OUT.tmp-PID and publishes the folder atomically.
#include "flotilla/trainer/predict.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>

#include "flotilla/comm.h"
#include "flotilla/comm/communicator.h"
#include "flotilla/datasets/atomic_output.h"
#include "flotilla/datasets/durable.h"
#include "flotilla/datasets/json_writer.h"
#include "flotilla/datasets/npy.h"
#include "flotilla/datasets/progress.h"
#include "flotilla/models/gnn.h"
#include "flotilla/models/gnn_config.h"
#include "flotilla/partition/shard.h"
#include "flotilla/sampler.h"
#include "flotilla/trainer.h"
#include "flotilla/trainer/layer_row_loaders.h"
#include "flotilla/trainer/layerwise_inference.h"
#include "flotilla/trainer/train_config.h"
#include "run_files.h"

namespace flotilla {

namespace fs = std::filesystem;

const std::vector<std::string>& predict_file_names() {
  static const std::vector<std::string> names = {"predictions.npy", "probs.npy", "embeddings.npy", "summary.json"};
  return names;
}

namespace {

using Clock = std::chrono::steady_clock;

// The same outcome on every rank: the first rank's error message (empty = fine) is shared and
// thrown everywhere, so a refusal ends every rank at once instead of leaving some waiting in
// a collective.
void agree(const Communicator& world, const std::string& mine) {
  std::string e = mine;
  if (world.size() > 1) {
    const std::vector<std::string> all = world.allgather(mine);
    for (std::size_t r = 0; r < all.size(); ++r)
      if (!all[r].empty()) {
        e = r == 0 ? all[r] : "rank " + std::to_string(r) + ": " + all[r];
        break;
      }
  }
  if (!e.empty()) throw std::runtime_error(e);
}

std::string try_run(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

// The parameters archive: best_model.pt holds them flat, checkpoint.pt under "model".
struct Parameters {
  torch::serialize::InputArchive root, nested;
  bool is_nested = false;
  torch::serialize::InputArchive& params() { return is_nested ? nested : root; }
};

std::unique_ptr<Parameters> open_parameters(const std::string& path) {
  if (!fs::is_regular_file(path)) throw std::runtime_error(path + ": no such parameters file (--checkpoint)");
  verify_archive_crc(path);
  auto p = std::make_unique<Parameters>();
  try {
    p->root.load_from(path);
    p->is_nested = p->root.try_read("model", p->nested);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a Flotilla model file (" + std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  return p;
}

// A parameter's shape, or an error naming the file when the archive lacks it.
torch::Tensor read_param(Parameters& p, const std::string& key, const std::string& path, const std::string& model) {
  torch::Tensor t;
  if (!p.params().try_read(key, t))
    throw std::runtime_error(path + ": no parameter '" + key + "': not the parameters of a " + model +
                             " model as the run's config.yaml describes");
  return t;
}

struct SplitAccuracy {
  std::uint64_t labelled = 0, correct = 0;
};

}  // namespace

int run_predict(const PredictConfig& cfg, MpiSession& mpi, const std::string& command_line) {
  const auto t_start = Clock::now();
  const Communicator world = Communicator::world();
  const int rank = world.rank();
  const bool leader = rank == 0;
  const bool talk = leader && (cfg.log_level == "info" || cfg.log_level == "debug");

  // ---- what to run: the run's configuration, the parameters, the graph --------------------
  if (cfg.run.empty() && cfg.checkpoint.empty()) throw std::invalid_argument("--run RUNDIR or --checkpoint FILE is required");
  const std::string run = cfg.run.empty() ? fs::path(cfg.checkpoint).parent_path().string() : cfg.run;
  const std::string run_dir = run.empty() ? "." : run;
  const std::string ckpt = cfg.checkpoint.empty() ? run_dir + "/best_model.pt" : cfg.checkpoint;
  TrainConfig rc;
  {
    const std::string yaml = run_dir + "/config.yaml";
    if (!fs::is_regular_file(yaml))
      throw std::runtime_error(run_dir + ": no config.yaml: not a run folder of `flotilla train` (--run" +
                               std::string(cfg.run.empty() ? ", or the folder of --checkpoint" : "") + ")");
    read_config_file(yaml, rc);
    resolve_task_defaults(rc);
    if (rc.task != "nodeclass")
      throw std::runtime_error(yaml + ": task " + rc.task + ": flotilla predict runs node-classification models");
  }
  std::string why;
  if (!gnn_layerwise_decomposable(rc.model, &why)) throw std::runtime_error(run_dir + "/config.yaml: " + why);
  const std::string shards = cfg.shards.empty() ? rc.shards : cfg.shards;
  if (shards.empty()) throw std::invalid_argument("--shards DIR is required (the run's config.yaml names none)");
  const std::string out = normalise_out_dir(cfg.out);
  if (out.empty()) throw std::invalid_argument("--out DIR is required");

  ShardSetInfo info;
  std::string error;
  if (leader) {
    error = try_run([&] {
      check_shard_set(shards);
      info = read_shard_set_info(shards);
      if (info.feature_dim == 0) throw std::runtime_error(shards + ": the shards have no node features (--shards)");
      if (!fs::is_regular_file(shards + "/old_to_new.bin"))
        throw std::runtime_error(shards + "/old_to_new.bin: missing (needed to write predictions in original node order)");
      // The output folder: absent, empty, or (with --overwrite) an earlier predict output.
      std::error_code ec;
      if (fs::exists(out, ec)) {
        if (!fs::is_directory(out, ec)) throw std::runtime_error(out + ": exists and is not a folder (--out)");
        if (!fs::is_empty(out, ec)) {
          if (!cfg.overwrite)
            throw std::runtime_error(out + ": exists and is not empty (--out); pass --overwrite to replace an earlier "
                                           "predict output, or choose another folder");
          for (const auto& e : fs::directory_iterator(out)) {
            const std::string name = e.path().filename().string();
            const auto& own = predict_file_names();
            if (std::find(own.begin(), own.end(), name) == own.end())
              throw std::runtime_error(out + ": holds '" + name + "', which flotilla predict did not write; "
                                       "--overwrite replaces only a predict output folder");
          }
        }
      }
    });
  }
  agree(world, error);
  if (!leader) error = try_run([&] { info = read_shard_set_info(shards); });  // e.g. not mounted on this node
  agree(world, error);

  // ---- the model ----------------------------------------------------------------------------
  GnnConfig g;
  g.model = rc.model;
  g.hidden_dim = *rc.hidden;
  g.heads = rc.heads;
  g.dropout = 0;
  g.input_dropout = 0;
  g.num_layers = static_cast<int>(parse_fanouts(rc.fanouts).size());
  g.in_dim = static_cast<std::int64_t>(info.feature_dim);
  std::unique_ptr<Parameters> params;
  error = try_run([&] {
    params = open_parameters(ckpt);
    const std::string last = "layers." + std::to_string(g.num_layers - 1) + ".";
    const torch::Tensor first = read_param(*params, g.model == "sage"  ? "layers.0.self.weight"
                                                    : g.model == "gcn" ? "layers.0.weight"
                                                    : g.model == "sgc" ? "linear.weight"
                                                                       : "layers.0.fc.weight",
                                           ckpt, g.model);
    const std::int64_t trained_in = g.model == "gcn" ? first.size(0) : first.size(1);
    if (trained_in != g.in_dim)
      throw std::runtime_error(shards + ": " + std::to_string(g.in_dim) + " features per node, but the model in " + ckpt +
                               " was trained on " + std::to_string(trained_in) + " (--shards)");
    const torch::Tensor out_p =
        g.model == "sgc" ? first
                         : read_param(*params, last + (g.model == "sage" ? "self.weight" : g.model == "gcn" ? "weight" : "bias"),
                                      ckpt, g.model);
    g.out_dim = g.model == "gcn" ? out_p.size(1) : out_p.size(0);
  });
  agree(world, error);

  std::shared_ptr<GnnModel> model;
  error = try_run([&] {
    model = make_gnn(g);
    load_params(*model, params->params(), ckpt);
  });
  agree(world, error);
  params.reset();
  if (cfg.embeddings && g.num_layers < 2)
    throw std::invalid_argument("--embeddings: the model has a single layer, so no hidden layer to write");
  if (cfg.embeddings && g.model == "sgc")
    throw std::invalid_argument("--embeddings: an sgc model has no hidden layer (its hops propagate the linear map's "
                                "class scores), so no embeddings to write");

  // ---- the job ------------------------------------------------------------------------------
  // With --loaders L the last L ranks serve rows and the others compute (same on every rank).
  LoaderLayout layout;
  layout.trainers = world.size();
  if (cfg.loaders > 0) layout = plan_loaders(world.size(), cfg.loaders, info.num_parts);
  const bool is_loader = cfg.loaders > 0 && rank >= layout.trainers;
  const Communicator compute = world.split(is_loader ? 1 : 0, rank);
  bool fell_back = false;
  const std::string device = is_loader ? std::string("cpu") : pick_device(cfg.device, mpi.local_rank(), &fell_back);
  if (fell_back && cfg.log_level != "error")
    std::fprintf(stderr, "rank %d: --device %s requested but LibTorch sees no GPU; predicting on the CPU\n", rank,
                 cfg.device.c_str());
  apply_torch_threads(cfg.threads, mpi.local_size());
  const std::string tmp = leader ? temp_path_for(out) : std::string();
  std::unique_ptr<TempPathGuard> tmp_guard;
  if (leader)
    error = try_run([&] {
      remove_stale_temp_dirs(out);
      fs::create_directories(tmp);
      tmp_guard = std::make_unique<TempPathGuard>(tmp);
    });
  agree(world, leader ? error : std::string());
  std::string scratch = cfg.scratch.empty() ? tmp + "/.activations" : cfg.scratch;
  if (world.size() > 1) scratch = world.allgather(leader ? scratch : std::string())[0];
  try {
    if (leader || is_loader) fs::create_directories(scratch);
    std::vector<std::uint32_t> parts(info.num_parts);
    for (std::uint32_t p = 0; p < info.num_parts; ++p) parts[p] = p;
    LoaderServeStats served;
    LayerwiseResult r;
    std::unique_ptr<ShardStore> store_ptr;
    double infer_s = 0;
    const std::uint64_t n = info.num_nodes;
    const auto t_infer = Clock::now();
    if (is_loader) {
      served = serve_layer_rows(layout, shards, world, cfg.memory_budget, scratch);
    } else {
      // Trainers with loaders hold the topology (and labels for the accuracy), not the features.
      store_ptr = std::make_unique<ShardStore>(shards, parts, ShardLoadOptions{true, cfg.loaders == 0, true});
      const ShardStore& store = *store_ptr;
      const auto graph = shard_store_graph(store);
      std::unique_ptr<LayerRowTransport> transport;
      if (cfg.loaders > 0) transport = make_loader_row_transport(layout, info, world, compute);
      LayerwiseOptions opts;
      opts.transport = transport.get();
      opts.block_nodes = cfg.block_size;
      opts.memory_budget_bytes = cfg.memory_budget;
      opts.scratch_dir = scratch;
      opts.feature_norm = rc.feature_norm;
      opts.device = device;
      opts.keep_embeddings = cfg.embeddings;
      if (talk)
        std::printf("flotilla predict: %s (%s, %d layers) over %llu nodes of %s on %d rank%s%s; activations %s (%s)\n",
                    ckpt.c_str(), g.model.c_str(), g.num_layers, static_cast<unsigned long long>(n), shards.c_str(),
                    world.size(), world.size() == 1 ? "" : "s",
                    cfg.loaders > 0 ? (" (" + std::to_string(layout.trainers) + " computing, " + std::to_string(cfg.loaders) +
                                       " feature loaders)").c_str()
                                    : "",
                    human_bytes(static_cast<double>(layerwise_activation_bytes(n, gnn_layer_dims(g)))).c_str(),
                    layerwise_activation_bytes(n, gnn_layer_dims(g)) > cfg.memory_budget ? "over --memory-budget: on disk"
                                                                                         : "in memory");
      std::fflush(stdout);
      ProgressBar bar("predict", 0, "blocks", talk, 30.0);
      opts.progress = [&bar](std::uint64_t done, std::uint64_t total) {
        bar.set_total(total);
        bar.update(done);
      };
      r = run_layerwise_inference(*model, *graph, &compute, opts);
      bar.finish();
      infer_s = std::chrono::duration<double>(Clock::now() - t_infer).count();
    }
    const std::int64_t peak_rss = world.allreduce_max(static_cast<std::int64_t>(peak_rss_bytes()));
    const bool on_disk = world.allreduce_max(is_loader ? served.on_disk : r.on_disk) > 0;
    std::uint64_t loader_totals[4] = {served.rows_served, served.rows_stored, served.bytes_sent, served.bytes_received};
    world.allreduce_sum(loader_totals, 4);
    if (leader) {
      const ShardStore& store = *store_ptr;
      const std::uint64_t C = r.num_classes;
      // Accuracy of every labelled split node, by the relabelled id.
      SplitAccuracy acc[4];
      std::vector<std::int64_t> pred(n);
      for (VertexId v = 0; v < n; ++v) {
        const float* row = r.logits.data() + static_cast<std::size_t>(v) * C;
        pred[v] = std::max_element(row, row + C) - row;
        const std::int64_t y = store.label(v);
        const std::uint8_t s = store.split(v);
        if (y < 0 || s > 3) continue;
        ++acc[s].labelled;
        acc[s].correct += pred[v] == y ? 1 : 0;
      }
      // Rows in the original graph's node order.
      const std::vector<VertexId> old_to_new = read_old_to_new(shards + "/old_to_new.bin");
      if (old_to_new.size() != n)
        throw std::runtime_error(shards + "/old_to_new.bin: " + std::to_string(old_to_new.size()) + " ids for " +
                                 std::to_string(n) + " nodes");
      std::vector<std::string> written = {"predictions.npy"};
      {
        std::vector<std::int64_t> by_original(n);
        for (std::uint64_t i = 0; i < n; ++i) by_original[i] = pred[old_to_new[i]];
        NpyWriter w(tmp + "/predictions.npy", NpyType::Int64, {n});
        w.write_values(by_original.data(), n);
        w.finish();
      }
      if (cfg.probs) {
        const torch::Tensor logits = torch::from_blob(r.logits.data(), {static_cast<std::int64_t>(n), static_cast<std::int64_t>(C)}, torch::kFloat32);
        const torch::Tensor probs = torch::softmax(logits, 1).contiguous();
        const float* p = probs.data_ptr<float>();
        NpyWriter w(tmp + "/probs.npy", NpyType::Float32, {n, C});
        for (std::uint64_t i = 0; i < n; ++i) w.write_values(p + static_cast<std::size_t>(old_to_new[i]) * C, C);
        w.finish();
        written.push_back("probs.npy");
      }
      if (cfg.embeddings) {
        const std::uint64_t H = r.embeddings.width();
        NpyWriter w(tmp + "/embeddings.npy", NpyType::Float32, {n, H});
        std::vector<float> row(H);
        for (std::uint64_t i = 0; i < n; ++i) {
          r.embeddings.read_rows(old_to_new[i], 1, row.data());
          w.write_values(row.data(), H);
        }
        w.finish();
        written.push_back("embeddings.npy");
      }
      r.embeddings = ActivationTable();
      fs::remove_all(tmp + "/.activations");
      const double seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
      JsonWriter j;
      j.begin_object()
          .field("task", "predict")
          .field("model", g.model)
          .field("run", run_dir)
          .field("checkpoint", ckpt)
          .field("shards", shards)
          .field("command", command_line)
          .field("nodes", n)
          .field("classes", C)
          .field("layers", g.num_layers)
          .field("ranks", world.size())
          .field("block_size", cfg.block_size)
          .field("blocks_per_layer", r.blocks)
          .field("memory_budget_bytes", cfg.memory_budget)
          .field("activation_bytes", r.activation_bytes)
          .field("activations_on_disk", on_disk)
          .field("trainers", layout.trainers)
          .field("loaders", cfg.loaders)
          .field("seconds", seconds)
          .field("inference_seconds", infer_s)
          .field("peak_rss_bytes", static_cast<std::uint64_t>(peak_rss));
      if (cfg.loaders > 0)
        j.key("loader_traffic")
            .begin_object()
            .field("rows_served", loader_totals[0])
            .field("rows_stored", loader_totals[1])
            .field("bytes_sent", loader_totals[2])
            .field("bytes_received", loader_totals[3])
            .end_object();
      j.key("accuracy").begin_object();
      const char* names[4] = {"unsplit", "train", "valid", "test"};
      for (int s = 1; s <= 3; ++s)
        j.field(names[s], acc[s].labelled ? static_cast<double>(acc[s].correct) / static_cast<double>(acc[s].labelled)
                                          : std::nan(""));
      j.end_object().key("labelled").begin_object();
      for (int s = 1; s <= 3; ++s) j.field(names[s], acc[s].labelled);
      j.end_object().key("files").begin_array();
      for (const std::string& f : written) j.value(f);
      j.end_array().end_object();
      write_file_synced(tmp + "/summary.json", j.str() + "\n");
      // Publish: an earlier output (--overwrite, checked above) is moved aside first and
      // removed once the new folder is in place.
      std::string aside;
      std::error_code ec;
      if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
        aside = out + ".old-" + std::to_string(::getpid());
        fs::rename(out, aside);
      }
      publish_dir(tmp, out);
      tmp_guard->commit();
      if (!aside.empty()) fs::remove_all(aside, ec);
      if (talk) {
        std::printf("flotilla predict: %llu nodes in %.1f s (inference %.1f s); peak RSS %s\n",
                    static_cast<unsigned long long>(n), seconds, infer_s, human_bytes(static_cast<double>(peak_rss)).c_str());
        for (int s = 1; s <= 3; ++s)
          if (acc[s].labelled)
            std::printf("  %-5s accuracy %.4f (%llu labelled nodes)\n", names[s],
                        static_cast<double>(acc[s].correct) / static_cast<double>(acc[s].labelled),
                        static_cast<unsigned long long>(acc[s].labelled));
        std::printf("  written: %s/{", out.c_str());
        for (std::size_t i = 0; i < written.size(); ++i) std::printf("%s%s", i ? "," : "", written[i].c_str());
        std::printf(",summary.json}\n");
      }
    }
    world.barrier();
  } catch (const std::exception& e) {
    if (world.size() == 1) throw;  // the guard removes the temp folder; the CLI names the error
    abort_job("flotilla predict: rank " + std::to_string(rank) + ": error: " + e.what());
  }
  return 0;
}

}  // namespace flotilla
