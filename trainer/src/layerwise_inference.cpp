// Layer-wise full-neighbourhood inference (see flotilla/trainer/layerwise_inference.h).
#include "flotilla/trainer/layerwise_inference.h"

#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

#include "flotilla/comm/communicator.h"
#include "flotilla/models/gnn.h"
#include "flotilla/models/gnn_config.h"
#include "flotilla/sampler/shard_store.h"

namespace flotilla {

namespace {

class ShardStoreGraph : public InferenceGraph {
 public:
  explicit ShardStoreGraph(const ShardStore& s) : s_(s) {}
  std::uint64_t num_nodes() const override { return s_.info().num_nodes; }
  std::uint64_t feature_dim() const override { return s_.info().feature_dim; }
  std::uint64_t degree(VertexId v) const override { return s_.degree(v); }
  const VertexId* neighbors(VertexId v) const override { return s_.neighbors(v); }
  const float* feature_row(VertexId v) const override { return s_.feature_row(v); }

 private:
  const ShardStore& s_;
};

[[noreturn]] void file_error(const std::string& path, const char* what, int err) {
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(err));
}

// One block of destinations [begin, end) with their whole in-neighbourhood: sources are the
// destinations (local 0..D-1) then the other neighbours, ascending; edges destination-major
// in neighbour order (as one whole-graph block lists them, so sums run in the same order).
struct HostBlock {
  std::vector<VertexId> sources;
  std::vector<std::int64_t> src, dst;
};

HostBlock build_block(const InferenceGraph& g, VertexId begin, VertexId end) {
  HostBlock b;
  std::vector<VertexId> outside;
  std::uint64_t edges = 0;
  for (VertexId v = begin; v < end; ++v) {
    const std::uint64_t d = g.degree(v);
    const VertexId* nb = g.neighbors(v);
    edges += d;
    for (std::uint64_t i = 0; i < d; ++i)
      if (nb[i] < begin || nb[i] >= end) outside.push_back(nb[i]);
  }
  std::sort(outside.begin(), outside.end());
  outside.erase(std::unique(outside.begin(), outside.end()), outside.end());
  const VertexId num_dst = end - begin;
  b.sources.reserve(num_dst + outside.size());
  for (VertexId v = begin; v < end; ++v) b.sources.push_back(v);
  b.sources.insert(b.sources.end(), outside.begin(), outside.end());
  b.src.reserve(edges);
  b.dst.reserve(edges);
  for (VertexId v = begin; v < end; ++v) {
    const std::uint64_t d = g.degree(v);
    const VertexId* nb = g.neighbors(v);
    for (std::uint64_t i = 0; i < d; ++i) {
      const VertexId u = nb[i];
      if (u >= g.num_nodes())
        throw std::runtime_error("layer-wise inference: node " + std::to_string(v) + " has neighbour " +
                                 std::to_string(u) + " beyond the graph's " + std::to_string(g.num_nodes()) + " nodes");
      const std::int64_t local =
          u >= begin && u < end
              ? static_cast<std::int64_t>(u - begin)
              : static_cast<std::int64_t>(num_dst) +
                    (std::lower_bound(outside.begin(), outside.end(), u) - outside.begin());
      b.src.push_back(local);
      b.dst.push_back(static_cast<std::int64_t>(v - begin));
    }
  }
  return b;
}

torch::Tensor long_tensor(const std::vector<std::int64_t>& v) {
  return torch::from_blob(const_cast<std::int64_t*>(v.data()), {static_cast<std::int64_t>(v.size())}, torch::kLong).clone();
}

}  // namespace

std::unique_ptr<InferenceGraph> shard_store_graph(const ShardStore& store) {
  return std::make_unique<ShardStoreGraph>(store);
}

// ---- ActivationTable ------------------------------------------------------------------------

ActivationTable ActivationTable::in_memory(std::uint64_t rows, std::uint64_t width) {
  ActivationTable t;
  t.rows_ = rows;
  t.width_ = width;
  t.memory_.assign(rows * width, 0.0f);
  return t;
}

ActivationTable ActivationTable::on_disk(const std::string& path, std::uint64_t rows, std::uint64_t width, bool create) {
  ActivationTable t;
  t.rows_ = rows;
  t.width_ = width;
  t.path_ = path;
  t.fd_ = ::open(path.c_str(), create ? O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDWR | O_CLOEXEC, 0600);
  if (t.fd_ < 0) file_error(path, create ? "cannot create the activation file" : "cannot open the activation file", errno);
  t.owner_ = create;
  if (create && ::ftruncate(t.fd_, static_cast<off_t>(t.bytes())) != 0)
    file_error(path, "cannot size the activation file", errno);
  return t;
}

