// GNN models on message-flow blocks: config checks, hand-computed layers, attention
// normalisation, edge cases, and a learning check on the embedded Cora.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>

#include "flotilla/datasets/csr.h"
#include "flotilla/datasets/edge_stream.h"
#include "flotilla/datasets/ogb.h"
#include "flotilla/models.h"
#include "flotilla/models/gnn.h"

using namespace flotilla;

namespace {

torch::Tensor i64(const std::vector<std::int64_t>& v) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kLong));
}

BlockTensors block(const std::vector<std::int64_t>& src, const std::vector<std::int64_t>& dst,
                   std::int64_t num_src, std::int64_t num_dst) {
  return {i64(src), i64(dst), num_src, num_dst, {}, {}};
}

// Random block: every destination gets 0..max_deg in-edges from random sources.
BlockTensors random_block(std::int64_t num_src, std::int64_t num_dst, int max_deg) {
  std::vector<std::int64_t> src, dst;
  for (std::int64_t d = 0; d < num_dst; ++d) {
    const auto k = torch::randint(0, max_deg + 1, {1}).item<std::int64_t>();
    for (std::int64_t j = 0; j < k; ++j) {
      src.push_back(torch::randint(0, num_src, {1}).item<std::int64_t>());
      dst.push_back(d);
    }
  }
  return block(src, dst, num_src, num_dst);
}

GnnConfig config(const std::string& model, std::int64_t in, std::int64_t hidden, std::int64_t out, int layers) {
  GnnConfig c;
  c.model = model;
  c.in_dim = in;
  c.hidden_dim = hidden;
  c.out_dim = out;
  c.num_layers = layers;
  c.heads = 2;
  c.dropout = 0.0;
  return c;
}

void set_param(GnnModel& m, const std::string& name, const torch::Tensor& value) {
  auto params = m.named_parameters();
  ASSERT_TRUE(params.contains(name)) << name;
  torch::NoGradGuard no_grad;
  auto& p = params[name];
  ASSERT_EQ(p.sizes(), value.sizes()) << name;
  p.copy_(value);
}

void expect_close(const torch::Tensor& got, const torch::Tensor& want, double tol = 1e-5) {
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(torch::allclose(got, want.to(got.dtype()), tol, tol)) << "got\n" << got << "\nwant\n" << want;
}

const std::vector<std::string> kModels = {"sage", "gcn", "gat", "sgc"};

}  // namespace

// ---------------------------------------------------------------- config

TEST(GnnConfig, BadConfigsThrow) {
  const GnnConfig good = config("sage", 8, 16, 3, 2);
  EXPECT_NO_THROW(validate_gnn_config(good));
  std::vector<std::pair<std::string, GnnConfig>> bad;
  auto with = [&](const std::string& what, auto f) {
    GnnConfig c = good;
    f(c);
    bad.emplace_back(what, c);
  };
  with("model", [](GnnConfig& c) { c.model = "gin"; });
  with("model case", [](GnnConfig& c) { c.model = "SAGE"; });
  with("layers", [](GnnConfig& c) { c.num_layers = 0; });
  with("in_dim", [](GnnConfig& c) { c.in_dim = 0; });
  with("out_dim", [](GnnConfig& c) { c.out_dim = -1; });
  with("hidden", [](GnnConfig& c) { c.hidden_dim = 0; });
  with("dropout", [](GnnConfig& c) { c.dropout = 1.0; });
  with("dropout nan", [](GnnConfig& c) { c.dropout = std::nan(""); });
  with("input dropout", [](GnnConfig& c) { c.input_dropout = -0.1; });
  with("gat heads", [](GnnConfig& c) { c.model = "gat"; c.heads = 0; });
  with("gat out_heads", [](GnnConfig& c) { c.model = "gat"; c.out_heads = 0; });
  with("gat divisible", [](GnnConfig& c) { c.model = "gat"; c.heads = 3; });
  with("gat attn dropout", [](GnnConfig& c) { c.model = "gat"; c.attn_dropout = 1.5; });
  for (const auto& [what, c] : bad) {
    EXPECT_THROW(validate_gnn_config(c), std::invalid_argument) << what;
    EXPECT_THROW(make_gnn(c), std::invalid_argument) << what;
    EXPECT_THROW(gnn_parameter_count(c), std::invalid_argument) << what;
  }
  // sgc has no hidden layer at any depth.
  EXPECT_NO_THROW(make_gnn(config("sgc", 4, 0, 2, 3)));
  // A one-layer model needs no hidden width.
  GnnConfig one = config("gat", 4, 0, 2, 1);
  one.heads = 3;
  EXPECT_NO_THROW(make_gnn(one));
}

