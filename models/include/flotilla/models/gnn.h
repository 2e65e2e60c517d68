// GNN models over sampled message-flow blocks: GraphSAGE (mean), GCN, GAT and SGC.
//
// Message passing is done with index_select / index_add_ on the block's COO arrays, never a
// dense (or sparse-matrix) adjacency: a sampled block is small and irregular, and this keeps
// the models device-agnostic and deterministic on CPU (index_add_ sums in edge order).
// Only LibTorch API present in both 1.13 and 2.x is used.
//
// Layer semantics (h = input rows of the block's sources, h_dst = its first num_dst rows):
//  sage  h_dst' = W_self h_dst + W_neigh mean_{src->dst} h_src + b. A destination without
//        in-edges gets 0 for the mean (it still sees itself through W_self), so isolated or
//        unsampled nodes are not an error.
//  gcn   h_dst' = sum_{src->dst, incl. self edge} h_src W / sqrt(deg_out(src) deg_in(dst)) + b,
//        degrees counted on the block's edges plus one self edge dst i <- src i per
//        destination (DGL GraphConv norm='both' after add_self_loop). The self edge is always
//        added: a block that already lists i->i counts it twice, as add_self_loop would.
//        Degrees are the block's, not the full graph's, so a sampled block is normalised by
//        what was sampled (like DGL on blocks), unless the block carries full-graph degrees
//        (BlockTensors::src_degree / dst_degree, layer-wise inference): then it computes
//        exactly the full-graph GCN for its destinations.
//  gat   per head k: e = LeakyReLU_0.2(a_l.W h_src + a_r.W h_dst) on every in-edge plus the
//        self edge; alpha = softmax of e over the in-edges of each destination (per-dst max
//        subtracted for stability); h_dst' = sum alpha W h_src + b. Hidden layers concatenate
//        the heads (width hidden_dim), the output layer averages out_heads heads. As for
//        gcn, the self edge is always added, so a destination without in-edges attends to
//        itself only.
//  sgc   SGC (Wu et al. 2019, "Simplifying Graph Convolutional Networks"): logits =
//        S^K X W + b, K = num_layers hops of S = the gcn normalisation above without a weight
//        (D^-1/2 (A + I) D^-1/2 on a whole graph), then logistic regression. Computed as
//        S^K (X W) + b (the same by linearity): the linear map first, on the input rows, so
//        every hop propagates out_dim-wide rows. Parameter-free hops, no activation, no
//        dropout between hops (GnnConfig::dropout unused); input_dropout applies to X.
// Between layers: ReLU (ELU for GAT, as in the GAT paper) then dropout; nothing after the
// last layer, whose output is raw logits.
//
// Layer-wise (full-neighbourhood) inference: every layer above depends on a destination's
// in-edges and its own row only (mean, degree-normalised sum, per-destination softmax), so a
// layer over all nodes can be computed one block of destinations at a time, each block
// holding the destinations' whole in-neighbourhood (GnnModel::forward_layer). For gcn and sgc
// the normalisation needs the full graph's degrees, which such a block carries. sgc's layer 0
// is the linear map then the first hop, layers 1..K-1 the further hops (parameter-free), the
// last adds the bias: every layer's output is out_dim wide (gnn_layer_dims).
//
// Parameter names (for tests and checkpoints), layer i = 0..num_layers-1:
//  sage  layers.i.self.{weight,bias}, layers.i.neigh.weight
//  gcn   layers.i.weight, layers.i.bias            (weight is in x out)
//  gat   layers.i.fc.weight, layers.i.attn_l, layers.i.attn_r, layers.i.bias
//        (attn_* are [heads, head_dim]; fc.weight is [heads * head_dim, in])
//  sgc   linear.weight ([out, in]), linear.bias
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "flotilla/models/gnn_config.h"