ActivationTable::~ActivationTable() { close_file(); }

void ActivationTable::close_file() {
  if (fd_ >= 0) {
    ::close(fd_);
    if (owner_) ::unlink(path_.c_str());
  }
  fd_ = -1;
  owner_ = false;
}

ActivationTable::ActivationTable(ActivationTable&& o) noexcept
    : rows_(o.rows_), width_(o.width_), memory_(std::move(o.memory_)), fd_(o.fd_), path_(std::move(o.path_)), owner_(o.owner_) {
  o.fd_ = -1;
  o.owner_ = false;
}

ActivationTable& ActivationTable::operator=(ActivationTable&& o) noexcept {
  if (this != &o) {
    close_file();
    rows_ = o.rows_;
    width_ = o.width_;
    memory_ = std::move(o.memory_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    owner_ = o.owner_;
    o.fd_ = -1;
    o.owner_ = false;
  }
  return *this;
}

void ActivationTable::read_rows(std::uint64_t begin, std::uint64_t count, float* out) const {
  if (begin + count > rows_) throw std::out_of_range("ActivationTable::read_rows beyond the table");
  if (fd_ < 0) {
    std::memcpy(out, memory_.data() + begin * width_, count * width_ * sizeof(float));
    return;
  }
  std::uint64_t left = count * width_ * sizeof(float), at = begin * width_ * sizeof(float);
  char* p = reinterpret_cast<char*>(out);
  while (left > 0) {
    const ssize_t r = ::pread(fd_, p, left, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) file_error(path_, "read failed", r < 0 ? errno : EIO);
    p += r;
    at += static_cast<std::uint64_t>(r);
    left -= static_cast<std::uint64_t>(r);
  }
}

void ActivationTable::write_rows(std::uint64_t begin, std::uint64_t count, const float* data) {
  if (begin + count > rows_) throw std::out_of_range("ActivationTable::write_rows beyond the table");
  if (fd_ < 0) {
    std::memcpy(memory_.data() + begin * width_, data, count * width_ * sizeof(float));
    return;
  }
  std::uint64_t left = count * width_ * sizeof(float), at = begin * width_ * sizeof(float);
  const char* p = reinterpret_cast<const char*>(data);
  while (left > 0) {
    const ssize_t w = ::pwrite(fd_, p, left, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) file_error(path_, "write failed (disk full?)", w < 0 ? errno : EIO);
    p += w;
    at += static_cast<std::uint64_t>(w);
    left -= static_cast<std::uint64_t>(w);
  }
}

void LayerRowTransport::gather_all(int table, std::uint64_t n, std::uint64_t width, float* out) {
  std::vector<VertexId> ids;
  constexpr std::uint64_t kSlice = 65536;
  for (std::uint64_t b = 0; b < n; b += kSlice) {
    const std::uint64_t c = std::min(kSlice, n - b);
    ids.resize(c);
    for (std::uint64_t i = 0; i < c; ++i) ids[i] = static_cast<VertexId>(b + i);
    gather(table, ids.data(), c, out + b * width);
  }
}

void ActivationTable::gather(const VertexId* ids, std::size_t count, float* out) const {
  std::size_t i = 0;
  while (i < count) {
    std::size_t j = i + 1;  // a run of consecutive ids: one read
    if (fd_ >= 0)
      while (j < count && ids[j] == ids[j - 1] + 1) ++j;
    read_rows(ids[i], j - i, out + i * width_);
    i = j;
  }
}

// ---- inference --------------------------------------------------------------------------------

std::uint64_t layerwise_activation_bytes(std::uint64_t num_nodes, const std::vector<std::int64_t>& dims) {
  std::uint64_t most = 0;
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    const std::uint64_t in = l == 0 ? 0 : static_cast<std::uint64_t>(dims[l]);
    most = std::max(most, num_nodes * (in + static_cast<std::uint64_t>(dims[l + 1])) * sizeof(float));
  }
  return most;
}

namespace {

// The computing ranks keep every table: in memory (each rank a full copy, filled by an
// all-reduce of the rows each computed) or in one shared file per table in scratch_dir.
class LocalRowTransport : public LayerRowTransport {
 public:
  LocalRowTransport(const InferenceGraph& graph, const Communicator* ranks, bool on_disk, std::string scratch_dir,
                    int keep_table)
      : graph_(graph), ranks_(ranks), on_disk_(on_disk), scratch_(std::move(scratch_dir)), keep_(keep_table) {}

