// Balance constraints (issue #15): parsing, capacities, and every constraint's bound on
// every test graph for every streaming algorithm; METIS vertex weights with ncon > 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "flotilla/datasets.h"
#include "flotilla/partition.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::scratch_dir;
using flotilla::test::shared_data;
using flotilla::test::write_file;

namespace {

BalanceConstraint con(BalanceKind kind, double eps = 0.03, std::uint32_t column = 0) {
  BalanceConstraint c;
  c.kind = kind;
  c.eps = eps;
  c.column = column;
  return c;
}

std::uint64_t metis_edges(const std::string& path) {
  std::ifstream f(path);
  std::uint64_t n = 0, m = 0;
  f >> n >> m;
  return m;
}

// Checks every constraint of `bw` on `part` against its capacity, by brute force over the
// weights (not through balance_report).
void expect_within_bounds(const BalanceWeights& bw, const std::vector<PartId>& part, std::uint32_t k) {
  ASSERT_EQ(part.size(), bw.n);
  for (std::uint32_t c = 0; c < bw.ncon; ++c) {
    std::vector<std::uint64_t> load(k, 0);
    for (std::uint64_t v = 0; v < bw.n; ++v) {
      ASSERT_LT(part[v], k);
      load[part[v]] += bw.at(v, c);
    }
    const std::uint64_t mx = *std::max_element(load.begin(), load.end());
    EXPECT_LE(mx, bw.cap[c]) << constraint_name(bw.constraints[c]) << " total " << bw.total[c];
    // The capacity is what the documentation says.
    const std::uint64_t bound =
        std::max({(bw.total[c] + k - 1) / k, bw.max_vertex[c],
                  static_cast<std::uint64_t>(std::floor((1 + bw.constraints[c].eps) * static_cast<double>(bw.total[c]) / k + 1e-9))});
    EXPECT_EQ(bw.cap[c], bound);
  }
}

}  // namespace

TEST(BalanceSpec, ParsesListsAndPerConstraintImbalance) {
  auto cs = parse_balance("nodes,edges", "0.05", 0);
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].kind, BalanceKind::Nodes);
  EXPECT_EQ(cs[1].kind, BalanceKind::Edges);
  EXPECT_DOUBLE_EQ(cs[0].eps, 0.05);
  EXPECT_DOUBLE_EQ(cs[1].eps, 0.05);
  cs = parse_balance("nodes,edges,train", "nodes=0.03,edges=0.1", 0);
  EXPECT_DOUBLE_EQ(cs[0].eps, 0.03);
  EXPECT_DOUBLE_EQ(cs[1].eps, 0.1);
  EXPECT_DOUBLE_EQ(cs[2].eps, 0.03);  // unnamed: the default
  cs = parse_balance("vwgt", "0", 3);  // every column; 0 is 0, not "unset"
  ASSERT_EQ(cs.size(), 3u);
  for (std::uint32_t j = 0; j < 3; ++j) {
    EXPECT_EQ(cs[j].kind, BalanceKind::Vwgt);
    EXPECT_EQ(cs[j].column, j);
    EXPECT_DOUBLE_EQ(cs[j].eps, 0.0);
  }
  cs = parse_balance("nodes,vwgt1", "vwgt=0.2", 2);
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[1].column, 1u);
  EXPECT_DOUBLE_EQ(cs[1].eps, 0.2);
  EXPECT_EQ(constraint_name(cs[1]), "vwgt1");
  for (const auto& [list, imb, cols] : std::vector<std::tuple<std::string, std::string, std::uint32_t>>{
           {"nodes,bogus", "0.03", 0},
           {"nodes,nodes", "0.03", 0},
           {"vwgt", "0.03", 0},
           {"vwgt2", "0.03", 2},
           {"", "0.03", 0},
           {"nodes", "-1", 0},
           {"nodes", "abc", 0},
           {"nodes,edges", "nodes=0.03,train=0.1", 0},
           {"nodes", "nodes=", 0},
           {"nodes", "nodes=0.03,0.05", 0}}) {
    SCOPED_TRACE(list + " / " + imb);
    EXPECT_THROW(parse_balance(list, imb, cols), std::invalid_argument);
  }
}

