// GraphSAGE (mean), GCN, SGC and GAT layers on message-flow blocks (see flotilla/models/gnn.h).
#include "flotilla/models/gnn.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "flotilla/datasets/random.h"

namespace flotilla {

namespace {

[[noreturn]] void bad_input(const std::string& what) { throw std::invalid_argument("GnnModel::forward: " + what); }

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Sources and destinations with one self edge (dst i <- src i) appended per destination.
struct EdgesWithSelf {
  torch::Tensor src, dst;
};
EdgesWithSelf with_self_edges(const BlockTensors& b) {
  auto self = torch::arange(b.num_dst, b.src.options());
  return {torch::cat({b.src, self}), torch::cat({b.dst, self})};
}

// Sum of rows[e] into row dst[e] of a [num_dst, ...] result (out of place, autograd-aware).
torch::Tensor scatter_sum(const torch::Tensor& rows, const torch::Tensor& dst, std::int64_t num_dst) {
  auto shape = rows.sizes().vec();
  shape[0] = num_dst;
  return torch::zeros(shape, rows.options()).index_add(0, dst, rows);
}

// Sum over each destination's in-edges and its self edge of the (already normalised) source
// rows hs; on a sampled block with dst_sample_scale, the sampled neighbours' part scaled up
// to estimate the whole neighbourhood.
torch::Tensor sum_messages(const BlockTensors& b, const EdgesWithSelf& e, const torch::Tensor& hs) {
  if (!b.dst_sample_scale.defined()) return scatter_sum(hs.index_select(0, e.src), e.dst, b.num_dst);
  if (b.dst_sample_scale.numel() != b.num_dst)
    throw std::invalid_argument("GnnModel: dst_sample_scale needs num_dst entries");
  const auto neigh = scatter_sum(hs.index_select(0, b.src), b.dst, b.num_dst);
  return neigh * b.dst_sample_scale.to(hs.scalar_type()).unsqueeze(1) + hs.narrow(0, 0, b.num_dst);
}

// ---------------------------------------------------------------- GraphSAGE (mean)

class SageLayer : public torch::nn::Module {
 public:
  SageLayer(std::int64_t in, std::int64_t out) : in_(in), out_(out) {
    self_ = register_module("self", torch::nn::Linear(torch::nn::LinearOptions(in, out)));
    neigh_ = register_module("neigh", torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)));
  }

  torch::Tensor forward(const BlockTensors& b, const torch::Tensor& h) {
    const auto ones = torch::ones({b.src.size(0)}, h.options());
    const auto deg = scatter_sum(ones, b.dst, b.num_dst).clamp_min(1).unsqueeze(1);
    // mean(W h) == W mean(h) (no bias on W_neigh): gather the narrower of the two widths.
    torch::Tensor neigh;
    if (in_ > out_) {
      neigh = scatter_sum(neigh_->forward(h).index_select(0, b.src), b.dst, b.num_dst) / deg;
    } else {
      neigh = neigh_->forward(scatter_sum(h.index_select(0, b.src), b.dst, b.num_dst) / deg);
    }
    return self_->forward(h.narrow(0, 0, b.num_dst)) + neigh;
  }

 private:
  std::int64_t in_, out_;
  torch::nn::Linear self_{nullptr}, neigh_{nullptr};
};

// ---------------------------------------------------------------- GCN

class GcnLayer : public torch::nn::Module {
 public:
  GcnLayer(std::int64_t in, std::int64_t out) : in_(in), out_(out) {
    weight_ = register_parameter("weight", torch::empty({in, out}));
    bias_ = register_parameter("bias", torch::zeros({out}));
    torch::nn::init::xavier_uniform_(weight_);
  }

