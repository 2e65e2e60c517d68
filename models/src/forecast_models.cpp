// DCRNN, dcrnn1 (PGT-I's single-cell DCRNN) and T-GCN (see flotilla/models/forecast.h).
//
// Internally every state is node-major, [N, B, C], so that a graph product is one sparse
// product over [N, B * C]. The three models share one GRU step: gates from a linear map of
// the graph "terms" of [x, h] (diffusion series, or the GCN product) and a candidate from the
// terms of [x, r * h]. The terms of x and of h are computed separately (the maps are linear
// and column-wise) so that each new hidden state is propagated over the graph once, and
// serves both as the state of its cell at the next step and as the input of the cell above.
// The encoder's first-layer input terms are computed for all input steps in one product.
#include <torch/torch.h>

#include <functional>
#include <stdexcept>
#include <string>

#include "flotilla/models/forecast.h"

namespace flotilla {

namespace {

[[noreturn]] void bad_input(const std::string& what) { throw std::invalid_argument("ForecastModel::forward: " + what); }

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Graph terms of a node-major tensor [N, ..., C] -> [N, ..., C, M].
using TermsFn = std::function<torch::Tensor(const torch::Tensor&)>;

// Weight rows split into the x part and the h part (rows are feature-major: c * M + m).
struct GruWeights {
  torch::Tensor gx, gh, gb;  // gates [in*M, 2H], [H*M, 2H], [2H]; columns r then u
  torch::Tensor cx, ch, cb;  // candidate [in*M, H], [H*M, H], [H]
};

// Contribution of the input terms xs ([..., in, M]) to the gates and the candidate.
struct InputPart {
  torch::Tensor g, c;
};
InputPart input_part(const GruWeights& w, const torch::Tensor& xs) {
  const auto flat = xs.flatten(-2);
  return {flat.matmul(w.gx), flat.matmul(w.cx)};
}

// One GRU step on node-major states: h [N, B, H], hs = terms(h) [N, B, H, M].
torch::Tensor gru_step(const GruWeights& w, const InputPart& in, const torch::Tensor& h, const torch::Tensor& hs,
                       const TermsFn& terms) {
  const auto g = torch::sigmoid(in.g + hs.flatten(-2).matmul(w.gh) + w.gb);
  const auto ru = g.chunk(2, -1);  // split: one concatenation in the backward
  const auto& r = ru[0];
  const auto& u = ru[1];
  const auto rhs = terms(r * h);
  const auto c = torch::tanh(in.c + rhs.flatten(-2).matmul(w.ch) + w.cb);
  return u * h + (1 - u) * c;
}

// A weight and a bias (DCGRU and T-GCN gate/candidate maps).
class Affine : public torch::nn::Module {
 public:
  Affine(std::int64_t rows, std::int64_t cols, double bias_init, bool xavier_normal) {
    weight = register_parameter("weight", torch::empty({rows, cols}));
    this->bias = register_parameter("bias", torch::full({cols}, bias_init));
    torch::NoGradGuard no_grad;
    if (xavier_normal) {
      torch::nn::init::xavier_normal_(weight);
    } else {
      torch::nn::init::xavier_uniform_(weight);
    }
  }
  torch::Tensor weight, bias;
};

// GRU cell with maps on graph terms: weights [(in + H) * M, 2H] and [(in + H) * M, H].
class GraphGruCell : public torch::nn::Module {
 public:
  GraphGruCell(std::int64_t in, std::int64_t hidden, std::int64_t M, bool xavier_normal)
      : in_(in), hidden_(hidden), M_(M) {
    gates_ = register_module("gates", std::make_shared<Affine>((in + hidden) * M, 2 * hidden, 1.0, xavier_normal));
    candidate_ = register_module("candidate", std::make_shared<Affine>((in + hidden) * M, hidden, 0.0, xavier_normal));
  }
  GruWeights weights() const {
    const auto xr = in_ * M_, hr = hidden_ * M_;
    return {gates_->weight.narrow(0, 0, xr), gates_->weight.narrow(0, xr, hr), gates_->bias,
            candidate_->weight.narrow(0, 0, xr), candidate_->weight.narrow(0, xr, hr), candidate_->bias};
  }