TEST(GnnConfig, ParameterCountMatchesModel) {
  for (const auto& name : kModels) {
    for (int layers : {1, 2, 3}) {
      GnnConfig c = config(name, 7, 12, 5, layers);
      c.heads = 4;
      c.out_heads = name == "gat" ? 3 : 1;
      auto m = make_gnn(c);
      std::int64_t n = 0;
      for (const auto& p : m->parameters()) n += p.numel();
      EXPECT_EQ(gnn_parameter_count(c), n) << name << " " << layers;
      EXPECT_EQ(gnn_layer_dims(c).size(), static_cast<std::size_t>(layers + 1));
    }
  }
}

// ---------------------------------------------------------------- shapes, gradients, inputs

TEST(GnnModels, OutputShapeAndGradientsReachEveryParameter) {
  for (const auto& name : kModels) {
    torch::manual_seed(7);
    GnnConfig c = config(name, 6, 8, 3, 2);
    auto m = make_gnn(c);
    m->train();
    std::vector<BlockTensors> blocks = {random_block(20, 9, 4), random_block(9, 4, 3)};
    auto x = torch::randn({20, 6});
    auto out = m->forward(blocks, x);
    ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{4, 3})) << name;
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>()) << name;
    (out * torch::randn(out.sizes())).sum().backward();
    for (const auto& p : m->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << name << " " << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << name << " " << p.key();
    }
  }
}