  torch::Tensor forward(const BlockTensors& b, const torch::Tensor& h) {
    const auto e = with_self_edges(b);
    torch::Tensor deg_out, deg_in;
    if (b.src_degree.defined() && b.dst_degree.defined()) {  // full-graph degrees (layer-wise inference)
      if (b.src_degree.numel() != b.num_src || b.dst_degree.numel() != b.num_dst)
        throw std::invalid_argument("GnnModel::forward_layer: gcn degrees: need num_src and num_dst entries");
      deg_out = b.src_degree.to(h.scalar_type()).clamp_min(1);
      deg_in = b.dst_degree.to(h.scalar_type()).clamp_min(1);
    } else {
      const auto ones = torch::ones({e.src.size(0)}, h.options());
      deg_out = scatter_sum(ones, e.src, b.num_src).clamp_min(1);  // 0 only off-edge
      deg_in = scatter_sum(ones, e.dst, b.num_dst);                // >= 1 (self edge)
    }
    // The edge norm 1/sqrt(deg_out deg_in) factors into a per-source and a per-destination
    // scale, so no per-edge multiply is needed. Transform first when it narrows the rows.
    auto hs = in_ > out_ ? h.matmul(weight_) : h;
    hs = hs * deg_out.rsqrt().unsqueeze(1);
    auto agg = sum_messages(b, e, hs) * deg_in.rsqrt().unsqueeze(1);
    if (in_ <= out_) agg = agg.matmul(weight_);
    return agg + bias_;
  }

 private:
  std::int64_t in_, out_;
  torch::Tensor weight_, bias_;
};

// ---------------------------------------------------------------- GAT

class GatLayer : public torch::nn::Module {
 public:
  GatLayer(std::int64_t in, std::int64_t head_dim, std::int64_t heads, bool concat, double attn_dropout)
      : head_dim_(head_dim), heads_(heads), concat_(concat), attn_dropout_(attn_dropout) {
    fc_ = register_module("fc", torch::nn::Linear(torch::nn::LinearOptions(in, heads * head_dim).bias(false)));
    attn_l_ = register_parameter("attn_l", torch::empty({heads, head_dim}));
    attn_r_ = register_parameter("attn_r", torch::empty({heads, head_dim}));
    bias_ = register_parameter("bias", torch::zeros({concat ? heads * head_dim : head_dim}));
    // As DGL's GATConv: Xavier normal with the ReLU gain.
    const double gain = std::sqrt(2.0);
    torch::NoGradGuard no_grad;
    torch::nn::init::xavier_normal_(fc_->weight, gain);
    torch::nn::init::xavier_normal_(attn_l_, gain);
    torch::nn::init::xavier_normal_(attn_r_, gain);
  }

  torch::Tensor forward(const BlockTensors& b, const torch::Tensor& h) {
    const auto e = with_self_edges(b);
    const auto feat = fc_->forward(h).view({b.num_src, heads_, head_dim_});           // [S, H, F]
    const auto el = (feat * attn_l_).sum(-1);                                        // [S, H]
    const auto er = (feat.narrow(0, 0, b.num_dst) * attn_r_).sum(-1);                // [D, H]
    const auto score = torch::leaky_relu(el.index_select(0, e.src) + er.index_select(0, e.dst), 0.2);
    auto alpha = edge_softmax(score, e.dst, b.num_dst);                             // [E, H]
    if (attn_dropout_ > 0) alpha = torch::dropout(alpha, attn_dropout_, is_training());
    const auto msg = feat.index_select(0, e.src) * alpha.unsqueeze(-1);              // [E, H, F]
    const auto out = scatter_sum(msg, e.dst, b.num_dst);                             // [D, H, F]
    if (concat_) return out.reshape({b.num_dst, heads_ * head_dim_}) + bias_;
    return out.mean(1) + bias_;
  }

 private:
  std::int64_t head_dim_, heads_;
  bool concat_;
  double attn_dropout_;
  torch::nn::Linear fc_{nullptr};
  torch::Tensor attn_l_, attn_r_, bias_;
};

// ---------------------------------------------------------------- SGC

// Symmetric-normalised propagation with one self edge per destination, no weight: the
// message passing of GcnLayer (D^-1/2 (A + I) D^-1/2 h for the block's destinations).
torch::Tensor gcn_propagate(const BlockTensors& b, const torch::Tensor& h) {
  const auto e = with_self_edges(b);
  torch::Tensor deg_out, deg_in;
  if (b.src_degree.defined() && b.dst_degree.defined()) {  // full-graph degrees (layer-wise inference)
    if (b.src_degree.numel() != b.num_src || b.dst_degree.numel() != b.num_dst)
      throw std::invalid_argument("GnnModel::forward_layer: sgc degrees: need num_src and num_dst entries");
    deg_out = b.src_degree.to(h.scalar_type()).clamp_min(1);
    deg_in = b.dst_degree.to(h.scalar_type()).clamp_min(1);
  } else {
    const auto ones = torch::ones({e.src.size(0)}, h.options());
    deg_out = scatter_sum(ones, e.src, b.num_src).clamp_min(1);
    deg_in = scatter_sum(ones, e.dst, b.num_dst);
  }
  const auto hs = h * deg_out.rsqrt().unsqueeze(1);
  return sum_messages(b, e, hs) * deg_in.rsqrt().unsqueeze(1);
}