 private:
  std::int64_t in_, hidden_, M_;
  std::shared_ptr<Affine> gates_, candidate_;
};

// Stacked cells over the input steps. xs0: terms of the first layer's input for every step,
// [N, T, B, in, M]. Returns the final states and their terms; seq collects the top state after
// every step when asked.
struct EncoderResult {
  std::vector<torch::Tensor> h, hs, seq;
};
EncoderResult run_stack(const std::vector<GruWeights>& layers, const torch::Tensor& xs0, std::int64_t B,
                        std::int64_t H, std::int64_t M, const TermsFn& terms, bool keep_seq, bool need_final_terms) {
  const auto N = xs0.size(0), T = xs0.size(1);
  const auto L = layers.size();
  EncoderResult r;
  r.h.assign(L, torch::zeros({N, B, H}, xs0.options()));
  r.hs.assign(L, torch::zeros({N, B, H, M}, xs0.options()));
  // [N, T, B, 2H] and [N, T, B, H], split by step with unbind: its backward stacks the step
  // gradients once, where select's would allocate and fill a full-size zero gradient per step.
  const auto in0 = input_part(layers[0], xs0);
  const auto g0 = in0.g.unbind(1), c0 = in0.c.unbind(1);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::size_t l = 0; l < L; ++l) {
      const InputPart in = l == 0 ? InputPart{g0[t], c0[t]} : input_part(layers[l], r.hs[l - 1]);
      r.h[l] = gru_step(layers[l], in, r.h[l], r.hs[l], terms);
      const bool last = t + 1 == T;
      if (!last || need_final_terms || l + 1 < L) r.hs[l] = terms(r.h[l]);
    }
    if (keep_seq) r.seq.push_back(r.h[L - 1]);
  }
  return r;
}

// [B, T, N, F] -> [N, T, B, F]
torch::Tensor node_major(const torch::Tensor& x) { return x.permute({2, 1, 0, 3}).contiguous(); }

// Module holding the graph operators as buffers (so that to(device) moves them).
class GraphBuffers : public torch::nn::Module {
 public:
  explicit GraphBuffers(std::vector<GraphOperator> ops) : ops_(std::move(ops)) {
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      ops_[i].matrix = register_buffer("op" + std::to_string(i), ops_[i].matrix);
      ops_[i].matrix_t = register_buffer("op" + std::to_string(i) + "_t", ops_[i].matrix_t);
    }
  }
  const std::vector<GraphOperator>& ops() const { return ops_; }

 private:
  std::vector<GraphOperator> ops_;
};

// ---------------------------------------------------------------- DCRNN

class Dcrnn : public ForecastModel {
 public:
  Dcrnn(const ForecastModelConfig& cfg, const SensorGraph& g) : ForecastModel(cfg) {
    graph_ = register_module("graph", std::make_shared<GraphBuffers>(random_walk_supports(g)));
    H_ = cfg.hidden;
    M_ = 1 + 2 * cfg.diffusion_steps;
    encoder_ = register_module("encoder", torch::nn::ModuleList());
    decoder_ = register_module("decoder", torch::nn::ModuleList());
    for (int l = 0; l < cfg.num_layers; ++l) {
      auto e = std::make_shared<GraphGruCell>(l == 0 ? cfg.input_dim : H_, H_, M_, true);
      auto d = std::make_shared<GraphGruCell>(l == 0 ? cfg.output_dim : H_, H_, M_, true);
      encoder_->push_back(e);
      decoder_->push_back(d);
      enc_.push_back(e);
      dec_.push_back(d);
    }
    projection_ = register_module("projection", torch::nn::Linear(H_, cfg.output_dim));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& labels, std::int64_t global_step) override {
    check_inputs(x, labels);
    const auto& cfg = config();
    const auto B = x.size(0);
    const int K = cfg.diffusion_steps;
    const bool restart = cfg.dual_restart;
    const auto& ops = graph_->ops();
    const TermsFn terms = [&](const torch::Tensor& t) { return diffusion_series(t, ops, K, restart); };

    std::vector<GruWeights> ew, dw;
    for (const auto& c : enc_) ew.push_back(c->weights());
    for (const auto& c : dec_) dw.push_back(c->weights());
    auto enc = run_stack(ew, terms(node_major(x)), B, H_, M_, terms, false, true);

    const bool sample = is_training() && cfg.use_curriculum && labels.defined();
    const double eps = sample ? curriculum_epsilon(cfg, global_step) : 0.0;
    const auto lab = sample ? labels.permute({1, 2, 0, 3}) : torch::Tensor();  // [horizon, N, B, out]
    const auto N = x.size(2);
    const auto L = static_cast<std::size_t>(cfg.num_layers);
    auto h = enc.h, hs = enc.hs;
    auto inp_terms = torch::zeros({N, B, cfg.output_dim, M_}, x.options());  // GO symbol
    std::vector<torch::Tensor> outputs;
    for (std::int64_t t = 0; t < cfg.horizon; ++t) {
      const bool last = t + 1 == cfg.horizon;
      for (std::size_t l = 0; l < L; ++l) {
        const auto in = input_part(dw[l], l == 0 ? inp_terms : hs[l - 1]);
        h[l] = gru_step(dw[l], in, h[l], hs[l], terms);
        if (!last || l + 1 < L) hs[l] = terms(h[l]);
      }
      auto out = projection_->forward(h[L - 1]);  // [N, B, out]
      outputs.push_back(out);
      if (last) break;
      torch::Tensor next = out;
      if (sample && torch::rand({1}).item<double>() < eps) next = lab[t];
      inp_terms = terms(next);
    }
    return torch::stack(outputs, 0).permute({2, 0, 1, 3});  // [horizon, N, B, out] -> [B, horizon, N, out]
  }