TEST(BalanceSpec, CapacityNeverBelowAnEvenSplitOrTheHeaviestVertex) {
  EXPECT_EQ(constraint_capacity(1000, 1, 8, 0.03), 128u);   // floor(1.03 * 125)
  EXPECT_EQ(constraint_capacity(1000, 1, 8, 0.0), 125u);
  EXPECT_EQ(constraint_capacity(1001, 1, 8, 0.0), 126u);    // ceil
  EXPECT_EQ(constraint_capacity(1000, 400, 8, 0.03), 400u); // a hub must fit somewhere
  EXPECT_EQ(constraint_capacity(0, 0, 8, 0.03), 0u);
  EXPECT_EQ(part_capacity(1000, 8, 0.03), constraint_capacity(1000, 1, 8, 0.03));
  // Edge endpoints of a graph with 2^33 undirected edges (2^34 endpoints) over 64 parts.
  const std::uint64_t t = std::uint64_t{1} << 34;
  EXPECT_EQ(constraint_capacity(t, 1u << 20, 64, 0.05), static_cast<std::uint64_t>(1.05 * static_cast<double>(t / 64)));
  EXPECT_EQ(constraint_capacity(t, 1u << 20, 64, 0.0), t / 64);
}

TEST(BalanceWeightsTest, DegreesTrainAndVertexWeights) {
  // Path 0-1-2-3-4 with the edge 1-2 listed twice (it counts twice) and a self-loop (none).
  const std::string path = write_file("w.txt", "0 1\n1 2\n2 3\n1 2\n3 4\n2 2\n");
  EdgeStreamOptions so;
  so.keep_ids = true;
  auto s = open_edge_stream(path, so);
  const std::vector<std::uint8_t> train = {1, 0, 1, 0, 1};
  const std::vector<std::uint32_t> vw = {5, 1, 0, 2, 7, 3, 1, 1, 9, 0};  // 2 columns
  BalanceInputs in;
  in.train = &train;
  in.vwgt = &vw;
  in.vwgt_columns = 2;
  const BalanceWeights bw = compute_balance_weights(
      *s, {con(BalanceKind::Nodes), con(BalanceKind::Edges), con(BalanceKind::Train), con(BalanceKind::Vwgt, 0.03, 1)}, 2, in,
      1 << 10);
  ASSERT_EQ(bw.ncon, 4u);
  const std::uint32_t deg[] = {1, 3, 3, 2, 1};
  for (std::uint64_t v = 0; v < 5; ++v) {
    EXPECT_EQ(bw.at(v, 0), 1u);
    EXPECT_EQ(bw.at(v, 1), deg[v]) << v;
    EXPECT_EQ(bw.at(v, 2), train[v]);
    EXPECT_EQ(bw.at(v, 3), vw[v * 2 + 1]);
  }
  EXPECT_EQ(bw.total[1], 10u);
  EXPECT_EQ(bw.max_vertex[1], 3u);
  EXPECT_EQ(bw.total[2], 3u);
  EXPECT_THROW(compute_balance_weights(*s, {con(BalanceKind::Train)}, 2, BalanceInputs{}, 1 << 10), std::invalid_argument);
}

