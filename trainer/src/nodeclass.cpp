// The node-classification job: role plan, trainer loop (GNN forward/backward, gradient
// averaging, evaluation, metrics, atomic checkpoints, resume) and the sampler/loader ranks.
#include "flotilla/trainer/nodeclass.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "flotilla/comm.h"
#include "flotilla/comm/batch_source.h"
#include "flotilla/comm/communicator.h"
#include "flotilla/comm/role_plan.h"
#include "flotilla/comm/watchdog.h"
#include "flotilla/datasets/json_writer.h"
#include "flotilla/datasets/progress.h"
#include "flotilla/datasets/random.h"
#include "flotilla/models.h"
#include "flotilla/models/gnn.h"
#include "flotilla/trainer.h"
#include "flotilla/trainer/layerwise_inference.h"
#include "run_files.h"

namespace flotilla {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct EpochStats {
  double train_loss_sum = 0, train_correct = 0, train_count = 0;
  double valid_correct = 0, valid_count = 0, test_correct = 0, test_count = 0;
  double wait_s = 0, compute_s = 0, allreduce_s = 0;
};

// `degrees` (gcn and sgc): the full graph's, so that a sampled block is normalised as the
// full graph is in evaluation (layer-wise inference), each destination's sampled neighbours
// scaled up to its whole neighbourhood. Without them the block's own edge counts would
// normalise: a source seen by one destination of the batch would count as degree 1.
std::vector<BlockTensors> to_block_tensors(const MiniBatch& mb, const torch::Device& device,
                                           const GcnDegrees* degrees = nullptr) {
  std::vector<BlockTensors> out;
  for (const Block& b : mb.blocks) {
    const std::int64_t e = static_cast<std::int64_t>(b.indices.size());
    torch::Tensor src = torch::empty({e}, torch::kLong), dst = torch::empty({e}, torch::kLong);
    auto* s = src.data_ptr<std::int64_t>();
    auto* d = dst.data_ptr<std::int64_t>();
    for (std::uint32_t v = 0; v < b.num_dst; ++v)
      for (std::uint32_t i = b.offsets[v]; i < b.offsets[v + 1]; ++i) {
        s[i] = b.indices[i];
        d[i] = v;
      }
    BlockTensors bt{src.to(device), dst.to(device), b.num_src, b.num_dst, {}, {}, {}};
    if (degrees) {
      // Sources and destinations are prefixes of the batch's node list.
      torch::Tensor sd = torch::empty({b.num_src}, torch::kFloat32), dd = torch::empty({b.num_dst}, torch::kFloat32);
      torch::Tensor scale = torch::empty({b.num_dst}, torch::kFloat32);
      float* sdp = sd.data_ptr<float>();
      float* ddp = dd.data_ptr<float>();
      float* sc = scale.data_ptr<float>();
      for (std::uint32_t i = 0; i < b.num_src; ++i) sdp[i] = degrees->out[mb.nodes[i]];
      for (std::uint32_t v = 0; v < b.num_dst; ++v) {
        ddp[v] = degrees->in[mb.nodes[v]];
        const std::uint32_t sampled = b.offsets[v + 1] - b.offsets[v];
        sc[v] = sampled ? (ddp[v] - 1.0f) / static_cast<float>(sampled) : 1.0f;
      }
      bt.src_degree = sd.to(device);
      bt.dst_degree = dd.to(device);
      bt.dst_sample_scale = scale.to(device);
    }
    out.push_back(std::move(bt));
  }
  return out;
}

// Gradients of every parameter, zero-filled where backward left none (an empty slice),
// summed across trainers: on GPUs through NCCL when this build has it (device buffers, no
// host copy), otherwise through MPI (device gradients staged in host memory).
void average_gradients(GnnModel& model, GradientAllReducer& reducer, NcclGradientReducer* nccl) {
  std::vector<torch::Tensor> grads;
  for (auto& p : model.parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  if (nccl) {
    // One flat device buffer, one NCCL call (not one per parameter tensor: each call has a
    // fixed latency). The copies run on the default stream, which NCCL's call orders after.
    std::vector<torch::Tensor> flat;
    for (auto& g : grads) flat.push_back(g.reshape({-1}));
    torch::Tensor bucket = torch::cat(flat);
    nccl->allreduce(bucket.data_ptr<float>(), static_cast<std::size_t>(bucket.numel()), 1.0f);
    std::int64_t at = 0;
    for (auto& g : grads) {
      g.copy_(bucket.narrow(0, at, g.numel()).view_as(g));
      at += g.numel();
    }
    return;
  }
  std::vector<Span<float>> spans;
  std::vector<torch::Tensor> host;
  for (auto& g : grads) {
    torch::Tensor h = g.device().is_cpu() ? g : g.to(torch::kCPU);
    host.push_back(h);
    spans.emplace_back(h.data_ptr<float>(), static_cast<std::size_t>(h.numel()));
  }
  reducer.allreduce(spans, 1.0f);
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].device().is_cpu()) grads[i].copy_(host[i]);
}

// "row" normalisation divides each row by its sum (PyG's NormalizeFeatures, standard for
// bag-of-words features such as Planetoid's); an all-zero row stays zero.
torch::Tensor normalise_features(torch::Tensor x, const std::string& norm) {
  if (norm == "row") {
    torch::Tensor sum = x.sum(1, true);
    x = x / sum.masked_fill(sum == 0, 1.0);
  }
  return x;
}