 private:
  std::shared_ptr<GraphBuffers> graph_;
  std::int64_t H_ = 0, M_ = 0;
  torch::nn::ModuleList encoder_{nullptr}, decoder_{nullptr};
  std::vector<std::shared_ptr<GraphGruCell>> enc_, dec_;
  torch::nn::Linear projection_{nullptr};
};

// ---------------------------------------------------------------- dcrnn1 (PGT-I)

// PyTorch Geometric Temporal's DConv parameters: weight [2, K + 1, in, out], bias [out].
class DConv : public torch::nn::Module {
 public:
  DConv(std::int64_t in, std::int64_t out, int K) : K_(K) {
    weight = register_parameter("weight", torch::empty({2, K + 1, in, out}));
    bias = register_parameter("bias", torch::zeros({out}));
    torch::NoGradGuard no_grad;
    torch::nn::init::xavier_uniform_(weight);
  }
  // As a map on the diffusion series [x, S_f^1..K x, S_b^1..K x]: [in, 1 + 2K, out].
  torch::Tensor series_weight() const {
    std::vector<torch::Tensor> parts{(weight[0][0] + weight[1][0]).unsqueeze(1)};
    if (K_ > 0) {
      parts.push_back(weight[0].narrow(0, 1, K_).permute({1, 0, 2}));
      parts.push_back(weight[1].narrow(0, 1, K_).permute({1, 0, 2}));
    }
    return torch::cat(parts, 1);
  }
  torch::Tensor weight, bias;

 private:
  int K_;
};

class Dcrnn1 : public ForecastModel {
 public:
  Dcrnn1(const ForecastModelConfig& cfg, const SensorGraph& g) : ForecastModel(cfg) {
    graph_ = register_module("graph", std::make_shared<GraphBuffers>(random_walk_supports(g)));
    H_ = forecast_hidden_width(cfg);
    M_ = 1 + 2 * cfg.diffusion_steps;
    cell_ = register_module("cell", std::make_shared<torch::nn::Module>());
    const auto C = cfg.input_dim + H_;
    conv_z_ = cell_->register_module("conv_z", std::make_shared<DConv>(C, H_, cfg.diffusion_steps));
    conv_r_ = cell_->register_module("conv_r", std::make_shared<DConv>(C, H_, cfg.diffusion_steps));
    conv_h_ = cell_->register_module("conv_h", std::make_shared<DConv>(C, H_, cfg.diffusion_steps));
    if (cfg.dcrnn1_readout == "linear")
      head_ = register_module("head", torch::nn::Linear(H_, cfg.horizon * cfg.output_dim));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& labels, std::int64_t) override {
    check_inputs(x, labels);
    const auto& cfg = config();
    const bool sequence = cfg.dcrnn1_readout == "sequence";
    if (sequence && x.size(1) != cfg.horizon)
      bad_input("dcrnn1 with readout 'sequence' needs as many input steps as horizon (" +
                std::to_string(cfg.horizon) + "), got " + std::to_string(x.size(1)));
    const auto B = x.size(0), F = cfg.input_dim;
    const auto& ops = graph_->ops();
    const int K = cfg.diffusion_steps;
    const TermsFn terms = [&](const torch::Tensor& t) { return diffusion_series(t, ops, K, true); };

    // Effective [C * M, out] maps, gate columns r then u (= z).
    const auto wr = conv_r_->series_weight(), wz = conv_z_->series_weight(), wh = conv_h_->series_weight();
    const auto wg = torch::cat({wr, wz}, 2);
    const auto flat = [&](const torch::Tensor& w, std::int64_t from, std::int64_t n) {
      return w.narrow(0, from, n).reshape({n * M_, w.size(2)});
    };
    GruWeights w{flat(wg, 0, F), flat(wg, F, H_), torch::cat({conv_r_->bias, conv_z_->bias}),
                 flat(wh, 0, F), flat(wh, F, H_), conv_h_->bias};
    auto enc = run_stack({w}, terms(node_major(x)), B, H_, M_, terms, sequence, false);
    if (sequence) {
      const auto seq = torch::stack(enc.seq, 0).narrow(-1, 0, cfg.output_dim);  // [T, N, B, out]
      return seq.permute({2, 0, 1, 3});
    }
    const auto N = x.size(2);
    return head_->forward(enc.h[0]).view({N, B, cfg.horizon, cfg.output_dim}).permute({1, 2, 0, 3});
  }

