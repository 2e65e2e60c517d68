// Layer-wise full-neighbourhood inference (as DGL and PyG evaluate GNNs): one GNN layer at a
// time over every node, each layer computed for blocks of destination nodes that hold the
// destinations' whole in-neighbourhood, so memory is O(nodes x widest layer), never
// O(nodes x fanout^layers) as a sampled multi-hop forward over all nodes would be.
//
// Blocks are the fixed node-id ranges [b B, (b+1) B) of the (relabelled) ids, B =
// block_nodes; block b is computed by rank b mod P of the communicator. A block's result
// depends only on its nodes and the previous layer's rows, so the output is the same for any
// number of ranks. Between layers the ranks exchange the rows they computed: in memory (an
// all-reduce of the n x width table, each rank contributing its own rows) when every
// layer's input and output tables fit in `memory_budget_bytes`, otherwise through files in
// `scratch_dir` (one n x width float32 file per layer, rows written by the rank that
// computed them with pwrite, read back with pread; the folder must be the same, shared one
// on every rank). Torch-free: the model is passed as a GnnModel, defined in
// flotilla/models/gnn.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

class Communicator;
class GnnModel;

// The graph inference runs on: the in-neighbours of every node (the sources of its messages,
// as the sampler reads them: ShardStore::neighbors) and its input feature row.
class InferenceGraph {
 public:
  virtual ~InferenceGraph() = default;
  virtual std::uint64_t num_nodes() const = 0;
  virtual std::uint64_t feature_dim() const = 0;
  virtual std::uint64_t degree(VertexId v) const = 0;
  virtual const VertexId* neighbors(VertexId v) const = 0;  // degree(v) ids
  virtual const float* feature_row(VertexId v) const = 0;   // feature_dim() floats
};

class ShardStore;
// A view of a ShardStore holding every part with topology and features (not owned).
std::unique_ptr<InferenceGraph> shard_store_graph(const ShardStore& store);

// The degrees gcn and sgc normalise by on the full graph, each + 1 for the self edge: out[v]
// = how many nodes list v as a neighbour + 1 (v as a message source), in[v] = degree(v) + 1
// (v as a destination). Layer-wise inference and sampled training use the same arrays, so a
// model is trained with the operator it is evaluated with.
struct GcnDegrees {
  std::vector<float> out, in;
};
GcnDegrees gcn_degrees(std::uint64_t n, const std::function<std::uint64_t(VertexId)>& degree,
                       const std::function<const VertexId*(VertexId)>& neighbors);
GcnDegrees gcn_degrees(const InferenceGraph& g);

// n rows x width float32 activations, in memory or in a file (float32, row-major, no header).
// Move-only; a file-backed table removes its file when destroyed if it created it.
class ActivationTable {
 public:
  ActivationTable() = default;
  static ActivationTable in_memory(std::uint64_t rows, std::uint64_t width);
  // create = true: this process creates (truncates) the file to rows x width x 4 bytes and
  // removes it when destroyed; false: opens a file another rank created.
  static ActivationTable on_disk(const std::string& path, std::uint64_t rows, std::uint64_t width, bool create);
  ~ActivationTable();
  ActivationTable(ActivationTable&& o) noexcept;
  ActivationTable& operator=(ActivationTable&& o) noexcept;
  ActivationTable(const ActivationTable&) = delete;
  ActivationTable& operator=(const ActivationTable&) = delete;

  std::uint64_t rows() const { return rows_; }
  std::uint64_t width() const { return width_; }
  bool on_disk() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  std::uint64_t bytes() const { return rows_ * width_ * sizeof(float); }
  // Rows [begin, begin + count) into out (count x width floats).
  void read_rows(std::uint64_t begin, std::uint64_t count, float* out) const;
  void write_rows(std::uint64_t begin, std::uint64_t count, const float* data);
  // The rows of `ids` (ascending runs are read together from a file), into out.
  void gather(const VertexId* ids, std::size_t count, float* out) const;
  // The whole table in memory (in-memory tables only; the data of a file-backed one is on disk).
  float* data() { return memory_.data(); }
  const float* data() const { return memory_.data(); }