// Input rows as a tensor on the device, normalised as --feature-norm says.
torch::Tensor input_features(ReadyBatch& rb, std::uint64_t dim, const std::string& norm, const torch::Device& device) {
  torch::Tensor x = torch::from_blob(rb.features.data(),
                                     {static_cast<std::int64_t>(rb.batch.nodes.size()), static_cast<std::int64_t>(dim)},
                                     torch::kFloat32)
                        .to(device);
  return normalise_features(x, norm);
}

// --full-batch: the whole graph as one block (every node a destination and a source, every
// in-edge as the sampler reads it), every node's input row, and the training nodes with
// their labels. The block's own degree counts are the full graph's, so gcn and sgc normalise
// exactly as on the full graph.
struct FullBatch {
  std::vector<BlockTensors> blocks;  // the same block once per layer
  torch::Tensor x, train_nodes, train_labels;
  std::vector<std::uint32_t> node_ids;  // 0..n-1, for the keyed dropout
  std::int64_t labelled_train = 0;
};

FullBatch make_full_batch(const ShardStore& store, int layers, const std::string& norm, const torch::Device& device) {
  const std::uint64_t n = store.info().num_nodes, f = store.info().feature_dim;
  FullBatch fb;
  std::uint64_t edges = 0;
  for (VertexId v = 0; v < n; ++v) edges += store.degree(v);
  torch::Tensor src = torch::empty({static_cast<std::int64_t>(edges)}, torch::kLong);
  torch::Tensor dst = torch::empty({static_cast<std::int64_t>(edges)}, torch::kLong);
  torch::Tensor x = torch::empty({static_cast<std::int64_t>(n), static_cast<std::int64_t>(f)}, torch::kFloat32);
  auto* s = src.data_ptr<std::int64_t>();
  auto* d = dst.data_ptr<std::int64_t>();
  float* xr = x.data_ptr<float>();
  std::uint64_t at = 0;
  for (VertexId v = 0; v < n; ++v) {
    const VertexId* nb = store.neighbors(v);
    for (std::uint64_t i = 0, dv = store.degree(v); i < dv; ++i, ++at) {
      s[at] = nb[i];
      d[at] = v;
    }
    std::copy_n(store.feature_row(v), f, xr + v * f);
  }
  const BlockTensors whole{src.to(device), dst.to(device), static_cast<std::int64_t>(n), static_cast<std::int64_t>(n), {}, {}};
  fb.blocks.assign(static_cast<std::size_t>(layers), whole);
  fb.x = normalise_features(x.to(device), norm);
  const std::vector<VertexId> train = store.nodes_in_split(1);
  std::vector<std::int64_t> ids(train.begin(), train.end()), labels;
  for (VertexId v : train) {
    labels.push_back(store.label(v));
    fb.labelled_train += labels.back() >= 0 ? 1 : 0;
  }
  fb.train_nodes = torch::tensor(ids, torch::kLong).to(device);
  fb.train_labels = torch::tensor(labels, torch::kLong).to(device);
  fb.node_ids.resize(n);
  for (std::uint64_t v = 0; v < n; ++v) fb.node_ids[v] = static_cast<std::uint32_t>(v);
  return fb;
}

// Destination nodes per block of full-graph evaluation; flotilla predict's default
// --block-size is the same, so its figures equal the run's.
constexpr std::uint64_t kEvalBlockNodes = 4096;

// The eval_mode of the last epoch in a run's metrics.jsonl; "auto" when none is recorded.
std::string recorded_eval_mode(const std::string& metrics_path) {
  std::ifstream in(metrics_path);
  std::string line, mode = "auto";
  const std::string key = "\"eval_mode\":\"";
  while (std::getline(in, line)) {
    const auto at = line.find(key);
    if (at == std::string::npos) continue;
    const auto end = line.find('"', at + key.size());
    if (end != std::string::npos) mode = line.substr(at + key.size(), end - at - key.size());
  }
  return mode == "full" || mode == "sampled" || mode == "none" ? mode : "auto";
}

// eval_mode: the resolved --eval (full, sampled or none): sampled batches only for "sampled".
BatchPlan make_batch_plan(const TrainConfig& cfg, const RolePlan& roles, int rank, const std::string& eval_mode) {
  BatchPlan p;
  p.fanouts = parse_fanouts(cfg.fanouts);
  p.batch_size = *cfg.batch_size;
  p.eval_batch_size = cfg.eval_batch_size;
  p.seed = cfg.seed;
  p.num_trainers = static_cast<std::uint32_t>(roles.trainers);
  const RankPlan& me = roles.ranks[static_cast<std::size_t>(rank)];
  p.trainer = me.role == Role::Trainer ? static_cast<std::uint32_t>(me.index) : 0;
  p.prefetch = cfg.prefetch;
  p.local_seeds = cfg.seed_assignment == "local";
  p.max_steps = cfg.max_steps;
  p.evaluate = eval_mode == "sampled";
  return p;
}

