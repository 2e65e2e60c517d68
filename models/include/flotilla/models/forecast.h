// Spatiotemporal forecasting models (issue #6): DCRNN, the single-cell DCRNN of PyTorch
// Geometric Temporal used by the index-batching paper (PGT-I), and T-GCN.
//
// The sensor graph is a sparse weighted directed graph (COO: edge src -> dst with weight w, in
// DCRNN's convention W[src][dst] = w, e.g. a road-distance kernel from sensor src to dst).
// Graph products are sparse COO x dense products (torch::mm; O(E) memory, the normalised edge
// weights computed once per model) on a node-major [N, B * C] layout, so one pass over the
// edges serves the whole batch; no dense N x N matrix is ever formed. Only LibTorch API
// present in both 1.13 and 2.x is used. On CPU results are deterministic given
// torch::manual_seed (sparse products sum in a fixed order; scheduled sampling draws from the
// global torch generator, and only in training with labels).
//
// Graph operators (w = edge weight, deg_out(v) = sum of w over v's out-edges, deg_in(v) over
// its in-edges; an inverse of a zero degree is taken as 0, as the reference code does):
//  forward support  S_f: y[dst] += w / deg_out(src) * x[src]   ((D_O^-1 W)^T x)
//  backward support S_b: y[src] += w / deg_in(dst)  * x[dst]   ((D_I^-1 W^T)^T x)
//  These are exactly the reference code's "dual_random_walk" supports (it applies the
//  transposed random-walk matrices to x). Self loops in the graph are used as given.
//  gcn operator     A_hat: y[dst] += w / sqrt(d(src) d(dst)) * x[src], plus the self term
//  x[v] / d(v), with d(v) = 1 + deg_out(v): T-GCN's D^-1/2 (A + I) D^-1/2 with row-sum
//  degrees, applied as its code does (A_hat^T x; the same thing on a symmetric graph). The
//  identity is always added, even where the graph has a self loop.
//
// Diffusion series of x for K hops (dcrnn, dcrnn1), terms stacked in this order:
//  [x, S_f x_1..x_K, S_b x_1..x_K], x_1 = S x_0, x_k = 2 S x_{k-1} - x_{k-2}  (per support).
//  With dual_restart = false (dcrnn default, the reference code) the backward support's
//  recursion starts from (x_0, x_1) = the forward support's (x_{K-1}, x_K) state: its first
//  term is S_b x_{K-1}^(f) rather than S_b x (identical when K <= 1). dcrnn1 always restarts.
//
// Models. x is [B, T, N, input_dim] (normalised), the result [B, horizon, N, output_dim].
//  dcrnn  DCGRU cell (reference dcrnn_cell.py): [r, u] = sigmoid(G([x, h]) ) with bias init
//         1.0, c = tanh(G([x, r * h])), h' = u * h + (1 - u) * c, where G(z) = one linear map
//         of the diffusion series of z, weight rows ordered feature-major (row = c * M + m, M =
//         1 + 2K terms), as the reference's reshape. Encoder: num_layers cells over the T input
//         steps (zero initial states). Decoder: num_layers cells starting from the encoder's
//         final states, then a linear projection hidden -> output_dim; its first input is zeros
//         (GO symbol), the next the previous prediction, or in training with labels and
//         use_curriculum the true label of the previous step with probability
//         curriculum_epsilon(cfg, global_step), one coin per step for the whole batch (as the
//         reference). No dropout. Weights Xavier normal (as the PyTorch port chnsh/DCRNN_PyTorch).
//  dcrnn1 BatchedDCRNN of PyTorch Geometric Temporal (index-batching examples: BatchedDCRNN(F,
//         F, K=3), loss on the stacked hidden states): z = sigmoid(D_z([x, h])), r =
//         sigmoid(D_r([x, h])), h~ = tanh(D_h([x, r * h])), h' = z * h + (1 - z) * h~, with
//         DConv D(z) = z (W0_0 + W1_0) + sum_{k=1..K} (S_f^k z) W0_k + (S_b^k z) W1_k + b
//         (series as above, restarted per support). Readout "sequence": prediction t = the
//         first output_dim channels of h after input step t (T must equal horizon); "linear":
//         Linear(hidden, horizon * output_dim) on the last h. Differences from PyG Temporal's
//         code, which we consider bugs there: messages are weighted by w / deg (PyG Temporal
//         scales by 1 / deg only, dropping w, and mis-aligns the reverse-edge norms); the
//         recursion subtracts x_{k-2} (PyG Temporal subtracts x for every k >= 2: same for K <=
//         2 hops); every sample of the batch is diffused over the graph. Weight Xavier uniform
//         on the [2, K + 1, in, out] tensor, bias 0 (as PyG Temporal).
//  tgcn   T-GCN cell (lehaifeng/T-GCN): [r, u] = sigmoid(A_hat [x, h] W_g + b_g) with b_g init
//         1.0, c = tanh(A_hat [x, r * h] W_c + b_c), h' = u * h + (1 - u) * c; num_layers cells
//         stacked (the paper uses 1) over the T input steps, then Linear(hidden, horizon *
//         output_dim) on the last state of the top cell (the paper's implementation; no
//         decoder). Weights Xavier uniform.
//
// Parameter names (for tests and checkpoints), cells i = 0..num_layers-1:
//  dcrnn  encoder.i.gates.{weight,bias}, encoder.i.candidate.{weight,bias}, decoder.i.*
//         likewise, projection.{weight,bias}. gates.weight is [(in + H) * M, 2H] (columns r
//         then u), candidate.weight [(in + H) * M, H], in = input_dim (encoder.0), output_dim
//         (decoder.0) or H.
//  dcrnn1 cell.conv_z.{weight,bias}, cell.conv_r.*, cell.conv_h.* with weight [2, K + 1,
//         input_dim + H, H] (index 0 forward, 1 backward support); head.{weight,bias} when
//         the readout is "linear".
//  tgcn   cells.i.gates.{weight,bias} ([in + H, 2H]), cells.i.candidate.{weight,bias}
//         ([in + H, H]), head.{weight,bias}.
// The graph operators are buffers (graph.op0, graph.op1: sparse COO matrices), not
// parameters: model->to(device) moves them.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "flotilla/models/forecast_config.h"