// Every streaming algorithm keeps every bound, on meshes, social graphs, a power-law
// multigraph and a graph with many isolated vertices, for several K and constraint sets.
TEST(BalanceConstraints, EveryBoundHoldsForEveryAlgorithm) {
  RmatOptions ro;
  ro.scale = 11;
  ro.seed = 5;
  ro.threads = 1;
  const std::string rmat = scratch_dir() + "/rmat11.bin";
  generate_rmat(ro, rmat);
  std::string sparse;  // 600 ids, 300 random edges: many isolated vertices
  {
    Rng rng(3);
    for (int i = 0; i < 300; ++i) sparse += std::to_string(rng.below(600)) + " " + std::to_string(rng.below(600)) + "\n";
    sparse += "599 599\n";
  }
  const std::string sparse_path = write_file("sparse.txt", sparse);
  struct G { std::string path; bool keep_ids; };
  const std::vector<G> graphs = {{shared_data("graphs/4elt.graph"), false},
                                 {shared_data("graphs/ca-HepTh.graph"), false},
                                 {shared_data("graphs/facebook_combined.graph"), false},
                                 {shared_data("graphs/PGPgiantcompo.graph"), false},
                                 {rmat, false},
                                 {sparse_path, true}};
  for (const G& gr : graphs) {
    EdgeStreamOptions so;
    so.keep_ids = gr.keep_ids;
    auto s = open_edge_stream(gr.path, so);
    const std::uint64_t n = s->info().num_nodes;
    std::vector<std::uint8_t> train(n);
    std::vector<std::uint32_t> vw(n * 2);
    Rng rng(11);
    for (std::uint64_t v = 0; v < n; ++v) {
      train[v] = rng.below(10) == 0;
      vw[v * 2] = static_cast<std::uint32_t>(rng.below(5));
      vw[v * 2 + 1] = static_cast<std::uint32_t>(1 + rng.below(3));
    }
    BalanceInputs in;
    in.train = &train;
    in.vwgt = &vw;
    in.vwgt_columns = 2;
    const std::vector<std::vector<BalanceConstraint>> sets = {
        {con(BalanceKind::Nodes), con(BalanceKind::Edges)},
        {con(BalanceKind::Nodes), con(BalanceKind::Edges, 0.05), con(BalanceKind::Train, 0.1)},
        {con(BalanceKind::Edges)},
        {con(BalanceKind::Vwgt, 0.05, 0), con(BalanceKind::Vwgt, 0.05, 1)}};
    const std::size_t m = s->info().num_edges_hint ? s->info().num_edges_hint : 5000;
    for (std::size_t si = 0; si < sets.size(); ++si) {
      for (std::uint32_t k : {2u, 7u, 32u}) {
        const BalanceWeights bw = compute_balance_weights(*s, sets[si], k, in, 1 << 12);
        for (PartitionAlgo algo : {PartitionAlgo::Grem, PartitionAlgo::Fennel, PartitionAlgo::Ldg, PartitionAlgo::Hash}) {
          // Chunked GREM runs twice: with the default clustering and with every level
          // clustered wide (up to the balance limit: docs/partitioning.md, "Wide clusters").
          for (int variant = 0; variant < 3; ++variant) {
            const std::size_t chunk = variant == 0 ? std::size_t{1} << 22 : (m + 15) / 16;
            const bool wide = variant == 2;
            if (algo != PartitionAlgo::Grem && variant > 0) continue;
            SCOPED_TRACE(gr.path + " set " + std::to_string(si) + " k=" + std::to_string(k) + " " + algo_name(algo) +
                         " chunk " + std::to_string(chunk) + (wide ? " wide" : ""));
            PartitionConfig cfg;
            cfg.algo = algo;
            cfg.num_parts = k;
            cfg.chunk_edges = chunk;
            if (wide) cfg.wide_cluster_min_vertices_per_part = 1;
            cfg.balance = std::vector<BalanceConstraint>(sets[si]);  // (a copy-assignment trips GCC 12's -Wnonnull)
            cfg.weights = &bw;
            PartitionStats st;
            const auto part = partition_graph(*s, cfg, &st);
            expect_within_bounds(bw, part, k);
            EXPECT_TRUE(st.balanced);
            if (algo == PartitionAlgo::Grem) {
              EXPECT_STREQ(st.engine, "semi-external");
              if (wide && st.levels > 1) {
                EXPECT_GE(st.wide_cluster_levels, 1);
              }
            }
          }
        }
      }
    }
  }
}

TEST(BalanceConstraints, GremIsDeterministicAndNearMetisUnderTwoConstraints) {
  const std::string path = shared_data("graphs/ca-CondMat.graph");
  auto s = open_edge_stream(path);
  const std::vector<BalanceConstraint> cs = {con(BalanceKind::Nodes), con(BalanceKind::Edges)};
  const BalanceWeights bw = compute_balance_weights(*s, cs, 8, {}, 1 << 12);
  auto run = [&](PartitionAlgo algo, std::uint64_t seed, std::size_t chunk) {
    PartitionConfig cfg;
    cfg.algo = algo;
    cfg.num_parts = 8;
    cfg.seed = seed;
    cfg.chunk_edges = chunk;
    cfg.balance = std::vector<BalanceConstraint>(cs);
    cfg.weights = &bw;
    return partition_graph(*s, cfg);
  };
  const std::size_t chunk = (metis_edges(path) + 15) / 16;
  const auto a = run(PartitionAlgo::Grem, 1, chunk);
  EXPECT_EQ(a, run(PartitionAlgo::Grem, 1, chunk));
  EXPECT_NE(a, run(PartitionAlgo::Grem, 2, chunk));
  const auto metis = run(PartitionAlgo::Metis, 1, chunk);
  const auto cut = [&](const std::vector<PartId>& p) { return evaluate_partition(*s, p, 8).edge_cut; };
  // Measured 1.13x (bench/partition_quality.py --balance nodes,edges --chunks 16 has the set).
  EXPECT_LE(static_cast<double>(cut(a)), 1.3 * static_cast<double>(cut(metis)));
  // Hash under the same constraints cuts far more: the bound is not met by luck.
  EXPECT_LT(cut(a), cut(run(PartitionAlgo::Hash, 1, chunk)) / 2);
}