// SGC (Wu et al. 2019): logits = S^K X W + b, K = num_layers propagation hops over the
// blocks, one linear map. S^K (X W) = (S^K X) W, so the map is applied first, to the input
// rows, and the hops propagate out_dim (class-count) wide rows: cheaper than propagating the
// features, the same result. The bias is added after the last hop (S b != b).
class SgcGnn : public GnnModel {
 public:
  explicit SgcGnn(const GnnConfig& cfg) : GnnModel(cfg) {
    linear_ = register_module("linear", torch::nn::Linear(torch::nn::LinearOptions(cfg.in_dim, cfg.out_dim)));
  }

  torch::Tensor forward(const std::vector<BlockTensors>& blocks, torch::Tensor x, const NodeKeyedDropout* keyed) override {
    check_inputs(blocks, x);
    const double p = config().input_dropout;
    if (p > 0 && is_training())
      x = keyed ? node_keyed_dropout(x, p, keyed->batch_key ^ 0x9e3779b97f4a7c15ULL, keyed->node_ids)
                : torch::dropout(x, p, true);
    auto h = x.matmul(linear_->weight.t());
    for (const auto& b : blocks) h = gcn_propagate(b, h);
    return h + linear_->bias;
  }

  torch::Tensor forward_layer(int layer, const BlockTensors& block, const torch::Tensor& h) override {
    const int n = config().num_layers;
    if (layer < 0 || layer >= n)
      bad_input("forward_layer: layer " + std::to_string(layer) + " of a " + std::to_string(n) + "-layer model");
    const std::int64_t width = layer == 0 ? config().in_dim : config().out_dim;
    if (!h.defined() || h.dim() != 2 || !h.is_floating_point() || h.size(0) != block.num_src || h.size(1) != width)
      bad_input("forward_layer: h must be a 2-D floating-point tensor of num_src (" + std::to_string(block.num_src) +
                ") rows and " + std::to_string(width) + " columns, got " + (h.defined() ? shape_of(h) : std::string("none")));
    if (!block.src.defined() || !block.dst.defined() || block.src.dim() != 1 || block.src.sizes() != block.dst.sizes() ||
        block.src.scalar_type() != torch::kLong || block.dst.scalar_type() != torch::kLong || block.num_dst < 0 ||
        block.num_dst > block.num_src)
      bad_input("forward_layer: src and dst must be int64 [E] and 0 <= num_dst <= num_src");
    auto out = gcn_propagate(block, layer == 0 ? h.matmul(linear_->weight.t()) : h);
    return layer + 1 == n ? out + linear_->bias : out;
  }

 private:
  torch::nn::Linear linear_{nullptr};
};

// ---------------------------------------------------------------- stacks

enum class Activation { Relu, Elu };

template <typename Layer>
class StackedGnn : public GnnModel {
 public:
  StackedGnn(const GnnConfig& cfg, Activation act) : GnnModel(cfg), act_(act) {
    list_ = register_module("layers", torch::nn::ModuleList());
  }
  void add(std::shared_ptr<Layer> layer) {
    list_->push_back(layer);
    layers_.push_back(std::move(layer));
  }