  void begin_layer(int layer, std::uint64_t width) override {
    const std::uint64_t n = graph_.num_nodes();
    ActivationTable& t = tables_[layer + 1];
    if (!on_disk_) {
      t = ActivationTable::in_memory(n, width);
      return;
    }
    const std::string path = scratch_ + "/layer-" + std::to_string(layer + 1) + ".f32";
    if (rank() == 0) t = ActivationTable::on_disk(path, n, width, true);
    barrier();
    if (rank() != 0) t = ActivationTable::on_disk(path, n, width, false);
  }
  void gather(int table, const VertexId* ids, std::size_t count, float* out) override {
    if (table == 0) {
      const std::uint64_t f = graph_.feature_dim();
      for (std::size_t i = 0; i < count; ++i) std::memcpy(out + i * f, graph_.feature_row(ids[i]), f * sizeof(float));
      return;
    }
    tables_.at(table).gather(ids, count, out);
  }
  void write(int layer, VertexId begin, VertexId end, const float* rows) override {
    tables_.at(layer + 1).write_rows(begin, end - begin, rows);
  }
  void end_layer(int layer) override {
    ActivationTable& t = tables_.at(layer + 1);
    // Every rank's rows into every rank's table (disk: the barrier orders writes before reads).
    if (!on_disk_ && ranks_ && ranks_->size() > 1) ranks_->allreduce_sum(t.data(), t.rows() * t.width());
    barrier();
    // Tables no layer reads any more (the one kept for take() stays).
    for (auto it = tables_.begin(); it != tables_.end();)
      it = it->first < layer + 1 && it->first != keep_ ? tables_.erase(it) : std::next(it);
  }
  ActivationTable take(int table) override {
    ActivationTable t = std::move(tables_.at(table));
    tables_.erase(table);
    return t;
  }
  void finish() override { barrier(); }  // every rank has read the files before their creator removes them
  bool on_disk() const override { return on_disk_; }

 private:
  int rank() const { return ranks_ ? ranks_->rank() : 0; }
  void barrier() const {
    if (ranks_ && ranks_->size() > 1) ranks_->barrier();
  }
  const InferenceGraph& graph_;
  const Communicator* ranks_;
  bool on_disk_;
  std::string scratch_;
  int keep_;
  std::map<int, ActivationTable> tables_;
};

}  // namespace

GcnDegrees gcn_degrees(std::uint64_t n, const std::function<std::uint64_t(VertexId)>& degree,
                       const std::function<const VertexId*(VertexId)>& neighbors) {
  GcnDegrees d;
  d.out.assign(n, 1.0f);
  d.in.assign(n, 1.0f);
  for (VertexId v = 0; v < n; ++v) {
    const std::uint64_t dv = degree(v);
    d.in[v] += static_cast<float>(dv);
    const VertexId* nb = neighbors(v);
    for (std::uint64_t i = 0; i < dv; ++i)
      if (nb[i] < n) d.out[nb[i]] += 1.0f;
  }
  return d;
}

GcnDegrees gcn_degrees(const InferenceGraph& g) {
  return gcn_degrees(
      g.num_nodes(), [&g](VertexId v) { return g.degree(v); }, [&g](VertexId v) { return g.neighbors(v); });
}