void print_plan(const RolePlan& plan, const TrainConfig& cfg, const std::vector<std::string>& devices) {
  std::printf("flotilla train: %zu ranks = %d trainers + %d samplers + %d loaders%s; %u partitions in %s\n",
              plan.ranks.size(), plan.trainers, plan.samplers, plan.loaders,
              plan.colocated() ? " (co-located sampling and loading)" : "", plan.num_parts, cfg.shards.c_str());
  std::printf("%5s  %-8s %5s  %-20s %5s  %-12s %s\n", "rank", "role", "index", "host", "local", "device", "partitions / home sampler");
  for (const RankPlan& r : plan.ranks) {
    std::string parts;
    if (r.role == Role::Trainer) {
      parts = plan.colocated() ? "all (co-located)" : "home sampler: rank " + std::to_string(r.home_sampler);
    } else {
      for (std::uint32_t p : r.parts) parts += (parts.empty() ? "" : ",") + std::to_string(p);
    }
    std::printf("%5d  %-8s %5d  %-20s %5d  %-12s %s\n", r.rank, role_name(r.role), r.index, r.host.c_str(),
                r.local_rank, devices[static_cast<std::size_t>(r.rank)].c_str(), parts.c_str());
  }
}

struct TrainerResult {
  double seconds = 0;
  Checkpoint best;
  double final_test = std::nan("");  // NaN: never evaluated, or no labelled test node
  int epochs_run = 0;
  std::int64_t stopped_after = -1;  // early stop: the last epoch trained (-1: ran every epoch)
  EpochStats time_totals;
  TrafficCounters counters;
};

// The run folder's record of what ran: configuration, command line, software versions.
void write_run_header(const TrainConfig& cfg, const RunInfo& run_info) {
  write_text_atomic(cfg.out + "/config.yaml", config_to_yaml(cfg));
  write_text_atomic(cfg.out + "/command.txt", run_info.command_line + "\n");
  write_text_atomic(cfg.out + "/versions.json", run_info.versions_json);
}

// Full-graph evaluation: layer-wise inference over every node after each epoch, the
// accuracy of the valid and test nodes from its logits (the same computation as flotilla
// predict with its default --block-size).
class FullGraphEvaluator {
 public:
  FullGraphEvaluator(const TrainConfig& cfg, const ShardStore& store, const std::string& device)
      : store_(store), graph_(shard_store_graph(store)) {
    valid_ = store.nodes_in_split(2);
    test_ = store.nodes_in_split(3);
    opts_.block_nodes = kEvalBlockNodes;
    opts_.memory_budget_bytes = cfg.memory_budget;
    opts_.scratch_dir = cfg.out + "/.eval-activations";
    opts_.feature_norm = cfg.feature_norm;
    opts_.device = device;
  }
  // Sums of (correct, labelled) over the valid and test nodes; only trainer 0 counts (every
  // trainer holds every logit), so the trainers' all-reduce of the sums adds them once.
  void evaluate(GnnModel& model, const Communicator& trainers, EpochStats& st) {
    const bool leader = trainers.rank() == 0;
    if (leader) std::filesystem::create_directories(opts_.scratch_dir);
    const LayerwiseResult r = run_layerwise_inference(model, *graph_, &trainers, opts_);
    if (leader) std::filesystem::remove_all(opts_.scratch_dir);
    if (!leader) return;
    const std::uint64_t c = r.num_classes;
    auto count = [&](const std::vector<VertexId>& nodes, double& correct, double& labelled) {
      for (VertexId v : nodes) {
        const std::int64_t y = store_.label(v);
        if (y < 0) continue;
        const float* row = r.logits.data() + static_cast<std::size_t>(v) * c;
        labelled += 1;
        correct += static_cast<std::int64_t>(std::max_element(row, row + c) - row) == y ? 1 : 0;
      }
    };
    count(valid_, st.valid_correct, st.valid_count);
    count(test_, st.test_correct, st.test_count);
  }

 private:
  const ShardStore& store_;
  std::unique_ptr<InferenceGraph> graph_;
  LayerwiseOptions opts_;
  std::vector<VertexId> valid_, test_;
};