TEST(GnnModels, GatHeadsShapes) {
  torch::manual_seed(3);
  GnnConfig c = config("gat", 5, 12, 4, 3);
  c.heads = 3;
  c.out_heads = 2;
  auto m = make_gnn(c);
  auto params = m->named_parameters();
  EXPECT_EQ(params["layers.0.attn_l"].sizes(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(params["layers.1.fc.weight"].sizes(), (std::vector<std::int64_t>{12, 12}));
  EXPECT_EQ(params["layers.2.attn_r"].sizes(), (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(params["layers.2.bias"].sizes(), (std::vector<std::int64_t>{4}));
  std::vector<BlockTensors> blocks = {random_block(30, 15, 4), random_block(15, 7, 4), random_block(7, 2, 4)};
  EXPECT_EQ(m->forward(blocks, torch::randn({30, 5})).sizes(), (std::vector<std::int64_t>{2, 4}));
}

TEST(GnnModels, BadInputsThrow) {
  for (const auto& name : kModels) {
    auto m = make_gnn(config(name, 4, 8, 2, 2));
    const auto b0 = block({1, 2}, {0, 1}, 5, 3), b1 = block({2}, {0}, 3, 1);
    const auto x = torch::randn({5, 4});
    EXPECT_NO_THROW(m->forward({b0, b1}, x));
    EXPECT_THROW(m->forward({b0}, x), std::invalid_argument) << name;                      // too few blocks
    EXPECT_THROW(m->forward({b0, b1}, torch::randn({5, 3})), std::invalid_argument);       // in_dim
    EXPECT_THROW(m->forward({b0, b1}, torch::randn({4, 4})), std::invalid_argument);       // rows
    EXPECT_THROW(m->forward({b0, block({0}, {0}, 2, 1)}, x), std::invalid_argument);       // chain
    EXPECT_THROW(m->forward({block({1, 2}, {0}, 5, 3), b1}, x), std::invalid_argument);    // lengths
    EXPECT_THROW(m->forward({block({1}, {0}, 2, 3), b1}, x), std::invalid_argument);       // dst > src
    BlockTensors b32 = b0;
    b32.src = b32.src.to(torch::kInt);
    EXPECT_THROW(m->forward({b32, b1}, x), std::invalid_argument);                         // dtype
  }
}

// ---------------------------------------------------------------- hand-computed layers

// 4 sources, 3 destinations: 1->0, 2->0, 3->1; destination 2 has no in-edges.
TEST(GnnSage, MeanAggregationByHand) {
  auto m = make_gnn(config("sage", 2, 0, 2, 1));
  set_param(*m, "layers.0.self.weight", torch::eye(2));
  set_param(*m, "layers.0.neigh.weight", torch::tensor({{1.0f, 1.0f}, {0.0f, 1.0f}}));
  set_param(*m, "layers.0.self.bias", torch::tensor({0.5f, -0.5f}));
  const auto x = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}, {2.0f, 2.0f}, {4.0f, -2.0f}});
  const auto out = m->forward({block({1, 2, 3}, {0, 0, 1}, 4, 3)}, x);
  // dst0: x0 + Wn mean(x1, x2) + b = [1,0] + Wn[1,1.5] + b = [1,0] + [2.5,1.5] + [.5,-.5]
  // dst1: x1 + Wn x3 + b           = [0,1] + [2,-2] + [.5,-.5]
  // dst2: x2 + 0 + b (no in-edges: the mean is 0)
  expect_close(out, torch::tensor({{4.0f, 1.0f}, {2.5f, -1.5f}, {2.5f, 1.5f}}));
}

TEST(GnnSage, TransformFirstPathAgrees) {
  // in_dim > out_dim takes the transform-then-aggregate path; same numbers as above on a
  // widened input whose third column is ignored by the weights.
  auto m = make_gnn(config("sage", 3, 0, 1, 1));
  set_param(*m, "layers.0.self.weight", torch::tensor({{1.0f, 0.0f, 0.0f}}));
  set_param(*m, "layers.0.neigh.weight", torch::tensor({{1.0f, 1.0f, 0.0f}}));
  set_param(*m, "layers.0.self.bias", torch::tensor({0.5f}));
  const auto x = torch::tensor({{1.0f, 0.0f, 9.f}, {0.0f, 1.0f, 9.f}, {2.0f, 2.0f, 9.f}, {4.0f, -2.0f, 9.f}});
  const auto out = m->forward({block({1, 2, 3}, {0, 0, 1}, 4, 3)}, x);
  expect_close(out, torch::tensor({{4.0f}, {2.5f}, {2.5f}}));
}

// Same block plus self edges 0->0, 1->1, 2->2: deg_out(src) = 1, 2, 2, 1; deg_in(dst) = 3, 2, 1.
TEST(GnnGcn, SymmetricNormalisationByHand) {
  const double s3 = std::sqrt(3.0), s6 = std::sqrt(6.0), s2 = std::sqrt(2.0);
  const double y0 = 1 / s3 + 2 / s6 + 3 / s6;  // x = 1, 2, 3, 4
  const double y1 = 4 / s2 + 2 / 2.0;
  const double y2 = 3 / s2;
  const auto b = block({1, 2, 3}, {0, 0, 1}, 4, 3);
  const auto xs = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).unsqueeze(1);
  {  // in = out = 1: W = 2, bias .25
    auto m = make_gnn(config("gcn", 1, 0, 1, 1));
    set_param(*m, "layers.0.weight", torch::tensor({{2.0f}}));
    set_param(*m, "layers.0.bias", torch::tensor({0.25f}));
    expect_close(m->forward({b}, xs), torch::tensor({2 * y0 + .25, 2 * y1 + .25, 2 * y2 + .25}).unsqueeze(1));
  }
  {  // in 2 > out 1 (transform first): x duplicated, W = [1; 1]
    auto m = make_gnn(config("gcn", 2, 0, 1, 1));
    set_param(*m, "layers.0.weight", torch::tensor({{1.0f}, {1.0f}}));
    set_param(*m, "layers.0.bias", torch::tensor({0.25f}));
    expect_close(m->forward({b}, torch::cat({xs, xs}, 1)),
                 torch::tensor({2 * y0 + .25, 2 * y1 + .25, 2 * y2 + .25}).unsqueeze(1));
  }
  {  // in 1 < out 2 (aggregate first): W = [2, -1]
    auto m = make_gnn(config("gcn", 1, 0, 2, 1));
    set_param(*m, "layers.0.weight", torch::tensor({{2.0f, -1.0f}}));
    set_param(*m, "layers.0.bias", torch::tensor({0.0f, 1.0f}));
    expect_close(m->forward({b}, xs), torch::tensor({{2 * y0, 1 - y0}, {2 * y1, 1 - y1}, {2 * y2, 1 - y2}}));
  }
}

