// Layer-wise full-neighbourhood inference (trainer/layerwise_inference.h) against a direct
// full-batch forward: one block holding every node as destination and source, on a small
// random graph with isolated nodes, a self loop and a directed edge.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "flotilla/models/gnn.h"
#include "flotilla/models/gnn_config.h"
#include "flotilla/trainer/layerwise_inference.h"

namespace flotilla {
namespace {

class TestGraph : public InferenceGraph {
 public:
  TestGraph(std::uint64_t n, std::uint64_t f, std::uint32_t seed) : n_(n), f_(f) {
    std::mt19937 rng(seed);
    std::vector<std::vector<VertexId>> adj(n);
    for (int e = 0; e < static_cast<int>(3 * n); ++e) {
      const VertexId u = rng() % (n - 4), v = rng() % (n - 4);  // the last 4 nodes stay isolated
      if (u == v) continue;
      adj[u].push_back(v);
      adj[v].push_back(u);
    }
    adj[0].push_back(0);  // a self loop
    adj[1].push_back(static_cast<VertexId>(n - 5));  // one direction only
    offsets_.push_back(0);
    for (auto& a : adj) {
      std::sort(a.begin(), a.end());
      a.erase(std::unique(a.begin(), a.end()), a.end());
      targets_.insert(targets_.end(), a.begin(), a.end());
      offsets_.push_back(targets_.size());
    }
    std::uniform_real_distribution<float> d(0.0f, 1.0f);
    features_.resize(n * f);
    for (auto& x : features_) x = d(rng);
    for (std::uint64_t j = 0; j < f; ++j) features_[3 * f + j] = 0;  // an all-zero row (row normalisation)
  }
  std::uint64_t num_nodes() const override { return n_; }
  std::uint64_t feature_dim() const override { return f_; }
  std::uint64_t degree(VertexId v) const override { return offsets_[v + 1] - offsets_[v]; }
  const VertexId* neighbors(VertexId v) const override { return targets_.data() + offsets_[v]; }
  const float* feature_row(VertexId v) const override { return features_.data() + v * f_; }

  torch::Tensor x() const {
    return torch::from_blob(const_cast<float*>(features_.data()), {static_cast<std::int64_t>(n_), static_cast<std::int64_t>(f_)})
        .clone();
  }
  // Every node a destination and a source, edges destination-major (neighbour -> node).
  BlockTensors whole_graph_block() const {
    std::vector<std::int64_t> s, d;
    for (VertexId v = 0; v < n_; ++v)
      for (std::uint64_t i = offsets_[v]; i < offsets_[v + 1]; ++i) {
        s.push_back(targets_[i]);
        d.push_back(v);
      }
    const auto e = static_cast<std::int64_t>(s.size());
    return {torch::from_blob(s.data(), {e}, torch::kLong).clone(), torch::from_blob(d.data(), {e}, torch::kLong).clone(),
            static_cast<std::int64_t>(n_), static_cast<std::int64_t>(n_), {}, {}};
  }