TrainerResult run_trainer(const TrainConfig& cfg, const RolePlan& roles, int rank, const Communicator& trainers,
                          const std::string& device_name, std::uint32_t first_epoch, const RunInfo& run_info,
                          const std::string& eval_mode) {
  const LogLevel log = log_level_of(cfg);
  const auto t_start = Clock::now();
  const bool leader = trainers.rank() == 0;
  const torch::Device device(device_name);
  {
    const auto& me = roles.ranks[static_cast<std::size_t>(rank)];
    const auto on_node = std::count_if(roles.ranks.begin(), roles.ranks.end(), [&](const RankPlan& r) { return r.node == me.node; });
    apply_torch_threads(cfg.threads, static_cast<int>(on_node));
  }
  const BatchPlan plan = make_batch_plan(cfg, roles, rank, eval_mode);

  std::unique_ptr<BatchSource> source;
  Checkpoint ck;
  const std::string ck_path = cfg.out + "/checkpoint.pt";
  const bool resuming = !cfg.resume.empty();

  torch::manual_seed(static_cast<std::uint64_t>(cfg.seed));
  // Dataset facts first (co-located: from the shards; remote: from the home sampler).
  DatasetInfo info;
  if (roles.colocated()) {
    source = make_colocated_batch_source(cfg.shards, plan);
    info = source->info();
  }
  GnnConfig g;
  g.model = cfg.model;
  g.hidden_dim = *cfg.hidden;
  g.heads = cfg.heads;
  g.dropout = cfg.dropout;
  g.input_dropout = cfg.input_dropout;
  g.num_layers = static_cast<int>(plan.fanouts.size());
  // Remote: dimensions come from the shard headers and the label count the servers agree on.
  if (!roles.colocated()) {
    const ShardSetInfo si = read_shard_set_info(cfg.shards);
    info.feature_dim = si.feature_dim;
  }
  std::uint32_t epochs = static_cast<std::uint32_t>(*cfg.epochs);
  // Model and optimizer must exist before loading a checkpoint; the class count of a remote
  // job arrives with the source, so the source is created first in both modes.
  if (!roles.colocated()) {
    source = make_remote_batch_source(roles, rank, plan, first_epoch, epochs);
    info = source->info();
  }
  g.in_dim = static_cast<std::int64_t>(info.feature_dim);
  g.out_dim = info.num_classes;
  auto model = make_gnn(g);
  model->to(device);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(*cfg.lr).weight_decay(*cfg.weight_decay));
  if (resuming) {
    ck = load_checkpoint(ck_path, *model, opt);
    if (static_cast<std::uint32_t>(ck.epoch + 1) != first_epoch)
      throw std::runtime_error(ck_path + " changed while the job started");
    if (leader) {
      truncate_metrics(cfg.out + "/metrics.jsonl", first_epoch);
      // Only now that the checkpoint fits this configuration: a failed --resume (say, with
      // another --model) leaves the run folder as it was.
      write_run_header(cfg, run_info);
    }
  } else {
    // Same initial parameters everywhere: trainer 0's, summed with zeros from the others.
    GradientAllReducer sync(trainers);
    std::vector<Span<float>> spans;
    torch::NoGradGuard ng;
    for (auto& p : model->parameters()) {
      if (!leader) p.zero_();
      spans.emplace_back(p.data_ptr<float>(), static_cast<std::size_t>(p.numel()));
    }
    if (device.is_cpu()) sync.allreduce(spans, 1.0f);
  }
  GradientAllReducer reducer(trainers);
  std::unique_ptr<NcclGradientReducer> nccl;
  // Collective decision: NCCL only when every trainer is on a GPU (a mix falls back to MPI).
  const bool all_cuda = trainers.allreduce_max(device.is_cuda() ? 0 : 1) == 0;
  if (all_cuda && nccl_compiled() && roles.trainers > 1) nccl = std::make_unique<NcclGradientReducer>(trainers);
  // Full-graph evaluation reads the graph the co-located source holds; with sampler and
  // loader ranks the graph is on the servers, so each trainer loads the shards for it.
  std::unique_ptr<ShardStore> own_store;
  std::unique_ptr<FullGraphEvaluator> full_eval;
  if (eval_mode == "full") {
    const ShardStore* store = source->shard_store();
    if (!store) {
      std::vector<std::uint32_t> parts(read_shard_set_info(cfg.shards).num_parts);
      for (std::uint32_t p = 0; p < parts.size(); ++p) parts[p] = p;
      own_store = std::make_unique<ShardStore>(cfg.shards, parts);
      store = own_store.get();
    }
    full_eval = std::make_unique<FullGraphEvaluator>(cfg, *store, device_name);
  }
  // gcn and sgc: full-graph degrees for the sampled blocks (co-located: from the shards held;
  // remote: from the topology of every shard, loaded here for it when full evaluation did not).
  std::unique_ptr<GcnDegrees> gcn_deg;
  if ((cfg.model == "gcn" || cfg.model == "sgc") && !cfg.full_batch) {
    const ShardStore* store = source->shard_store() ? source->shard_store() : own_store.get();
    std::unique_ptr<ShardStore> topology;
    if (!store) {
      std::vector<std::uint32_t> parts(read_shard_set_info(cfg.shards).num_parts);
      for (std::uint32_t p = 0; p < parts.size(); ++p) parts[p] = p;
      topology = std::make_unique<ShardStore>(cfg.shards, parts, ShardLoadOptions{true, false, false});
      store = topology.get();
    }
    gcn_deg = std::make_unique<GcnDegrees>(gcn_degrees(
        store->info().num_nodes, [store](VertexId v) { return store->degree(v); },
        [store](VertexId v) { return store->neighbors(v); }));
  }
  std::unique_ptr<FullBatch> full_batch;
  if (cfg.full_batch) {
    const ShardStore* store = source->shard_store();
    if (!store) throw std::logic_error("--full-batch needs the co-located shards");
    full_batch = std::make_unique<FullBatch>(make_full_batch(*store, g.num_layers, cfg.feature_norm, device));
  }
  const std::uint64_t n_train = full_batch ? 1 : source->num_batches(BatchPhase::Train);
  const std::uint64_t n_valid = source->num_batches(BatchPhase::Valid);
  const std::uint64_t n_test = source->num_batches(BatchPhase::Test);
  if (leader && log >= LogLevel::Info)
    std::printf("training %s on %s: %llu nodes, %llu features, %lld classes; %llu/%llu/%llu train/valid/test; "
                "%llu steps per epoch; device %s\n",
                cfg.model.c_str(), cfg.shards.c_str(), static_cast<unsigned long long>(info.num_nodes),
                static_cast<unsigned long long>(info.feature_dim), static_cast<long long>(info.num_classes),
                static_cast<unsigned long long>(info.num_train), static_cast<unsigned long long>(info.num_valid),
                static_cast<unsigned long long>(info.num_test), static_cast<unsigned long long>(n_train),
                device_name.c_str());
  std::fflush(stdout);
  TrainerResult res;
  res.best = ck;
  std::uint64_t steps_done = 0;
  namespace F = torch::nn::functional;
  for (std::uint32_t epoch = first_epoch; epoch < epochs; ++epoch) {
    // Early stopping, checked before each epoch (so a resumed run that had stopped stops
    // again at once): every trainer sees the same all-reduced validation figures, so all
    // stop at the same epoch. The batches already sent for this epoch are drained.
    if (patience_exhausted(*cfg.patience, static_cast<std::int64_t>(epoch) - 1, res.best.best_epoch)) {
      res.stopped_after = static_cast<std::int64_t>(epoch) - 1;
      source->stop();
      if (leader && log >= LogLevel::Info)
        std::printf("early stop after epoch %lld: no better validation accuracy in %d epochs (best: epoch %lld)\n",
                    static_cast<long long>(res.stopped_after), *cfg.patience, static_cast<long long>(res.best.best_epoch));
      break;
    }
    const auto t_epoch = Clock::now();
    // Dropout masks are keyed by (seed, epoch, global batch, node) (NodeKeyedDropout): the
    // same for any trainer count, and a resumed run continues exactly. What still draws from
    // torch's generator (GAT attention dropout) is reseeded per epoch and trainer.
    torch::manual_seed(splitmix64(cfg.seed * 0x9e3779b97f4a7c15ULL + epoch) ^ static_cast<std::uint64_t>(trainers.rank()));
    EpochStats st;
    model->train();
    // A bar redrawn on a TTY, a plain line every 30 s otherwise; per-step lines at debug.
    ProgressBar bar("epoch " + std::to_string(epoch), n_train, "steps", leader && log == LogLevel::Info, 30.0);
    for (std::uint64_t b = 0; b < n_train && full_batch; ++b) {  // --full-batch: one step, the whole graph
      maybe_inject_fault(Role::Trainer, trainers.rank(), ++steps_done);
      const auto t0 = Clock::now();
      opt.zero_grad();
      const NodeKeyedDropout keyed{splitmix64(splitmix64(splitmix64(cfg.seed ^ 0x64726f706f7574ULL) + epoch)),
                                   full_batch->node_ids.data()};
      const torch::Tensor logits = model->forward(full_batch->blocks, full_batch->x, &keyed).index_select(0, full_batch->train_nodes);
      const torch::Tensor& y = full_batch->train_labels;
      torch::Tensor loss_sum = F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(-1));
      (loss_sum / static_cast<double>(std::max<std::int64_t>(1, full_batch->labelled_train))).backward();
      st.train_loss_sum += loss_sum.item<double>();
      st.train_correct += logits.argmax(1).eq(y).sum().item<double>();
      st.train_count += static_cast<double>(full_batch->labelled_train);
      opt.step();
      st.compute_s += since(t0);
      bar.update(b + 1);
    }
    for (std::uint64_t b = 0; b < n_train && !full_batch; ++b) {
      maybe_inject_fault(Role::Trainer, trainers.rank(), ++steps_done);
      auto t0 = Clock::now();
      ReadyBatch rb = source->next(BatchId{epoch, BatchPhase::Train, b});
      st.wait_s += since(t0);
      t0 = Clock::now();
      opt.zero_grad();
      if (rb.batch.num_seeds > 0) {
        const auto blocks = to_block_tensors(rb.batch, device, gcn_deg.get());
        torch::Tensor x = input_features(rb, info.feature_dim, cfg.feature_norm, device);
        torch::Tensor y = torch::from_blob(rb.labels.data(), {static_cast<std::int64_t>(rb.labels.size())}, torch::kLong)
                              .to(device);
        const NodeKeyedDropout keyed{
            splitmix64(splitmix64(splitmix64(cfg.seed ^ 0x64726f706f7574ULL) + rb.batch.id.epoch) + rb.batch.id.index),
            rb.batch.nodes.data()};
        torch::Tensor logits = model->forward(blocks, x, &keyed);
        torch::Tensor loss_sum = F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(-1));
        // Divided by the whole global batch: summing over trainers gives the global mean.
        (loss_sum / static_cast<double>(rb.global_seeds)).backward();
        st.train_loss_sum += loss_sum.item<double>();
        st.train_correct += logits.argmax(1).eq(y).sum().item<double>();
        st.train_count += static_cast<double>(y.ge(0).sum().item<std::int64_t>());
      }
      st.compute_s += since(t0);
      t0 = Clock::now();
      if (roles.trainers > 1) average_gradients(*model, reducer, nccl.get());
      st.allreduce_s += since(t0);
      t0 = Clock::now();
      opt.step();
      st.compute_s += since(t0);
      bar.update(b + 1);
      if (leader && log >= LogLevel::Debug)
        std::printf("epoch %u step %llu/%llu  wait %.3f s  compute %.3f s  all-reduce %.3f s (epoch so far)\n", epoch,
                    static_cast<unsigned long long>(b + 1), static_cast<unsigned long long>(n_train), st.wait_s,
                    st.compute_s, st.allreduce_s);
    }
    bar.finish();
    const double train_seconds = since(t_epoch);
    model->eval();
    if (full_eval) {
      const auto t0 = Clock::now();
      full_eval->evaluate(*model, trainers, st);
      st.compute_s += since(t0);
    }
    {
      torch::NoGradGuard ng;
      for (BatchPhase phase : {BatchPhase::Valid, BatchPhase::Test}) {
        const std::uint64_t nb = phase == BatchPhase::Valid ? n_valid : n_test;
        for (std::uint64_t b = 0; b < nb; ++b) {
          auto t0 = Clock::now();
          ReadyBatch rb = source->next(BatchId{epoch, phase, b});
          st.wait_s += since(t0);
          t0 = Clock::now();
          if (rb.batch.num_seeds == 0) continue;
          const auto blocks = to_block_tensors(rb.batch, device, gcn_deg.get());
          torch::Tensor x = input_features(rb, info.feature_dim, cfg.feature_norm, device);
          torch::Tensor y = torch::from_blob(rb.labels.data(), {static_cast<std::int64_t>(rb.labels.size())}, torch::kLong)
                                .to(device);
          const double correct = model->forward(blocks, x).argmax(1).eq(y).sum().item<double>();
          const double count = static_cast<double>(y.ge(0).sum().item<std::int64_t>());
          (phase == BatchPhase::Valid ? st.valid_correct : st.test_correct) += correct;
          (phase == BatchPhase::Valid ? st.valid_count : st.test_count) += count;
          st.compute_s += since(t0);
        }
      }
    }
    double sums[10] = {st.train_loss_sum, st.train_correct, st.train_count, st.valid_correct, st.valid_count,
                       st.test_correct, st.test_count, st.wait_s, st.compute_s, st.allreduce_s};
    trainers.allreduce_sum(sums, 10);
    const double T = roles.trainers;
    // A metric over no labelled node is undefined: NaN, written as null, never the best.
    const double none = std::nan("");
    const double train_loss = sums[2] > 0 ? sums[0] / sums[2] : none;
    const double train_acc = sums[2] > 0 ? sums[1] / sums[2] : none;
    const double valid_acc = sums[4] > 0 ? sums[3] / sums[4] : none;
    const double test_acc = sums[6] > 0 ? sums[5] / sums[6] : none;
    res.time_totals.wait_s += sums[7] / T;
    res.time_totals.compute_s += sums[8] / T;
    res.time_totals.allreduce_s += sums[9] / T;
    res.final_test = test_acc;
    const bool improved = !std::isnan(valid_acc) && (res.best.best_epoch < 0 || valid_acc > res.best.best_valid);
    if (improved) {
      res.best.best_valid = valid_acc;
      res.best.test_at_best = test_acc;
      res.best.best_epoch = epoch;
    }
    res.best.epoch = epoch;
    if (leader) {
      JsonWriter j;
      j.begin_object()
          .field("epoch", static_cast<std::int64_t>(epoch))
          .field("train_loss", train_loss)
          .field("train_accuracy", train_acc)
          .field("valid_accuracy", valid_acc)
          .field("test_accuracy", test_acc)
          .field("seconds", since(t_epoch))
          .field("train_seconds", train_seconds)
          .field("wait_seconds", sums[7] / T)
          .field("compute_seconds", sums[8] / T)
          .field("allreduce_seconds", sums[9] / T)
          .field("steps", n_train)
          .field("eval_mode", eval_mode)
          .end_object();
      append_line(cfg.out + "/metrics.jsonl", j.str());
      if (improved) {
        torch::serialize::OutputArchive a;
        save_params(*model, a);
        save_archive_atomic(a, cfg.out + "/best_model.pt");
      }
      save_checkpoint(ck_path, *model, opt, res.best);
      if (log >= LogLevel::Info)
        std::printf("epoch %3u  loss %.4f  train %.4f  valid %.4f  test %.4f  %.2fs (wait %.2f, compute %.2f, allreduce %.2f)\n",
                    epoch, train_loss, train_acc, valid_acc, test_acc, since(t_epoch), sums[7] / T, sums[8] / T,
                    sums[9] / T);
      std::fflush(stdout);
    }
    ++res.epochs_run;
  }
  res.counters = source->counters();
  source->finish();
  res.seconds = since(t_start);
  return res;
}

}  // namespace