// SGC: K hops of the gcn propagation (dense D^-1/2 (A + I) D^-1/2 over a whole-graph block)
// then the linear map, by hand; and K = 1 is a one-layer gcn with the same weight.
TEST(GnnSgc, PropagationHopsThenLinearByHand) {
  torch::manual_seed(11);
  const std::int64_t n = 6;
  // Undirected edges 0-1, 1-2, 2-3, 0-3, 4-5 as in-edge lists (each direction once).
  const auto b = block({1, 3, 0, 2, 1, 3, 2, 0, 5, 4}, {0, 0, 1, 1, 2, 2, 3, 3, 4, 5}, n, n);
  auto A = torch::eye(n);
  for (std::int64_t e = 0; e < 10; ++e) A[b.dst[e].item<std::int64_t>()][b.src[e].item<std::int64_t>()] = 1;
  const auto dinv = A.sum(1).rsqrt();
  const auto S = dinv.unsqueeze(1) * A * dinv.unsqueeze(0);
  const auto x = torch::randn({n, 4});
  for (int k : {1, 2, 3}) {
    auto m = make_gnn(config("sgc", 4, 0, 3, k));
    auto p = m->named_parameters();
    ASSERT_EQ(p["linear.weight"].sizes(), (std::vector<std::int64_t>{3, 4}));
    auto sx = x;
    for (int i = 0; i < k; ++i) sx = S.matmul(sx);
    const std::vector<BlockTensors> blocks(static_cast<std::size_t>(k), b);
    torch::NoGradGuard ng;
    expect_close(m->forward(blocks, x), torch::addmm(p["linear.bias"], sx, p["linear.weight"].t()));
    if (k == 1) {
      auto g = make_gnn(config("gcn", 4, 0, 3, 1));
      set_param(*g, "layers.0.weight", p["linear.weight"].t().contiguous());
      set_param(*g, "layers.0.bias", p["linear.bias"].clone());
      expect_close(m->forward(blocks, x), g->forward(blocks, x));
    }
  }
  GnnConfig c = config("sgc", 4, 0, 3, 2);
  EXPECT_EQ(gnn_layer_dims(c), (std::vector<std::int64_t>{4, 3, 3}));  // the map first: hops are 3 wide
  EXPECT_EQ(gnn_parameter_count(c), 4 * 3 + 3);
}

// Plain-loop references on random blocks (with repeated edges) for SAGE and GCN.
TEST(GnnModels, MatchLoopReferenceOnRandomBlocks) {
  torch::manual_seed(11);
  for (int trial = 0; trial < 5; ++trial) {
    const std::int64_t ns = 12, nd = 7, in = trial % 2 ? 5 : 2, out = 3;
    const auto b = random_block(ns, nd, 5);
    const auto x = torch::randn({ns, in}, torch::kDouble);
    auto src = b.src.accessor<std::int64_t, 1>();
    auto dst = b.dst.accessor<std::int64_t, 1>();
    const auto E = b.src.size(0);

    auto sage = make_gnn(config("sage", in, 0, out, 1));
    sage->to(torch::kDouble);
    auto p = sage->named_parameters();
    auto ws = p["layers.0.self.weight"], wn = p["layers.0.neigh.weight"], bs = p["layers.0.self.bias"];
    auto want = torch::zeros({nd, out}, torch::kDouble);
    for (std::int64_t d = 0; d < nd; ++d) {
      auto sum = torch::zeros({in}, torch::kDouble);
      int cnt = 0;
      for (std::int64_t e = 0; e < E; ++e)
        if (dst[e] == d) sum += x[src[e]], ++cnt;
      auto mean = cnt ? sum / cnt : sum;
      want[d] = ws.matmul(x[d]) + wn.matmul(mean) + bs;
    }
    expect_close(sage->forward({b}, x).detach(), want.detach(), 1e-9);

    auto gcn = make_gnn(config("gcn", in, 0, out, 1));
    gcn->to(torch::kDouble);
    p = gcn->named_parameters();
    auto w = p["layers.0.weight"], bias = p["layers.0.bias"];
    std::vector<double> dout(ns, 0), din(nd, 1);  // the self edge counts once on each side
    for (std::int64_t i = 0; i < nd; ++i) dout[i] += 1;
    for (std::int64_t e = 0; e < E; ++e) dout[src[e]] += 1, din[dst[e]] += 1;
    want = torch::zeros({nd, out}, torch::kDouble);
    for (std::int64_t d = 0; d < nd; ++d) {
      auto agg = x[d] / std::sqrt(dout[d] * din[d]);
      for (std::int64_t e = 0; e < E; ++e)
        if (dst[e] == d) agg = agg + x[src[e]] / std::sqrt(dout[src[e]] * din[d]);
      want[d] = agg.matmul(w) + bias;
    }
    expect_close(gcn->forward({b}, x).detach(), want.detach(), 1e-9);
  }
}