 private:
  std::uint64_t n_, f_;
  std::vector<std::uint64_t> offsets_;
  std::vector<VertexId> targets_;
  std::vector<float> features_;
};

std::shared_ptr<GnnModel> model_of(const std::string& name, int layers, std::int64_t in, std::int64_t classes) {
  torch::manual_seed(7);
  GnnConfig g;
  g.model = name;
  g.in_dim = in;
  g.hidden_dim = 8;
  g.out_dim = classes;
  g.heads = 2;
  g.num_layers = layers;
  auto m = make_gnn(g);
  m->eval();
  return m;
}

torch::Tensor full_batch(GnnModel& m, const TestGraph& g, const torch::Tensor& x) {
  torch::NoGradGuard ng;
  const BlockTensors b = g.whole_graph_block();
  return m.forward(std::vector<BlockTensors>(static_cast<std::size_t>(m.config().num_layers), b), x);
}

torch::Tensor logits_of(const LayerwiseResult& r) {
  return torch::from_blob(const_cast<float*>(r.logits.data()),
                          {static_cast<std::int64_t>(r.num_nodes), static_cast<std::int64_t>(r.num_classes)})
      .clone();
}

std::string scratch() {
  const std::string d = std::filesystem::temp_directory_path().string() + "/flotilla_layerwise_" + std::to_string(::getpid());
  std::filesystem::create_directories(d);
  return d;
}

TEST(Layerwise, EqualsFullBatchForwardForEveryModelBlockSizeAndDepth) {
  const TestGraph g(41, 6, 3);
  for (const std::string name : {"sage", "gcn", "gat", "sgc"})
    for (int layers : {1, 2, 3}) {
      auto m = model_of(name, layers, 6, 5);
      const torch::Tensor want = full_batch(*m, g, g.x());
      for (std::uint64_t block : {1, 4, 7, 41, 100}) {
        LayerwiseOptions o;
        o.block_nodes = block;
        const LayerwiseResult r = run_layerwise_inference(*m, g, nullptr, o);
        EXPECT_FALSE(r.on_disk);
        EXPECT_EQ(r.blocks, (41 + block - 1) / block);
        const double diff = (logits_of(r) - want).abs().max().item<double>();
        EXPECT_LT(diff, 1e-5) << name << " layers " << layers << " block " << block;
      }
    }
}

TEST(Layerwise, RowNormalisedFeaturesAsTheTrainer) {
  const TestGraph g(30, 5, 11);
  auto m = model_of("sage", 2, 5, 3);
  torch::Tensor x = g.x();
  torch::Tensor sum = x.sum(1, true);
  x = x / sum.masked_fill(sum == 0, 1.0);
  LayerwiseOptions o;
  o.block_nodes = 4;
  o.feature_norm = "row";
  const double diff = (logits_of(run_layerwise_inference(*m, g, nullptr, o)) - full_batch(*m, g, x)).abs().max().item<double>();
  EXPECT_LT(diff, 1e-5);
}

TEST(Layerwise, SpilledToDiskEqualsInMemoryAndCleansUp) {
  const TestGraph g(50, 4, 5);
  const std::string dir = scratch();
  for (const std::string name : {"sage", "gcn", "gat", "sgc"}) {
    auto m = model_of(name, 3, 4, 3);
    LayerwiseOptions o;
    o.block_nodes = 6;
    o.keep_embeddings = true;
    const LayerwiseResult mem = run_layerwise_inference(*m, g, nullptr, o);
    o.memory_budget_bytes = 0;  // 0 is 0: everything on disk
    o.scratch_dir = dir;
    {
      const LayerwiseResult disk = run_layerwise_inference(*m, g, nullptr, o);
      EXPECT_TRUE(disk.on_disk);
      EXPECT_EQ(disk.logits, mem.logits) << name;  // bitwise: same blocks, same arithmetic
      ASSERT_TRUE(disk.embeddings.on_disk());
      // The last hidden table: 8 wide (hidden), sgc's out_dim (3) wide (see gnn_layer_dims).
      const std::int64_t w = gnn_layer_dims(m->config())[2];
      ASSERT_EQ(disk.embeddings.width(), static_cast<std::uint64_t>(w));
      std::vector<float> a(50 * w), b(50 * w);
      disk.embeddings.read_rows(0, 50, a.data());
      mem.embeddings.read_rows(0, 50, b.data());
      EXPECT_EQ(a, b) << name;
      // The embeddings are the last hidden layer: the output layer applied to them gives the logits.
      // (A whole-graph block counts every node's full degrees, so gcn needs no degrees here.)
      torch::NoGradGuard ng;
      const torch::Tensor emb = torch::from_blob(b.data(), {50, w}).clone();
      const torch::Tensor want = m->forward_layer(2, g.whole_graph_block(), emb);
      EXPECT_LT((want - logits_of(mem)).abs().max().item<double>(), 1e-5) << name;
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << "activation files left in " << dir;
  }
  std::filesystem::remove_all(dir);
}

TEST(Layerwise, ForwardLayerChainEqualsForward) {
  const TestGraph g(20, 3, 2);
  for (const std::string name : {"sage", "gcn", "gat", "sgc"}) {
    auto m = model_of(name, 3, 3, 4);
    const BlockTensors b = g.whole_graph_block();
    torch::NoGradGuard ng;
    torch::Tensor h = g.x();
    for (int l = 0; l < 3; ++l) h = m->forward_layer(l, b, h);
    EXPECT_LT((h - full_batch(*m, g, g.x())).abs().max().item<double>(), 1e-6) << name;
    EXPECT_THROW(m->forward_layer(3, b, h), std::invalid_argument);
    EXPECT_THROW(m->forward_layer(0, b, g.x().narrow(0, 0, 5)), std::invalid_argument);
  }
}

TEST(Layerwise, RefusesWhatItCannotDo) {
  std::string why;
  EXPECT_TRUE(gnn_layerwise_decomposable("sage"));
  EXPECT_TRUE(gnn_layerwise_decomposable("gcn"));
  EXPECT_TRUE(gnn_layerwise_decomposable("gat"));
  EXPECT_TRUE(gnn_layerwise_decomposable("sgc"));
  EXPECT_FALSE(gnn_layerwise_decomposable("dcrnn", &why));
  EXPECT_NE(why.find("dcrnn"), std::string::npos) << why;
  const TestGraph g(10, 3, 1);
  auto m = model_of("sage", 2, 3, 2);
  LayerwiseOptions o;
  o.block_nodes = 0;
  EXPECT_THROW(run_layerwise_inference(*m, g, nullptr, o), std::invalid_argument);
  o.block_nodes = 4;
  o.memory_budget_bytes = 0;  // over budget and nowhere to spill
  EXPECT_THROW(run_layerwise_inference(*m, g, nullptr, o), std::invalid_argument);
  auto wrong_width = model_of("sage", 2, 4, 2);
  o.memory_budget_bytes = 1 << 20;
  EXPECT_THROW(run_layerwise_inference(*wrong_width, g, nullptr, o), std::invalid_argument);
  EXPECT_EQ(layerwise_activation_bytes(10, {3, 8, 2}), 10u * (8 + 2) * 4);
  EXPECT_EQ(layerwise_activation_bytes(10, {3, 2}), 10u * 2 * 4);
}

TEST(Layerwise, ActivationTableOnDiskGathersRows) {
  const std::string dir = scratch();
  {
    ActivationTable t = ActivationTable::on_disk(dir + "/t.f32", 10, 3, true);
    std::vector<float> rows(30);
    for (int i = 0; i < 30; ++i) rows[static_cast<std::size_t>(i)] = static_cast<float>(i);
    t.write_rows(0, 10, rows.data());
    const std::vector<VertexId> ids = {2, 3, 4, 8, 0};
    std::vector<float> out(15);
    t.gather(ids.data(), ids.size(), out.data());
    for (std::size_t i = 0; i < ids.size(); ++i)
      for (int j = 0; j < 3; ++j) EXPECT_EQ(out[i * 3 + static_cast<std::size_t>(j)], static_cast<float>(ids[i] * 3 + static_cast<VertexId>(j)));
    EXPECT_THROW(t.read_rows(9, 2, out.data()), std::out_of_range);
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/t.f32"));
  EXPECT_THROW(ActivationTable::on_disk(dir + "/no/such/folder/t.f32", 1, 1, true), std::runtime_error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flotilla

namespace flotilla {
namespace {

// A sampled mini-batch as the trainer builds it (nodes: seeds first, each layer's sources a
// prefix of the next; destination-major edges), taking `keep` of each destination's
// neighbours (all when keep is 0), with the full-graph degrees and sampling scale of
// gcn_degrees. Block 0 is the input layer.
struct SampledBatch {
  std::vector<VertexId> nodes;
  std::vector<BlockTensors> blocks;
};
SampledBatch sampled_batch(const InferenceGraph& g, const GcnDegrees& deg, std::vector<VertexId> seeds, int layers,
                           std::uint64_t keep) {
  SampledBatch sb;
  sb.nodes = seeds;
  std::vector<BlockTensors> top_down;
  std::uint64_t num_dst = seeds.size();
  for (int l = 0; l < layers; ++l) {
    std::map<VertexId, std::int64_t> pos;
    for (std::size_t i = 0; i < sb.nodes.size(); ++i) pos[sb.nodes[i]] = static_cast<std::int64_t>(i);
    std::vector<std::int64_t> s, d;
    std::vector<float> scale;
    for (std::uint64_t v = 0; v < num_dst; ++v) {
      const VertexId node = sb.nodes[v];
      const std::uint64_t dv = g.degree(node), take = keep == 0 ? dv : std::min(keep, dv);
      for (std::uint64_t i = 0; i < take; ++i) {
        const VertexId u = g.neighbors(node)[i];
        if (!pos.count(u)) {
          pos[u] = static_cast<std::int64_t>(sb.nodes.size());
          sb.nodes.push_back(u);
        }
        s.push_back(pos[u]);
        d.push_back(static_cast<std::int64_t>(v));
      }
      scale.push_back(take ? static_cast<float>(dv) / static_cast<float>(take) : 1.0f);
    }
    BlockTensors b;
    b.src = torch::tensor(s, torch::kLong);
    b.dst = torch::tensor(d, torch::kLong);
    b.num_src = static_cast<std::int64_t>(sb.nodes.size());
    b.num_dst = static_cast<std::int64_t>(num_dst);
    std::vector<float> sd, dd;
    for (std::int64_t i = 0; i < b.num_src; ++i) sd.push_back(deg.out[sb.nodes[static_cast<std::size_t>(i)]]);
    for (std::int64_t i = 0; i < b.num_dst; ++i) dd.push_back(deg.in[sb.nodes[static_cast<std::size_t>(i)]]);
    b.src_degree = torch::tensor(sd);
    b.dst_degree = torch::tensor(dd);
    b.dst_sample_scale = torch::tensor(scale);
    top_down.push_back(b);
    num_dst = sb.nodes.size();
  }
  sb.blocks.assign(top_down.rbegin(), top_down.rend());
  return sb;
}

torch::Tensor rows_of(const TestGraph& g, const std::vector<VertexId>& nodes) {
  std::vector<std::int64_t> ids(nodes.begin(), nodes.end());
  return g.x().index_select(0, torch::tensor(ids, torch::kLong));
}

// gcn and sgc trained on sampled blocks compute the full-graph operator of evaluation: with
// every neighbour sampled, the mini-batch logits of the seeds equal the whole-graph forward's
// (a block's own edge counts would not: a source seen by one destination counts 1, not its
// degree); with some neighbours left out, the sampled sum is scaled to the full degree.
TEST(Layerwise, SampledGcnAndSgcBlocksUseFullGraphDegrees) {
  const TestGraph g(60, 5, 11);
  const GcnDegrees deg = gcn_degrees(g);
  const std::vector<VertexId> seeds = {2, 7, 30, 41, 0, 1};
  for (const std::string name : {"gcn", "sgc"}) {
    auto m = model_of(name, 2, 5, 3);
    m->eval();
    torch::NoGradGuard ng;
    const torch::Tensor full = full_batch(*m, g, g.x());
    std::vector<std::int64_t> ids(seeds.begin(), seeds.end());
    const torch::Tensor want = full.index_select(0, torch::tensor(ids, torch::kLong));
    SampledBatch all = sampled_batch(g, deg, seeds, 2, 0);
    EXPECT_TRUE(torch::allclose(m->forward(all.blocks, rows_of(g, all.nodes)), want, 1e-5, 1e-6)) << name;
    // Without the degrees (the block's own counts), the result is another operator.
    for (auto& b : all.blocks) b.src_degree = b.dst_degree = b.dst_sample_scale = torch::Tensor();
    EXPECT_FALSE(torch::allclose(m->forward(all.blocks, rows_of(g, all.nodes)), want, 1e-3, 1e-4)) << name;
  }
  // One gcn propagation by hand where seed 2 keeps 1 of its neighbours: the sampled
  // neighbour's message counts degree(2) times.
  auto m = model_of("sgc", 1, 5, 3);
  m->eval();
  torch::NoGradGuard ng;
  ASSERT_GE(g.degree(2), 2u);
  SampledBatch one = sampled_batch(g, deg, {2}, 1, 1);
  const torch::Tensor x = rows_of(g, one.nodes);
  const VertexId u = g.neighbors(2)[0];
  const torch::Tensor prop = (x[0] / std::sqrt(deg.out[2]) + static_cast<double>(g.degree(2)) * x[1] / std::sqrt(deg.out[u])) /
                             std::sqrt(deg.in[2]);
  // sgc: one linear map of the propagated row (the map first, then the hop: the same).
  const BlockTensors alone{torch::empty({0}, torch::kLong), torch::empty({0}, torch::kLong), 1, 1, torch::ones({1}), torch::ones({1}), {}};
  const torch::Tensor linear = m->forward({alone}, prop.unsqueeze(0));
  EXPECT_TRUE(torch::allclose(m->forward(one.blocks, x), linear, 1e-5, 1e-6));
}

}  // namespace
}  // namespace flotilla