 private:
  void close_file();
  std::uint64_t rows_ = 0, width_ = 0;
  std::vector<float> memory_;
  int fd_ = -1;
  std::string path_;
  bool owner_ = false;
};

// Where each layer's rows stay between layers and how a computing rank reads and writes
// them. Without one (LayerwiseOptions::transport = nullptr) the computing ranks keep them
// (see the file comment); flotilla/trainer/layer_row_loaders.h serves them from
// feature-loader ranks. Tables: 0 = the input features, t >= 1 = the output of layer t - 1.
class LayerRowTransport {
 public:
  virtual ~LayerRowTransport() = default;
  // Layer `layer` (0-based) is about to write table layer + 1, `width` columns per node.
  virtual void begin_layer(int layer, std::uint64_t width) = 0;
  // Rows of table `table` for `ids` into out (count x the table's width).
  virtual void gather(int table, const VertexId* ids, std::size_t count, float* out) = 0;
  // Every row of table `table` in node order into out (n x `width`), through gather in
  // slices of 65536 ids.
  void gather_all(int table, std::uint64_t n, std::uint64_t width, float* out);
  // This rank's rows [begin, end) of table layer + 1.
  virtual void write(int layer, VertexId begin, VertexId end, const float* rows) = 0;
  // Collective over the computing ranks: afterwards every row of table layer + 1 is readable.
  virtual void end_layer(int layer) = 0;
  // Table `table` (>= 1, written) as a table the caller keeps (in memory or its file).
  virtual ActivationTable take(int table) = 0;
  // Collective: the computing ranks are done reading.
  virtual void finish() = 0;
  // Whether the activations went to disk (as far as this rank knows).
  virtual bool on_disk() const = 0;
};

struct LayerwiseOptions {
  std::uint64_t block_nodes = 4096;       // destination nodes per block (>= 1); keep it fixed to compare runs
  std::uint64_t memory_budget_bytes = std::uint64_t{4} << 30;  // activation tables beyond it go to disk
  std::string scratch_dir;                // required when they do; the same shared path on every rank
  std::string feature_norm = "none";      // none | row: as the trainer (each input row divided by its sum)
  std::string device = "cpu";             // LibTorch device of the computation
  bool keep_embeddings = false;           // rank 0 keeps the last hidden layer's table (input of the output layer)
  LayerRowTransport* transport = nullptr;  // rows served elsewhere (feature loaders); not owned
  // Called on rank 0 after each block: (blocks done, blocks in all layers) of this rank's
  // share scaled to the whole (for a progress bar).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

// Bytes of the in-memory activation tables layer-wise inference of `layer_dims` (input width,
// hidden widths..., classes: gnn_layer_dims) over n nodes holds at once: the largest input +
// output table pair (the input features stay where the graph keeps them).
std::uint64_t layerwise_activation_bytes(std::uint64_t num_nodes, const std::vector<std::int64_t>& layer_dims);

struct LayerwiseResult {
  std::uint64_t num_nodes = 0, num_classes = 0;
  std::vector<float> logits;   // n x num_classes, by node id, on every rank
  ActivationTable embeddings;  // rank 0, keep_embeddings and a model with a hidden layer: n x hidden
  bool on_disk = false;        // the activations went through scratch_dir files
  std::uint64_t activation_bytes = 0;  // layerwise_activation_bytes of this model
  std::uint64_t blocks = 0;            // per layer
};

// Runs `model` (eval mode, no gradients) over every node of `graph`. Every rank of `ranks`
// calls it with the same graph, model parameters and options; ranks = nullptr: this
// process alone (no MPI needed). Throws std::invalid_argument
// for a model without a layer-wise form (gnn_layerwise_decomposable) or bad options, and
// std::runtime_error naming the scratch file when the disk path fails.
LayerwiseResult run_layerwise_inference(GnnModel& model, const InferenceGraph& graph, const Communicator* ranks,
                                        const LayerwiseOptions& options);

}  // namespace flotilla