// ---------------------------------------------------------------- GAT attention

TEST(GnnGat, EdgeSoftmaxSumsToOneAndIsStable) {
  torch::manual_seed(5);
  const std::int64_t nd = 6, E = 40;
  auto dst = torch::randint(0, nd - 1, {E}, torch::kLong);  // destination 5 has no edges
  auto scores = torch::randn({E, 3}) * 50 + 1000;           // exp would overflow unshifted
  auto a = edge_softmax(scores, dst, nd);
  ASSERT_EQ(a.sizes(), scores.sizes());
  EXPECT_TRUE(torch::isfinite(a).all().item<bool>());
  EXPECT_TRUE((a >= 0).all().item<bool>());
  auto sums = torch::zeros({nd, 3}).index_add_(0, dst, a);
  expect_close(sums.narrow(0, 0, nd - 1), torch::ones({nd - 1, 3}));
  expect_close(sums[nd - 1], torch::zeros({3}));
  // Matches a per-destination softmax.
  for (std::int64_t d = 0; d < nd - 1; ++d) {
    auto mask = dst == d;
    expect_close(a.index({mask}), torch::softmax(scores.index({mask}).to(torch::kDouble), 0));
  }
  // Edge order: permuting the edges permutes the coefficients.
  auto perm = torch::randperm(E, torch::kLong);
  expect_close(edge_softmax(scores.index_select(0, perm), dst.index_select(0, perm), nd), a.index_select(0, perm));
  // 1-D scores.
  auto a1 = edge_softmax(scores.select(1, 0), dst, nd);
  expect_close(a1, a.select(1, 0));
}

// Through the model: x = [1, s]; the fc is the identity, so output column 0 is the sum of
// the attention coefficients of each destination (1) and column 1 their weighted mean of s.
TEST(GnnGat, AttentionThroughModelSumsToOne) {
  GnnConfig c = config("gat", 2, 0, 2, 1);
  c.out_heads = 1;
  auto m = make_gnn(c);
  set_param(*m, "layers.0.fc.weight", torch::eye(2));
  set_param(*m, "layers.0.attn_l", torch::tensor({{0.0f, 1.0f}}));
  set_param(*m, "layers.0.attn_r", torch::tensor({{0.0f, 0.5f}}));
  set_param(*m, "layers.0.bias", torch::zeros({2}));
  const std::vector<float> s = {0.3f, -1.0f, 2.0f, 0.7f, -0.2f};
  auto x = torch::stack({torch::ones({5}), torch::tensor(s)}, 1);
  const auto b = block({1, 2, 3, 4, 0}, {0, 0, 0, 1, 2}, 5, 3);
  auto out = m->forward({b}, x);
  expect_close(out.select(1, 0), torch::ones({3}));
  // dst0: edges from 1, 2, 3 and itself; score = LeakyReLU(s_src + 0.5 s_0).
  auto lrelu = [](double v) { return v > 0 ? v : 0.2 * v; };
  double num = 0, den = 0;
  for (int j : {1, 2, 3, 0}) {
    const double w = std::exp(lrelu(s[j] + 0.5 * s[0]));
    num += w * s[j];
    den += w;
  }
  EXPECT_NEAR(out[0][1].item<double>(), num / den, 1e-5);
  // Edge order does not matter.
  auto perm = i64({3, 0, 4, 2, 1});
  BlockTensors pb{b.src.index_select(0, perm), b.dst.index_select(0, perm), 5, 3, {}, {}};
  expect_close(m->forward({pb}, x), out);
}