 private:
  std::shared_ptr<GraphBuffers> graph_;
  std::int64_t H_ = 0, M_ = 0;
  std::shared_ptr<torch::nn::Module> cell_;
  std::shared_ptr<DConv> conv_z_, conv_r_, conv_h_;
  torch::nn::Linear head_{nullptr};
};

// ---------------------------------------------------------------- T-GCN

class Tgcn : public ForecastModel {
 public:
  Tgcn(const ForecastModelConfig& cfg, const SensorGraph& g) : ForecastModel(cfg) {
    graph_ = register_module("graph", std::make_shared<GraphBuffers>(std::vector<GraphOperator>{gcn_operator(g)}));
    H_ = cfg.hidden;
    cells_ = register_module("cells", torch::nn::ModuleList());
    for (int l = 0; l < cfg.num_layers; ++l) {
      auto c = std::make_shared<GraphGruCell>(l == 0 ? cfg.input_dim : H_, H_, 1, false);
      cells_->push_back(c);
      list_.push_back(c);
    }
    head_ = register_module("head", torch::nn::Linear(H_, cfg.horizon * cfg.output_dim));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& labels, std::int64_t) override {
    check_inputs(x, labels);
    const auto& cfg = config();
    const auto B = x.size(0), N = x.size(2);
    const auto& op = graph_->ops()[0];
    const TermsFn terms = [&](const torch::Tensor& t) { return op.apply(t).unsqueeze(-1); };
    std::vector<GruWeights> w;
    for (const auto& c : list_) w.push_back(c->weights());
    auto enc = run_stack(w, terms(node_major(x)), B, H_, 1, terms, false, false);
    return head_->forward(enc.h.back()).view({N, B, cfg.horizon, cfg.output_dim}).permute({1, 2, 0, 3});
  }

 private:
  std::shared_ptr<GraphBuffers> graph_;
  std::int64_t H_ = 0;
  torch::nn::ModuleList cells_{nullptr};
  std::vector<std::shared_ptr<GraphGruCell>> list_;
  torch::nn::Linear head_{nullptr};
};

}  // namespace

void ForecastModel::check_inputs(const torch::Tensor& x, const torch::Tensor& labels) const {
  if (!x.defined() || x.dim() != 4) bad_input("x must be a 4-D tensor [B, T, N, input_dim]");
  if (!x.is_floating_point()) bad_input("x must be floating point");
  if (x.size(0) < 1 || x.size(1) < 1) bad_input("x " + shape_of(x) + " has no samples or no steps");
  if (x.size(2) != cfg_.num_nodes || x.size(3) != cfg_.input_dim)
    bad_input("x " + shape_of(x) + " does not match num_nodes " + std::to_string(cfg_.num_nodes) +
              " and input_dim " + std::to_string(cfg_.input_dim));
  if (labels.defined()) {
    const std::vector<std::int64_t> want{x.size(0), cfg_.horizon, cfg_.num_nodes, cfg_.output_dim};
    if (labels.sizes().vec() != want)
      bad_input("labels " + shape_of(labels) + " must be [B, horizon, N, output_dim] = [" + std::to_string(want[0]) +
                ", " + std::to_string(want[1]) + ", " + std::to_string(want[2]) + ", " + std::to_string(want[3]) + "]");
  }
}

std::shared_ptr<ForecastModel> make_forecast_model(const ForecastModelConfig& cfg, const SensorGraph& graph) {
  validate_forecast_config(cfg);
  validate_sensor_graph(graph);
  if (graph.num_nodes != cfg.num_nodes)
    throw std::invalid_argument("make_forecast_model: graph has " + std::to_string(graph.num_nodes) +
                                " nodes, config num_nodes is " + std::to_string(cfg.num_nodes));
  if (cfg.model == "dcrnn") return std::make_shared<Dcrnn>(cfg, graph);
  if (cfg.model == "dcrnn1") return std::make_shared<Dcrnn1>(cfg, graph);
  return std::make_shared<Tgcn>(cfg, graph);
}

}  // namespace flotilla