// The semi-external engine takes its input level's degrees from the `edges` column instead
// of a pass of its own: weights that are not the stream's degrees are refused, not used.
TEST(BalanceConstraints, GremRefusesEdgeWeightsThatAreNotTheDegrees) {
  const std::string path = shared_data("graphs/ca-CondMat.graph");
  auto s = open_edge_stream(path);
  const std::vector<BalanceConstraint> cs = {con(BalanceKind::Nodes), con(BalanceKind::Edges)};
  BalanceWeights bw = compute_balance_weights(*s, cs, 8, {}, 1 << 12);
  PartitionConfig cfg;
  cfg.algo = PartitionAlgo::Grem;
  cfg.num_parts = 8;
  cfg.chunk_edges = (metis_edges(path) + 15) / 16;
  cfg.balance = cs;
  cfg.weights = &bw;
  EXPECT_NO_THROW(partition_graph(*s, cfg));
  const std::vector<std::uint32_t> degrees = bw.w;
  bw.w[1 * bw.ncon + 1] += 1;  // vertex 1's degree, one too many
  try {
    partition_graph(*s, cfg);
    ADD_FAILURE() << "no error for weights that are not the degrees";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("edge-balance weights"), std::string::npos) << e.what();
  }
  // The same total, two vertices' degrees swapped: caught per vertex, naming the first.
  bw.w = degrees;
  std::uint32_t a = 0, b = 1;
  while (bw.w[b * bw.ncon + 1] == bw.w[a * bw.ncon + 1]) ++b;
  std::swap(bw.w[a * bw.ncon + 1], bw.w[b * bw.ncon + 1]);
  try {
    partition_graph(*s, cfg);
    ADD_FAILURE() << "no error for a permuted degree column";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("edge-balance weight of vertex 0 is"), std::string::npos) << e.what();
  }
}

TEST(BalanceConstraints, MetisFileVertexWeightsWithSeveralColumns) {
  // A 6-cycle with two weight columns (fmt 010, ncon 2); vertex 0 is heavy in both, so
  // the only assignments within both bounds put it alone in its part.
  const std::string path = write_file("vw.graph",
                                      "6 6 010 2\n"
                                      "10 4 2 6\n"
                                      "1 1 1 3\n"
                                      "1 1 2 4\n"
                                      "1 1 3 5\n"
                                      "1 1 4 6\n"
                                      "1 1 5 1\n");
  const VertexWeights vwf = read_metis_vertex_weights(path);
  ASSERT_EQ(vwf.ncon, 2u);
  auto s = open_edge_stream(path);
  BalanceInputs in;
  in.vwgt = &vwf.w;
  in.vwgt_columns = vwf.ncon;
  const auto cs = parse_balance("vwgt", "0.2", vwf.ncon);
  const BalanceWeights bw = compute_balance_weights(*s, cs, 2, in, 1 << 10);
  EXPECT_EQ(bw.total[0], 15u);
  EXPECT_EQ(bw.total[1], 9u);
  EXPECT_EQ(bw.cap[0], 10u);  // the heaviest vertex (10) exceeds floor(1.2 * 7.5) = 9
  EXPECT_EQ(bw.cap[1], 5u);
  for (PartitionAlgo algo : {PartitionAlgo::Grem, PartitionAlgo::Fennel, PartitionAlgo::Ldg, PartitionAlgo::Hash}) {
    SCOPED_TRACE(algo_name(algo));
    PartitionConfig cfg;
    cfg.algo = algo;
    cfg.num_parts = 2;
    cfg.balance = std::vector<BalanceConstraint>(cs);
    cfg.weights = &bw;
    expect_within_bounds(bw, partition_graph(*s, cfg), 2);
  }
}