  torch::Tensor forward(const std::vector<BlockTensors>& blocks, torch::Tensor x, const NodeKeyedDropout* keyed) override {
    check_inputs(blocks, x);
    const auto& cfg = config();
    // Layer l's dropout (l = 0: input dropout) with its own key.
    auto drop = [&](const torch::Tensor& h, double p, std::size_t l) {
      if (p <= 0 || !is_training()) return h;
      if (!keyed) return torch::dropout(h, p, true);
      return node_keyed_dropout(h, p, keyed->batch_key ^ (0x9e3779b97f4a7c15ULL * (l + 1)), keyed->node_ids);
    };
    auto h = drop(x, cfg.input_dropout, 0);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (i > 0) h = drop(activate(h), cfg.dropout, i);
      h = layers_[i]->forward(blocks[i], h);
    }
    return h;
  }

  torch::Tensor forward_layer(int layer, const BlockTensors& block, const torch::Tensor& h) override {
    if (layer < 0 || layer >= static_cast<int>(layers_.size()))
      bad_input("forward_layer: layer " + std::to_string(layer) + " of a " + std::to_string(layers_.size()) +
                "-layer model");
    if (!h.defined() || h.dim() != 2 || !h.is_floating_point() || h.size(0) != block.num_src)
      bad_input("forward_layer: h must be a 2-D floating-point tensor of num_src (" + std::to_string(block.num_src) +
                ") rows, got " + (h.defined() ? shape_of(h) : std::string("none")));
    if (!block.src.defined() || !block.dst.defined() || block.src.dim() != 1 || block.src.sizes() != block.dst.sizes() ||
        block.src.scalar_type() != torch::kLong || block.dst.scalar_type() != torch::kLong || block.num_dst < 0 ||
        block.num_dst > block.num_src)
      bad_input("forward_layer: src and dst must be int64 [E] and 0 <= num_dst <= num_src");
    torch::Tensor out = layers_[static_cast<std::size_t>(layer)]->forward(block, h);
    return layer + 1 < static_cast<int>(layers_.size()) ? activate(out) : out;
  }

 private:
  torch::Tensor activate(const torch::Tensor& h) const { return act_ == Activation::Relu ? torch::relu(h) : torch::elu(h); }
  Activation act_;
  torch::nn::ModuleList list_{nullptr};
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace

torch::Tensor node_keyed_dropout(const torch::Tensor& h, double p, std::uint64_t key, const std::uint32_t* node_ids) {
  if (p <= 0) return h;
  if (!(p < 1)) throw std::invalid_argument("node_keyed_dropout: p must be in [0, 1), got " + std::to_string(p));
  if (h.dim() != 2 || !h.is_floating_point()) throw std::invalid_argument("node_keyed_dropout: h must be 2-D floating point");
  const std::int64_t rows = h.size(0), cols = h.size(1);
  if (rows > 0 && !node_ids) throw std::invalid_argument("node_keyed_dropout: no node ids");
  // At most 65535 of 65536 dropped: p just below 1 must not round to "drop all" (scale inf).
  const std::uint32_t drop_below = static_cast<std::uint32_t>(std::min<long>(65535, std::lround(p * 65536.0)));
  const float scale = static_cast<float>(65536.0 / (65536.0 - drop_below));
  torch::Tensor mask = torch::empty({rows, cols}, torch::kFloat32);
  float* m = mask.data_ptr<float>();
  at::parallel_for(0, rows, 256, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const std::uint64_t row_key = splitmix64(key ^ (0xd1b54a32d192ed03ULL * (std::uint64_t{node_ids[r]} + 1)));
      float* mr = m + r * cols;
      for (std::int64_t j0 = 0; j0 < cols; j0 += 4) {  // four 16-bit draws per hash
        std::uint64_t bits = splitmix64(row_key + static_cast<std::uint64_t>(j0 / 4));
        for (std::int64_t j = j0; j < std::min(cols, j0 + 4); ++j, bits >>= 16)
          mr[j] = (bits & 0xffff) < drop_below ? 0.0f : scale;
      }
    }
  });
  return h * mask.to(h.device(), h.scalar_type());
}

torch::Tensor GnnModel::forward_layer(int, const BlockTensors&, const torch::Tensor&) {
  std::string why;
  gnn_layerwise_decomposable(cfg_.model, &why);
  throw std::logic_error("GnnModel::forward_layer: " + (why.empty() ? "no layer-wise form" : why));
}