LayerwiseResult run_layerwise_inference(GnnModel& model, const InferenceGraph& graph, const Communicator* ranks,
                                        const LayerwiseOptions& opt) {
  const GnnConfig& cfg = model.config();
  std::string why;
  if (!gnn_layerwise_decomposable(cfg.model, &why)) throw std::invalid_argument(why);
  if (opt.block_nodes == 0) throw std::invalid_argument("layer-wise inference: block_nodes must be >= 1");
  if (opt.feature_norm != "none" && opt.feature_norm != "row")
    throw std::invalid_argument("layer-wise inference: feature_norm '" + opt.feature_norm + "' is not none or row");
  const std::uint64_t n = graph.num_nodes();
  if (graph.feature_dim() != static_cast<std::uint64_t>(cfg.in_dim))
    throw std::invalid_argument("layer-wise inference: the graph has " + std::to_string(graph.feature_dim()) +
                                " features per node, the model expects " + std::to_string(cfg.in_dim));
  const std::vector<std::int64_t> dims = gnn_layer_dims(cfg);
  const int num_layers = cfg.num_layers;
  const int P = ranks ? ranks->size() : 1;
  const int me = ranks ? ranks->rank() : 0;

  LayerwiseResult res;
  res.num_nodes = n;
  res.num_classes = static_cast<std::uint64_t>(dims.back());
  res.activation_bytes = layerwise_activation_bytes(n, dims);
  const bool spill = res.activation_bytes > opt.memory_budget_bytes;
  if (!opt.transport && spill && opt.scratch_dir.empty())
    throw std::invalid_argument("layer-wise inference: the activations (" + std::to_string(res.activation_bytes) +
                                " bytes) exceed the memory budget (" + std::to_string(opt.memory_budget_bytes) +
                                " bytes) and no scratch folder was given");
  const bool keep = opt.keep_embeddings && num_layers >= 2;
  std::unique_ptr<LocalRowTransport> local;
  if (!opt.transport) local = std::make_unique<LocalRowTransport>(graph, ranks, spill, opt.scratch_dir, keep ? num_layers - 1 : -1);
  LayerRowTransport& rows_of = opt.transport ? *opt.transport : *local;
  const std::uint64_t B = opt.block_nodes;
  const std::uint64_t num_blocks = (n + B - 1) / B;
  res.blocks = num_blocks;
  const torch::Device device(opt.device);

  // gcn and sgc normalise by full-graph degrees: out-degree (how many nodes list v as a neighbour)
  // and in-degree, each + 1 for the self edge.
  std::vector<float> out_degree;
  if (cfg.model == "gcn" || cfg.model == "sgc") out_degree = gcn_degrees(graph).out;

  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const std::uint64_t total = num_blocks * static_cast<std::uint64_t>(num_layers);
  std::vector<float> rows;
  for (int l = 0; l < num_layers; ++l) {
    const std::uint64_t width = static_cast<std::uint64_t>(dims[static_cast<std::size_t>(l) + 1]);
    const std::uint64_t in_width = static_cast<std::uint64_t>(dims[static_cast<std::size_t>(l)]);
    rows_of.begin_layer(l, width);
    for (std::uint64_t blk = static_cast<std::uint64_t>(me); blk < num_blocks; blk += static_cast<std::uint64_t>(P)) {
      const VertexId begin = static_cast<VertexId>(blk * B);
      const VertexId end = static_cast<VertexId>(std::min<std::uint64_t>(n, (blk + 1) * B));
      const HostBlock hb = build_block(graph, begin, end);
      const std::int64_t S = static_cast<std::int64_t>(hb.sources.size());
      rows.resize(hb.sources.size() * in_width);
      rows_of.gather(l, hb.sources.data(), hb.sources.size(), rows.data());
      torch::Tensor h = torch::from_blob(rows.data(), {S, static_cast<std::int64_t>(in_width)}, torch::kFloat32).to(device);
      if (l == 0 && opt.feature_norm == "row") {  // as the trainer's input_features
        torch::Tensor sum = h.sum(1, true);
        h = h / sum.masked_fill(sum == 0, 1.0);
      }
      BlockTensors bt{long_tensor(hb.src).to(device), long_tensor(hb.dst).to(device), S,
                      static_cast<std::int64_t>(end - begin), {}, {}};
      if (cfg.model == "gcn" || cfg.model == "sgc") {
        std::vector<float> sd(hb.sources.size()), dd(end - begin);
        for (std::size_t i = 0; i < hb.sources.size(); ++i) sd[i] = out_degree[hb.sources[i]];
        for (VertexId v = begin; v < end; ++v) dd[v - begin] = static_cast<float>(graph.degree(v) + 1);
        bt.src_degree = torch::from_blob(sd.data(), {S}, torch::kFloat32).clone().to(device);
        bt.dst_degree = torch::from_blob(dd.data(), {bt.num_dst}, torch::kFloat32).clone().to(device);
      }
      torch::Tensor out = model.forward_layer(l, bt, h).to(torch::kCPU, torch::kFloat32).contiguous();
      rows_of.write(l, begin, end, out.data_ptr<float>());
      if (me == 0 && opt.progress) opt.progress(static_cast<std::uint64_t>(l) * num_blocks + blk + 1, total);
    }
    rows_of.end_layer(l);
  }
  // Logits on every rank, read in node order.
  res.logits.resize(n * res.num_classes);
  rows_of.gather_all(num_layers, n, res.num_classes, res.logits.data());
  if (keep && me == 0) res.embeddings = rows_of.take(num_layers - 1);
  rows_of.finish();
  res.on_disk = rows_of.on_disk();
  if (me == 0 && opt.progress) opt.progress(total, total);
  if (was_training) model.train();
  return res;
}

}  // namespace flotilla