int run_training(const TrainConfig& cfg, MpiSession& mpi, const RunInfo& run_info) {
  const LogLevel log = log_level_of(cfg);
  const Communicator world = Communicator::world();
  const int rank = world.rank();
  const ShardSetInfo shard_info = read_shard_set_info(cfg.shards);
  // Labels before anything is planned or written (rank 0 reads them; every rank learns the
  // outcome): a label beyond any sane class count, or a split whose training nodes have none,
  // ends the job here with the shard file and row, on every rank.
  ShardLabelSummary labels;
  if (!cfg.dry_run) {
    std::string error;
    if (rank == 0) {
      try {
        labels = check_shard_labels(cfg.shards);
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    if (world.size() > 1) error = world.allgather(rank == 0 ? error : std::string())[0];
    if (!error.empty()) throw std::runtime_error(error);
    if (rank == 0 && labels.unlabeled_train > 0 && log >= LogLevel::Warn)
      std::fprintf(stderr,
                   "flotilla train: warning: %llu of %llu training nodes in %s have no label (-1); they are left out "
                   "of the loss and the accuracy (summary.json: unlabeled_train_nodes)\n",
                   static_cast<unsigned long long>(labels.unlabeled_train), static_cast<unsigned long long>(labels.train),
                   cfg.shards.c_str());
  }
  // --eval auto: full-graph evaluation when its activations (and, with sampler and loader
  // ranks, the shards each trainer then loads) fit --memory-budget. Rank 0 decides (it knows
  // the class count), every rank follows.
  std::string eval_mode = cfg.eval;
  if (!cfg.dry_run) {
    if (cfg.full_batch && world.size() > 1)
      throw UsageError("--full-batch trains in one process: run it without mpirun (or with -np 1)");
    if (cfg.full_batch && eval_mode == "auto") eval_mode = "full";  // the whole graph is in memory anyway
    // A resumed run keeps the mode its epochs so far were evaluated with (the best epoch is
    // chosen among figures of one kind), even if the budget or the layout changed.
    if (rank == 0 && eval_mode == "auto" && !cfg.resume.empty()) eval_mode = recorded_eval_mode(cfg.out + "/metrics.jsonl");
    if (rank == 0 && eval_mode == "auto") {
      GnnConfig g;
      g.model = cfg.model;
      g.in_dim = static_cast<std::int64_t>(std::max<std::uint64_t>(1, shard_info.feature_dim));
      g.hidden_dim = *cfg.hidden;
      g.heads = cfg.heads;
      g.out_dim = std::max<std::int64_t>(1, labels.num_classes);
      g.num_layers = static_cast<int>(parse_fanouts(cfg.fanouts).size());
      std::uint64_t need = layerwise_activation_bytes(shard_info.num_nodes, gnn_layer_dims(g));
      if (cfg.samplers > 0)
        for (std::uint32_t p = 0; p < shard_info.num_parts; ++p)
          need += std::filesystem::file_size(cfg.shards + "/part-" + std::to_string(p) + ".shard");
      eval_mode = need <= cfg.memory_budget ? "full" : "sampled";
    }
    if (world.size() > 1) eval_mode = world.allgather(rank == 0 ? eval_mode : std::string())[0];
  }
  const RolePlan roles = [&] {
    try {
      return plan_roles(world.allgather(mpi.hostname()), cfg.samplers, cfg.loaders, shard_info.num_parts,
                        cfg.trainers_per_node);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());  // e.g. more samplers + loaders than ranks: a flag error (exit 2)
    }
  }();
  const RankPlan& me = roles.ranks[static_cast<std::size_t>(rank)];
  {  // roles for the stalled-rank message ("sampler 0")
    std::vector<std::string> names;
    for (const RankPlan& r : roles.ranks) names.push_back(std::string(role_name(r.role)) + " " + std::to_string(r.index));
    RankWatchdog::set_roles(names);
  }
  std::string device = "cpu";
  bool fell_back = false;
  if (me.role == Role::Trainer) device = pick_device(cfg.device, mpi.local_rank(), &fell_back);
  const std::vector<std::string> devices = world.allgather(me.role == Role::Trainer ? device : std::string("cpu"));
  if (cfg.dry_run) {
    if (rank == 0) print_plan(roles, cfg, devices);
    return 0;
  }
  if (fell_back && log >= LogLevel::Warn)
    std::fprintf(stderr, "rank %d: --device %s requested but LibTorch sees no GPU; training on the CPU\n", rank,
                 cfg.device.c_str());
  if (rank == 0 && cfg.resume.empty()) {  // a resumed run writes them once its checkpoint loaded
    std::filesystem::create_directories(cfg.out);
    write_run_header(cfg, run_info);
    std::filesystem::remove(cfg.out + "/metrics.jsonl");
  }
  world.barrier();
  // One communicator per role: trainers all-reduce gradients, samplers agree on seed sets.
  const Communicator role_comm = world.split(static_cast<int>(me.role), rank);
  const BatchPlan plan = make_batch_plan(cfg, roles, rank, eval_mode);
  TrafficCounters counters;
  TrainerResult res;
  // Every rank schedules from the epoch after the checkpoint's (servers too).
  const std::uint32_t first_epoch = cfg.resume.empty() ? 0 : checkpoint_next_epoch(cfg.out + "/checkpoint.pt");
  try {
    switch (me.role) {
      case Role::Trainer: {
        res = run_trainer(cfg, roles, rank, role_comm, device, first_epoch, run_info, eval_mode);
        counters = res.counters;
        break;
      }
      case Role::Sampler:
        counters = run_sampler_server(cfg.shards, roles, rank, plan, first_epoch, static_cast<std::uint32_t>(*cfg.epochs),
                                      role_comm);
        break;
      case Role::Loader: counters = run_loader_server(cfg.shards, roles, rank); break;
    }
  } catch (const std::exception& e) {
    abort_job("flotilla train: rank " + std::to_string(rank) + " (" + role_name(me.role) + " " +
              std::to_string(me.index) + " on " + me.host + "): error: " + e.what());
  }
  // Summary on rank 0 (trainer 0): totals per role of what crossed ranks.
  const std::size_t W = roles.ranks.size();
  std::vector<std::uint64_t> table(W * 6, 0);
  const TrafficCounters mine = counters;
  std::uint64_t* row = table.data() + static_cast<std::size_t>(rank) * 6;
  row[0] = mine.sampled_edges_local;
  row[1] = mine.sampled_edges_remote;
  row[2] = mine.feature_rows_local;
  row[3] = mine.feature_rows_remote;
  row[4] = mine.bytes_sent;
  row[5] = mine.bytes_received;
  world.allreduce_sum(table.data(), table.size());
  std::vector<double> busy(3 * W, 0.0);  // per rank: busy, sampling, sending
  busy[static_cast<std::size_t>(rank)] = mine.busy_seconds;
  busy[W + static_cast<std::size_t>(rank)] = mine.sampling_seconds;
  busy[2 * W + static_cast<std::size_t>(rank)] = mine.sending_seconds;
  world.allreduce_sum(busy.data(), busy.size());
  const std::int64_t peak_rss = world.allreduce_max(static_cast<std::int64_t>(peak_rss_bytes()));
  if (rank == 0) {
    std::uint64_t tot[3][6] = {};
    double busy_tot[3] = {0, 0, 0}, sending_tot[3] = {0, 0, 0}, sampling_tot = 0;
    for (std::size_t r = 0; r < W; ++r) {
      const int role = static_cast<int>(roles.ranks[r].role);
      for (int i = 0; i < 6; ++i) tot[role][i] += table[r * 6 + static_cast<std::size_t>(i)];
      busy_tot[role] += busy[r];
      sampling_tot += busy[W + r];
      sending_tot[role] += busy[2 * W + r];
    }
    JsonWriter j;
    j.begin_object()
        .field("task", "nodeclass")
        .field("model", cfg.model)
        // How valid/test accuracy were computed: full (layer-wise over the whole graph),
        // sampled (mini-batches with the training fanouts) or none.
        .field("eval_mode", eval_mode)
        .field("full_batch", cfg.full_batch)
        // null when never evaluated (--eval none)
        .field("test_accuracy", res.best.best_epoch < 0 ? std::nan("") : res.best.test_at_best)
        .field("best_valid_accuracy", res.best.best_epoch < 0 ? std::nan("") : res.best.best_valid)
        .field("best_epoch", res.best.best_epoch < 0 ? std::nan("") : static_cast<double>(res.best.best_epoch))
        .field("final_test_accuracy", res.final_test)
        .field("epochs", static_cast<std::int64_t>(*cfg.epochs))
        .field("epochs_run_this_session", res.epochs_run)
        .field("patience", static_cast<std::int64_t>(*cfg.patience))  // -1: off
        .field("stopped_early", res.stopped_after >= 0)
        .field("last_epoch", res.stopped_after >= 0 ? res.stopped_after : static_cast<std::int64_t>(*cfg.epochs) - 1)
        .field("seconds", res.seconds)
        .field("peak_rss_bytes", static_cast<std::uint64_t>(peak_rss))  // the largest of any rank
        .field("wait_seconds", res.time_totals.wait_s)
        .field("compute_seconds", res.time_totals.compute_s)
        .field("allreduce_seconds", res.time_totals.allreduce_s)
        .field("trainers", roles.trainers)
        .field("samplers", roles.samplers)
        .field("loaders", roles.loaders)
        .field("partitions", static_cast<std::uint64_t>(roles.num_parts))
        .field("seed_assignment", cfg.seed_assignment)
        .field("num_classes", labels.num_classes)
        // Nodes of each split without a label (-1): left out of the loss and the accuracies.
        .field("unlabeled_train_nodes", labels.unlabeled_train)
        .field("unlabeled_valid_nodes", labels.unlabeled_valid)
        .field("unlabeled_test_nodes", labels.unlabeled_test);
    j.key("traffic").begin_object();
    for (int r = 0; r < 3; ++r) {
      j.key(role_name(static_cast<Role>(r))).begin_object()
          .field("sampled_edges_local", tot[r][0])
          .field("sampled_edges_remote", tot[r][1])
          .field("feature_rows_local", tot[r][2])
          .field("feature_rows_remote", tot[r][3])
          .field("bytes_sent", tot[r][4])
          .field("bytes_received", tot[r][5]);
      if (r != static_cast<int>(Role::Trainer)) j.field("busy_seconds", busy_tot[r]).field("sending_seconds", sending_tot[r]);
      if (r == static_cast<int>(Role::Sampler) && busy_tot[r] > 0)
        j.field("sampled_edges_per_busy_second_per_sampler",
                static_cast<double>(tot[r][0] + tot[r][1]) / busy_tot[r]);
      if (r == static_cast<int>(Role::Sampler) && sampling_tot > 0)
        j.field("sampling_seconds", sampling_tot)
            .field("sampled_edges_per_sampling_second_per_sampler", static_cast<double>(tot[r][0] + tot[r][1]) / sampling_tot);
      j.end_object();
    }
    j.end_object().end_object();
    write_text_atomic(cfg.out + "/summary.json", j.str() + "\n");
    if (log >= LogLevel::Info)
      std::printf("done: test accuracy %.4f at best valid %.4f (epoch %lld); %.1f s; summary in %s/summary.json\n",
                  res.best.test_at_best, res.best.best_valid, static_cast<long long>(res.best.best_epoch), res.seconds,
                  cfg.out.c_str());
  }
  return 0;
}

}  // namespace flotilla