namespace flotilla {

// One message-flow layer (DGL "block"): edges from num_src source nodes to num_dst
// destination nodes; destination i is also source i (destinations are a prefix of the
// sources, so a layer can use a node's own representation). COO, int64 tensors of equal
// length, on the device of the features. Indices are not range-checked beyond what
// index_select does.
struct BlockTensors {
  torch::Tensor src, dst;
  std::int64_t num_src = 0, num_dst = 0;
  // Optional, gcn and sgc only (layer-wise inference over the full graph): float [num_src] and
  // [num_dst] degrees to normalise by, self edge included (full-graph out-degree + 1 of each
  // source, in-degree + 1 of each destination). Undefined: counted on this block's edges.
  torch::Tensor src_degree, dst_degree;
  // Optional, with the degrees above on a sampled block: float [num_dst], full-graph degree /
  // sampled neighbours of each destination. The sampled neighbours' sum is scaled by it, so
  // it estimates the full neighbourhood's without bias (the self edge is never sampled).
  torch::Tensor dst_sample_scale;
};

// Dropout masks keyed by node instead of drawn from LibTorch's generator: the mask of the row
// of node v at layer l, column j, is a hash of (batch_key, l, v, j). A node shared by the
// blocks of several trainers then gets the same mask on each, so T trainers slicing a global
// batch compute exactly what one trainer computes on all of it, with dropout on (the
// sampling is keyed the same way). Rows of every layer's input are a prefix of x's rows
// (destinations are a prefix of the sources), so node_ids names x's rows: node_ids[r] is
// row r's (global) node id; the caller owns the array, which must outlive forward.
struct NodeKeyedDropout {
  std::uint64_t batch_key = 0;              // e.g. a hash of (seed, epoch, phase, global batch index)
  const std::uint32_t* node_ids = nullptr;  // x.size(0) ids
};

// Multiplies h ([rows, cols], float) by a keyed dropout mask (0 or 1 / (1 - p) per element;
// keep probability quantised to 1/65536): element (r, j) is dropped when the j-th 16-bit
// draw of hash(key, node_ids[r]) falls below p. The mask is built on the CPU in parallel and
// moved to h's device. p in [0, 1); p = 0 returns h.
torch::Tensor node_keyed_dropout(const torch::Tensor& h, double p, std::uint64_t key, const std::uint32_t* node_ids);

class GnnModel : public torch::nn::Module {
 public:
  // blocks[0] consumes x (num_src of blocks[0] rows, in_dim columns), blocks.back() produces
  // logits ([num_dst, out_dim]) for its destinations. Consecutive blocks must chain:
  // blocks[i+1].num_src == blocks[i].num_dst. Throws std::invalid_argument on a mismatch.
  // Training mode: dropout and input dropout use `keyed` masks when given, else LibTorch's
  // generator (GAT's attention dropout always does).
  virtual torch::Tensor forward(const std::vector<BlockTensors>& blocks, torch::Tensor x,
                                const NodeKeyedDropout* keyed = nullptr) = 0;

  // One layer alone, in evaluation semantics (no dropout), for layer-wise inference:
  // layer `layer` (0-based) on `block` with input rows h (block.num_src rows: the input
  // features for layer 0, else the previous forward_layer's output rows). Returns its output
  // for the block's destinations after the activation that follows it in forward() (ReLU,
  // ELU for gat, none for sgc) for every layer but the last, raw logits for the last. Chaining
  // forward_layer over layers 0..num_layers-1 equals forward() in eval mode. Throws
  // std::invalid_argument on a bad layer index or block, std::logic_error for a model
  // without a per-layer form (none of sage, gcn, gat and sgc: see gnn_layerwise_decomposable).
  virtual torch::Tensor forward_layer(int layer, const BlockTensors& block, const torch::Tensor& h);

  const GnnConfig& config() const { return cfg_; }

 protected:
  explicit GnnModel(GnnConfig cfg) : cfg_(std::move(cfg)) {}
  // Shape and chaining checks shared by the models.
  void check_inputs(const std::vector<BlockTensors>& blocks, const torch::Tensor& x) const;

 private:
  GnnConfig cfg_;
};

// Throws std::invalid_argument on a bad config (see validate_gnn_config).
std::shared_ptr<GnnModel> make_gnn(const GnnConfig& cfg);

// Softmax of per-edge scores ([E] or [E, heads]) over the edges sharing a destination
// (dst: [E] int64 in [0, num_dst)). Each destination's maximum is subtracted first, so large
// scores do not overflow. Output has the shape of scores; for every destination with at
// least one edge the coefficients sum to 1 (per head). Exposed for tests and for other
// attention models.
torch::Tensor edge_softmax(const torch::Tensor& scores, const torch::Tensor& dst, std::int64_t num_dst);

}  // namespace flotilla