TEST(GnnGat, EdgeOrderInvarianceMultiHead) {
  torch::manual_seed(9);
  GnnConfig c = config("gat", 4, 6, 3, 2);
  c.heads = 3;
  c.out_heads = 2;
  auto m = make_gnn(c);
  m->eval();
  auto b0 = random_block(25, 10, 6), b1 = random_block(10, 5, 6);
  auto x = torch::randn({25, 4});
  auto out = m->forward({b0, b1}, x);
  auto shuffle = [](const BlockTensors& b) {
    auto perm = torch::randperm(b.src.size(0), torch::kLong);
    return BlockTensors{b.src.index_select(0, perm), b.dst.index_select(0, perm), b.num_src, b.num_dst, {}, {}};
  };
  expect_close(m->forward({shuffle(b0), shuffle(b1)}, x), out);
}

// ---------------------------------------------------------------- edge cases

TEST(GnnModels, NoInEdgesUsesOnlyTheNodeItself) {
  const auto empty = block({}, {}, 4, 3);
  const auto x = torch::randn({4, 2});
  const auto xd = x.narrow(0, 0, 3);
  {
    auto m = make_gnn(config("sage", 2, 0, 3, 1));
    auto p = m->named_parameters();
    expect_close(m->forward({empty}, x), torch::addmm(p["layers.0.self.bias"], xd, p["layers.0.self.weight"].t()));
  }
  {  // only self edges, degrees 1: plain x W + b
    auto m = make_gnn(config("gcn", 2, 0, 3, 1));
    auto p = m->named_parameters();
    expect_close(m->forward({empty}, x), torch::addmm(p["layers.0.bias"], xd, p["layers.0.weight"]));
  }
  {  // attention 1 on the self edge: mean over heads of W_k x + b
    GnnConfig c = config("gat", 2, 0, 3, 1);
    c.out_heads = 2;
    auto m = make_gnn(c);
    auto p = m->named_parameters();
    auto wx = xd.matmul(p["layers.0.fc.weight"].t()).view({3, 2, 3}).mean(1);
    expect_close(m->forward({empty}, x), wx + p["layers.0.bias"]);
  }
  // Some destinations without in-edges inside a 2-layer model: finite output, gradients flow.
  for (const auto& name : kModels) {
    auto m = make_gnn(config(name, 2, 4, 2, 2));
    auto out = m->forward({block({3}, {1}, 4, 3), block({}, {}, 3, 2)}, x);
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>()) << name;
    out.sum().backward();
  }
}

TEST(GnnModels, AllSourcesAreDestinations) {
  torch::manual_seed(2);
  for (const auto& name : kModels) {
    auto m = make_gnn(config(name, 3, 4, 2, 2));
    auto b = random_block(8, 8, 4);
    auto out = m->forward({b, b}, torch::randn({8, 3}));
    EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{8, 2})) << name;
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>()) << name;
  }
}

TEST(GnnModels, DeterministicGivenSeed) {
  for (const auto& name : kModels) {
    auto run = [&] {
      torch::manual_seed(123);
      GnnConfig c = config(name, 5, 8, 3, 2);
      c.dropout = 0.5;
      c.input_dropout = 0.2;
      c.attn_dropout = 0.3;
      auto m = make_gnn(c);
      m->train();
      std::vector<BlockTensors> blocks = {random_block(30, 12, 5), random_block(12, 6, 5)};
      auto out = m->forward(blocks, torch::randn({30, 5}));
      out.pow(2).sum().backward();
      std::vector<torch::Tensor> r = {out.detach()};
      for (const auto& p : m->parameters()) r.push_back(p.grad().clone());
      return r;
    };
    auto a = run(), b = run();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << name << " tensor " << i;
  }
}

TEST(GnnModels, EvalModeDisablesDropout) {
  torch::manual_seed(4);
  GnnConfig c = config("gat", 5, 8, 3, 2);
  c.dropout = c.input_dropout = c.attn_dropout = 0.5;
  auto m = make_gnn(c);
  m->eval();
  auto b = random_block(10, 10, 4);
  auto x = torch::randn({10, 5});
  EXPECT_TRUE(torch::equal(m->forward({b, b}, x), m->forward({b, b}, x)));
}

// ---------------------------------------------------------------- node-keyed dropout