void GnnModel::check_inputs(const std::vector<BlockTensors>& blocks, const torch::Tensor& x) const {
  if (static_cast<int>(blocks.size()) != cfg_.num_layers)
    bad_input(std::to_string(blocks.size()) + " blocks for a " + std::to_string(cfg_.num_layers) +
              "-layer model");
  if (!x.defined() || x.dim() != 2) bad_input("x must be a 2-D tensor");
  if (x.size(1) != cfg_.in_dim)
    bad_input("x has " + std::to_string(x.size(1)) + " columns, in_dim is " + std::to_string(cfg_.in_dim));
  if (!x.is_floating_point()) bad_input("x must be floating point");
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    const std::string name = "block " + std::to_string(i) + ": ";
    if (!b.src.defined() || !b.dst.defined() || b.src.dim() != 1 || b.dst.dim() != 1)
      bad_input(name + "src and dst must be 1-D tensors");
    if (b.src.scalar_type() != torch::kLong || b.dst.scalar_type() != torch::kLong)
      bad_input(name + "src and dst must be int64");
    if (b.src.size(0) != b.dst.size(0))
      bad_input(name + "src " + shape_of(b.src) + " and dst " + shape_of(b.dst) + " differ in length");
    if (b.num_dst < 0 || b.num_dst > b.num_src)
      bad_input(name + "need 0 <= num_dst <= num_src, got num_dst " + std::to_string(b.num_dst) +
                ", num_src " + std::to_string(b.num_src));
    const std::int64_t rows = i == 0 ? x.size(0) : blocks[i - 1].num_dst;
    if (b.num_src != rows)
      bad_input(name + "num_src " + std::to_string(b.num_src) + " but the input has " + std::to_string(rows) +
                (i == 0 ? " rows" : " rows (num_dst of the previous block)"));
  }
}

torch::Tensor edge_softmax(const torch::Tensor& scores, const torch::Tensor& dst, std::int64_t num_dst) {
  if (!scores.defined() || scores.dim() < 1 || !dst.defined() || dst.dim() != 1 || dst.size(0) != scores.size(0))
    throw std::invalid_argument("edge_softmax: scores [E, ...] and dst [E] must agree");
  auto shape = scores.sizes().vec();
  shape[0] = num_dst;
  torch::Tensor max;
  {
    // The shift does not change the softmax, so it needs no gradient. scatter_reduce_ with
    // "amax" exists in LibTorch 1.13 (which logs once that it is "in beta") and 2.x; it is
    // faster than index_reduce_ on CPU. Destinations without edges keep 0.
    torch::NoGradGuard no_grad;
    auto index_shape = std::vector<std::int64_t>(scores.dim(), 1);
    index_shape[0] = dst.size(0);
    const auto index = dst.view(index_shape).expand(scores.sizes());
    max = torch::zeros(shape, scores.options()).scatter_reduce_(0, index, scores.detach(), "amax", false);
  }
  const auto ex = (scores - max.index_select(0, dst)).exp();
  return ex / scatter_sum(ex, dst, num_dst).index_select(0, dst);
}

std::shared_ptr<GnnModel> make_gnn(const GnnConfig& cfg) {
  const auto dims = gnn_layer_dims(cfg);  // validates
  const int n = cfg.num_layers;
  if (cfg.model == "sage") {
    auto m = std::make_shared<StackedGnn<SageLayer>>(cfg, Activation::Relu);
    for (int i = 0; i < n; ++i) m->add(std::make_shared<SageLayer>(dims[i], dims[i + 1]));
    return m;
  }
  if (cfg.model == "sgc") return std::make_shared<SgcGnn>(cfg);
  if (cfg.model == "gcn") {
    auto m = std::make_shared<StackedGnn<GcnLayer>>(cfg, Activation::Relu);
    for (int i = 0; i < n; ++i) m->add(std::make_shared<GcnLayer>(dims[i], dims[i + 1]));
    return m;
  }
  auto m = std::make_shared<StackedGnn<GatLayer>>(cfg, Activation::Elu);
  for (int i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    if (last) {
      m->add(std::make_shared<GatLayer>(dims[i], dims[i + 1], cfg.out_heads, false, cfg.attn_dropout));
    } else {
      m->add(std::make_shared<GatLayer>(dims[i], dims[i + 1] / cfg.heads, cfg.heads, true, cfg.attn_dropout));
    }
  }
  return m;
}

}  // namespace flotilla
