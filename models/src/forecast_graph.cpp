// Sparse graph operators of the forecasting models (see flotilla/models/forecast.h).
#include <torch/torch.h>

#include <stdexcept>
#include <string>

#include "flotilla/models/forecast.h"

namespace flotilla {

namespace {

[[noreturn]] void bad_graph(const std::string& what) { throw std::invalid_argument("SensorGraph: " + what); }

torch::Tensor edge_weights(const SensorGraph& g) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(g.src.device());
  return g.weight.defined() ? g.weight.to(opts) : torch::ones({g.src.size(0)}, opts);
}

// 1 / d where d > 0, else 0 (the reference code's d_inv[isinf] = 0).
torch::Tensor safe_inverse(const torch::Tensor& d) {
  return torch::where(d > 0, d.reciprocal(), torch::zeros_like(d));
}

}  // namespace

void validate_sensor_graph(const SensorGraph& g) {
  if (g.num_nodes <= 0) bad_graph("num_nodes must be > 0, got " + std::to_string(g.num_nodes));
  if (!g.src.defined() || !g.dst.defined() || g.src.dim() != 1 || g.dst.dim() != 1)
    bad_graph("src and dst must be 1-D tensors");
  if (g.src.scalar_type() != torch::kLong || g.dst.scalar_type() != torch::kLong)
    bad_graph("src and dst must be int64");
  if (g.src.size(0) != g.dst.size(0)) bad_graph("src and dst differ in length");
  if (g.src.device() != g.dst.device()) bad_graph("src and dst are on different devices");
  const auto E = g.src.size(0);
  if (E > 0) {
    const auto lo = torch::min(g.src.min(), g.dst.min()).item<std::int64_t>();
    const auto hi = torch::max(g.src.max(), g.dst.max()).item<std::int64_t>();
    if (lo < 0 || hi >= g.num_nodes)
      bad_graph("node ids must be in [0, " + std::to_string(g.num_nodes) + "), got " + std::to_string(lo) +
                ".." + std::to_string(hi));
  }
  if (g.weight.defined()) {
    if (g.weight.dim() != 1 || g.weight.size(0) != E) bad_graph("weight must be 1-D with one entry per edge");
    if (!g.weight.is_floating_point()) bad_graph("weight must be floating point");
    if (E > 0 && !(torch::isfinite(g.weight).all().item<bool>() && g.weight.min().item<double>() >= 0))
      bad_graph("weights must be finite and >= 0");
  }
}

GraphOperator make_operator(torch::Tensor src, torch::Tensor dst, torch::Tensor weight, std::int64_t n) {
  GraphOperator op{std::move(src), std::move(dst), std::move(weight), n, {}, {}};
  op.matrix = torch::sparse_coo_tensor(torch::stack({op.dst, op.src}), op.weight, {n, n}).coalesce();
  op.matrix_t = torch::sparse_coo_tensor(torch::stack({op.src, op.dst}), op.weight, {n, n}).coalesce();
  return op;
}

// y = S x with the backward S^T g from a precomputed coalesced S^T. LibTorch's own backward
// of a sparse mm transposes S (uncoalesced) on every call, which measured ~8x the forward time.
struct SparseMM : public torch::autograd::Function<SparseMM> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& S,
                               const torch::Tensor& St) {
    ctx->saved_data["St"] = St;
    return torch::mm(S, x);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto St = ctx->saved_data["St"].toTensor();
    return {torch::mm(St, grads[0].contiguous()), torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor GraphOperator::apply(const torch::Tensor& x) const {
  // Sparse COO x dense product (torch::mm): one pass over the nonzeros with a row axpy each,
  // both ways (the backward is S^T g). Measured ~10x faster on CPU than index_select /
  // index_add (in LibTorch 1.13 index_add, also index_select's backward, adds one row per
  // edge through the dispatcher) and than gather / scatter_add with an expanded index.
  // Deterministic on CPU: every output row is summed in a fixed nonzero order.
  auto S = matrix, St = matrix_t;
  if (!S.defined() || !St.defined()) {
    const auto op = make_operator(src, dst, weight, num_nodes);
    S = op.matrix;
    St = op.matrix_t;
  }
  if (S.scalar_type() != x.scalar_type() || S.device() != x.device()) {
    S = S.to(x.device(), x.scalar_type());
    St = St.to(x.device(), x.scalar_type());
  }
  const auto x2 = x.reshape({num_nodes, -1});
  const auto y = x2.requires_grad() && torch::GradMode::is_enabled() ? SparseMM::apply(x2, S, St) : torch::mm(S, x2);
  return y.view(x.sizes());
}

std::vector<GraphOperator> random_walk_supports(const SensorGraph& g) {
  validate_sensor_graph(g);
  torch::NoGradGuard no_grad;
  const auto w = edge_weights(g);
  const auto zeros = torch::zeros({g.num_nodes}, w.options());
  const auto inv_out = safe_inverse(zeros.index_add(0, g.src, w));
  const auto inv_in = safe_inverse(zeros.index_add(0, g.dst, w));
  return {make_operator(g.src, g.dst, w * inv_out.index_select(0, g.src), g.num_nodes),
          make_operator(g.dst, g.src, w * inv_in.index_select(0, g.dst), g.num_nodes)};
}

GraphOperator gcn_operator(const SensorGraph& g) {
  validate_sensor_graph(g);
  torch::NoGradGuard no_grad;
  const auto w = edge_weights(g);
  const auto d = torch::ones({g.num_nodes}, w.options()).index_add(0, g.src, w);  // 1 + deg_out
  const auto isq = d.rsqrt();
  const auto self = torch::arange(g.num_nodes, g.src.options());
  const auto wn = w * isq.index_select(0, g.src) * isq.index_select(0, g.dst);
  return make_operator(torch::cat({g.src, self}), torch::cat({g.dst, self}), torch::cat({wn, d.reciprocal()}),
                       g.num_nodes);
}

torch::Tensor diffusion_series(const torch::Tensor& x, const std::vector<GraphOperator>& supports, int K,
                               bool restart) {
  std::vector<torch::Tensor> terms{x};
  if (K > 0) {
    torch::Tensor x0 = x, x1;
    for (const auto& s : supports) {
      if (restart) x0 = x;
      x1 = s.apply(x0);
      terms.push_back(x1);
      for (int k = 2; k <= K; ++k) {
        auto x2 = 2 * s.apply(x1) - x0;
        terms.push_back(x2);
        x0 = x1;
        x1 = x2;
      }
    }
  }
  return torch::stack(terms, -1);
}

}  // namespace flotilla