TEST(NodeKeyedDropout, MaskStatisticsAndScale) {
  const std::int64_t rows = 4000, cols = 67;  // cols not a multiple of 4: the last draw is partial
  std::vector<std::uint32_t> ids(rows);
  for (std::int64_t r = 0; r < rows; ++r) ids[static_cast<std::size_t>(r)] = static_cast<std::uint32_t>(r * 7 + 3);
  const double p = 0.3;
  const torch::Tensor out = node_keyed_dropout(torch::ones({rows, cols}), p, 42, ids.data());
  const double keep_scale = 65536.0 / (65536.0 - std::lround(p * 65536.0));
  const torch::Tensor dropped = out.eq(0);
  EXPECT_TRUE(torch::logical_or(dropped, out.sub(keep_scale).abs().lt(1e-6)).all().item<bool>()) << "values other than 0 and 1/(1-p)";
  EXPECT_NEAR(dropped.to(torch::kDouble).mean().item<double>(), p, 0.005);
  EXPECT_NEAR(out.to(torch::kDouble).mean().item<double>(), 1.0, 0.01);  // unbiased
  // No column or row pattern: every column's drop rate near p, rows not all alike.
  const torch::Tensor per_col = dropped.to(torch::kDouble).mean(0);
  EXPECT_LT((per_col - p).abs().max().item<double>(), 0.04);
  EXPECT_FALSE(torch::equal(dropped[0], dropped[1]));
  // p = 0 is the identity; p outside [0, 1) and missing ids are errors.
  const torch::Tensor h = torch::randn({3, 5});
  EXPECT_TRUE(torch::equal(node_keyed_dropout(h, 0.0, 1, nullptr), h));
  EXPECT_THROW(node_keyed_dropout(h, 1.0, 1, ids.data()), std::invalid_argument);
  EXPECT_THROW(node_keyed_dropout(h, 0.5, 1, nullptr), std::invalid_argument);
}

TEST(NodeKeyedDropout, SameNodeSameMaskWhereverItsRowIs) {
  const std::vector<std::uint32_t> a = {5, 9, 7, 11}, b = {7, 5, 12};
  const torch::Tensor ma = node_keyed_dropout(torch::ones({4, 40}), 0.5, 99, a.data());
  const torch::Tensor mb = node_keyed_dropout(torch::ones({3, 40}), 0.5, 99, b.data());
  EXPECT_TRUE(torch::equal(ma[0], mb[1]));  // node 5
  EXPECT_TRUE(torch::equal(ma[2], mb[0]));  // node 7
  EXPECT_FALSE(torch::equal(ma[0], ma[2]));
  // Another key (batch or layer): another mask for the same node.
  EXPECT_FALSE(torch::equal(ma, node_keyed_dropout(torch::ones({4, 40}), 0.5, 100, a.data())));
  // The mask is a constant factor: the gradient is the mask.
  const torch::Tensor h = torch::randn({4, 40}, torch::requires_grad());
  node_keyed_dropout(h, 0.5, 99, a.data()).sum().backward();
  EXPECT_TRUE(torch::equal(h.grad(), ma));
}

TEST(NodeKeyedDropout, ModelOutputDependsOnlyOnTheKeyAndNodes) {
  // Two copies of a batch whose rows are the same nodes: same output with the same key,
  // whatever LibTorch's generator holds; another key gives another output; eval ignores keys.
  torch::manual_seed(7);
  GnnConfig c = config("sage", 6, 16, 3, 2);
  c.dropout = 0.5;
  c.input_dropout = 0.5;
  auto m = make_gnn(c);
  m->train();
  const std::vector<BlockTensors> blocks = {random_block(20, 8, 4), random_block(8, 4, 3)};
  const torch::Tensor x = torch::randn({20, 6});
  std::vector<std::uint32_t> ids(20);
  for (std::uint32_t i = 0; i < 20; ++i) ids[i] = 100 + 3 * i;
  const NodeKeyedDropout k1{1, ids.data()}, k2{2, ids.data()};
  torch::manual_seed(1);
  const torch::Tensor o1 = m->forward(blocks, x, &k1);
  torch::manual_seed(2);
  EXPECT_TRUE(torch::equal(o1, m->forward(blocks, x, &k1)));
  EXPECT_FALSE(torch::equal(o1, m->forward(blocks, x, &k2)));
  m->eval();
  EXPECT_TRUE(torch::equal(m->forward(blocks, x, &k1), m->forward(blocks, x)));
}

// ---------------------------------------------------------------- learning on Cora