namespace flotilla {

// Sparse weighted directed graph over num_nodes sensors: edge e is src[e] -> dst[e] with
// weight[e] (int64, int64, floating [E]). weight may be undefined (all ones). Weights must be
// finite and >= 0. Duplicate edges add up.
struct SensorGraph {
  torch::Tensor src, dst, weight;
  std::int64_t num_nodes = 0;
};

// Throws std::invalid_argument on shapes, dtypes, indices outside [0, num_nodes) or bad
// weights.
void validate_sensor_graph(const SensorGraph& g);

// A sparse linear operator y = S x on node-major tensors: y[dst[e]] += weight[e] * x[src[e]].
struct GraphOperator {
  torch::Tensor src, dst, weight;  // int64, int64, float [E]
  std::int64_t num_nodes = 0;
  // The same as a coalesced sparse COO [num_nodes, num_nodes] matrix (row dst, column src),
  // and its transpose (for the backward), built once by the functions below; apply builds
  // them on the fly when undefined.
  torch::Tensor matrix, matrix_t;
  // x: [num_nodes, ...] (any trailing shape); returns the same shape. Autograd-aware.
  torch::Tensor apply(const torch::Tensor& x) const;
};

// The two random-walk supports {S_f, S_b} of the graph (see above). Validates g.
std::vector<GraphOperator> random_walk_supports(const SensorGraph& g);
// T-GCN's normalised adjacency with self loops A_hat (see above). Validates g.
GraphOperator gcn_operator(const SensorGraph& g);

// Diffusion series of x ([N, ...]): 1 + supports.size() * K terms stacked on a new last
// dimension, ordered [x, support 0 hops 1..K, support 1 hops 1..K, ...]. restart = false
// reproduces the reference DCRNN code's carry-over between supports (see above).
torch::Tensor diffusion_series(const torch::Tensor& x, const std::vector<GraphOperator>& supports, int K,
                               bool restart);

class ForecastModel : public torch::nn::Module {
 public:
  // x: [B, T, N, input_dim], T >= 1 (dcrnn1 "sequence": T == horizon). labels (optional,
  // [B, horizon, N, output_dim]) and global_step drive scheduled sampling of dcrnn in
  // training mode; ignored in eval mode, by the other models, or when undefined. Returns
  // [B, horizon, N, output_dim]. Throws std::invalid_argument on bad shapes.
  virtual torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& labels = {},
                                std::int64_t global_step = 0) = 0;

  const ForecastModelConfig& config() const { return cfg_; }

 protected:
  explicit ForecastModel(ForecastModelConfig cfg) : cfg_(std::move(cfg)) {}
  void check_inputs(const torch::Tensor& x, const torch::Tensor& labels) const;

 private:
  ForecastModelConfig cfg_;
};

// Throws std::invalid_argument on a bad config, a bad graph or graph.num_nodes !=
// cfg.num_nodes. The graph may be on any device; the model's buffers start there.
std::shared_ptr<ForecastModel> make_forecast_model(const ForecastModelConfig& cfg, const SensorGraph& graph);

}  // namespace flotilla