namespace {

struct CoraData {
  torch::Tensor x, y, train, valid, test;
  BlockTensors block;  // every node, all its neighbours
};

torch::Tensor ids(const std::vector<VertexId>& v) {
  std::vector<std::int64_t> w(v.begin(), v.end());
  return i64(w);
}

const CoraData& cora() {
  static const CoraData data = [] {
    const std::string dir = std::string(FLOTILLA_TEST_DATA) + "/../../datasets/embedded/cora";
    const auto ds = read_ogb_node_dataset(dir, "planetoid");
    CoraData d;
    const auto n = static_cast<std::int64_t>(ds.num_nodes), f = static_cast<std::int64_t>(ds.num_features);
    d.x = torch::from_blob(const_cast<float*>(ds.features.data()), {n, f}, torch::kFloat).clone();
    d.x = d.x / d.x.sum(1, true).clamp_min(1);  // row-normalised bag of words (Planetoid)
    d.y = i64(ds.labels);
    d.train = ids(ds.split.train);
    d.valid = ids(ds.split.valid);
    d.test = ids(ds.split.test);
    auto stream = open_edge_stream(dir);
    const auto g = build_csr(*stream);  // symmetric, no self-loops, no duplicates
    std::vector<std::int64_t> src, dst;
    for (VertexId v = 0; v < g.num_nodes(); ++v)
      for (VertexId u : g.neighbors(v)) src.push_back(u), dst.push_back(v);
    d.block = block(src, dst, n, n);
    return d;
  }();
  return data;
}

double accuracy(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& idx) {
  return logits.index_select(0, idx).argmax(1).eq(y.index_select(0, idx)).to(torch::kDouble).mean().item<double>();
}

}  // namespace

class CoraLearning : public ::testing::TestWithParam<std::string> {};

TEST_P(CoraLearning, ReachesTestAccuracy) {
  set_torch_threads(1);
  const auto& d = cora();
  ASSERT_EQ(d.x.size(0), 2708);
  ASSERT_EQ(d.train.size(0), 140);
  ASSERT_EQ(d.valid.size(0), 500);
  ASSERT_EQ(d.test.size(0), 1000);
  ASSERT_EQ(d.block.src.size(0), 10556);

  torch::manual_seed(0);
  GnnConfig c;
  c.model = GetParam();
  c.in_dim = d.x.size(1);
  c.out_dim = 7;
  c.hidden_dim = 64;
  c.num_layers = 2;
  c.dropout = 0.5;
  const int epochs = 100;
  if (c.model == "gat") {
    // GAT paper settings for Cora (8 heads x 8, dropout 0.6 between layers and on the
    // attention) but no input dropout: a Bernoulli mask over 2708 x 1433 features costs more
    // than the rest of the epoch and does not change the accuracy here.
    c.heads = 8;
    c.dropout = c.attn_dropout = 0.6;
  }
  double lr = 0.01, weight_decay = 5e-4;
  if (c.model == "sgc") {
    // SGC paper (Wu et al. 2019): logistic regression on S^2 X, lr 0.2, no dropout, a small
    // weight decay (their tuned Cora values are of order 1e-5).
    c.dropout = 0;
    lr = 0.2;
    weight_decay = 1e-5;
  }
  auto m = make_gnn(c);
  torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(lr).weight_decay(weight_decay));
  const std::vector<BlockTensors> blocks = {d.block, d.block};
  const auto t0 = std::chrono::steady_clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    m->train();
    opt.zero_grad();
    auto logits = m->forward(blocks, d.x);
    auto loss = torch::nll_loss(torch::log_softmax(logits.index_select(0, d.train), 1), d.y.index_select(0, d.train));
    loss.backward();
    opt.step();
  }
  m->eval();
  torch::NoGradGuard no_grad;
  const auto logits = m->forward(blocks, d.x);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double train = accuracy(logits, d.y, d.train), valid = accuracy(logits, d.y, d.valid),
               test = accuracy(logits, d.y, d.test);
  std::printf("[cora %s] %d epochs in %.2f s: train %.3f valid %.3f test %.3f\n", c.model.c_str(), epochs, secs,
              train, valid, test);
  EXPECT_GE(test, 0.75) << c.model;
}

INSTANTIATE_TEST_SUITE_P(Models, CoraLearning, ::testing::Values("sage", "gcn", "gat", "sgc"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });
