// Graph readers (METIS, edge lists, binary), EdgeStream chunking and CSR building.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "flotilla/datasets.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::error_of;
using flotilla::test::scratch_dir;
using flotilla::test::shared_data;
using flotilla::test::write_file;
using flotilla::test::write_gz;

namespace {

// Reference values of ../shared/data/graphs/gpmetis_cuts.tsv (columns graph n m ...).
std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> metis_reference() {
  std::ifstream in(shared_data("graphs/gpmetis_cuts.tsv"));
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> ref;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string g;
    std::uint64_t n, m;
    if (ss >> g >> n >> m) ref[g] = {n, m};
  }
  return ref;
}

std::set<std::pair<VertexId, VertexId>> edge_set(const CsrGraph& g) {
  std::set<std::pair<VertexId, VertexId>> s;
  for (VertexId u = 0; u < g.num_nodes(); ++u)
    for (VertexId v : g.neighbors(u)) s.insert({u, v});
  return s;
}

}  // namespace

TEST(MetisReader, AllSharedGraphsMatchReferenceCounts) {
  const auto ref = metis_reference();
  ASSERT_GE(ref.size(), 20u);
  for (const auto& [name, nm] : ref) {
    SCOPED_TRACE(name);
    auto stream = open_edge_stream(shared_data("graphs/" + name + ".graph"));
    EXPECT_EQ(stream->info().format, GraphFormat::Metis);
    const CsrGraph g = build_csr(*stream);
    EXPECT_EQ(g.num_nodes(), nm.first);
    EXPECT_EQ(g.num_undirected_edges(), nm.second);
  }
}

TEST(MetisReader, FullReaderValidatesSymmetry) {
  const MetisGraph mg = read_metis(shared_data("graphs/4elt.graph"));
  EXPECT_EQ(mg.graph.num_nodes(), 15606u);
  EXPECT_EQ(mg.graph.num_undirected_edges(), 45878u);
  EXPECT_TRUE(mg.graph.is_symmetric());

  const auto bad = write_file("asym.graph", "3 2\n2\n1 3\n1\n");  // 3 lists 1, 1 does not list 3
  EXPECT_NE(error_of([&] { read_metis(bad); }).find("not symmetric"), std::string::npos);
}

TEST(MetisReader, WeightsAndFormats) {
  // fmt 11: vertex weight then (neighbour, edge weight) pairs; '%' comments anywhere.
  const auto p = write_file("w.graph", "% comment\n3 2 11\n5 2 7\n% mid comment\n6 1 7 3 9\n7 2 9\n");
  const MetisGraph mg = read_metis(p);
  EXPECT_EQ(mg.ncon, 1);
  EXPECT_EQ(mg.vertex_weights, (std::vector<std::int64_t>{5, 6, 7}));
  ASSERT_TRUE(mg.graph.has_weights());
  EXPECT_EQ(mg.graph.neighbors(1).size(), 2u);
  EXPECT_EQ(mg.graph.neighbor_weights(1)[1], 9.0f);
  // fmt 10: vertex weights only, two constraints.
  const MetisGraph mg2 = read_metis(write_file("v.graph", "2 1 10 2\n1 1 2\n3 4 1\n"));
  EXPECT_EQ(mg2.vertex_weights, (std::vector<std::int64_t>{1, 1, 3, 4}));
  // fmt 1 (edge weights) and fmt 0 round trip through write_metis.
  const MetisGraph mg3 = read_metis(write_file("e.graph", "3 3 1\n2 4 3 1\n1 4 3 2\n1 1 2 2\n"));
  write_metis(mg3.graph, scratch_dir() + "/rt.graph");
  const MetisGraph mg4 = read_metis(scratch_dir() + "/rt.graph");
  EXPECT_EQ(edge_set(mg3.graph), edge_set(mg4.graph));
  EXPECT_EQ(mg3.graph.weights(), mg4.graph.weights());
}

TEST(MetisReader, IsolatedVerticesAreEmptyLines) {
  const CsrGraph g = load_graph(write_file("iso.graph", "4 1\n\n3\n2\n\n"));
  EXPECT_EQ(g.num_nodes(), 4u);
  EXPECT_EQ(g.degree(0), 0u);
  EXPECT_EQ(g.degree(3), 0u);
  EXPECT_EQ(g.num_undirected_edges(), 1u);
}

TEST(MetisReader, BadInputsGiveFileAndLine) {
  struct Case { const char* name; const char* text; const char* expect; };
  const Case cases[] = {
      {"empty.graph", "", "empty file"},
      {"comments.graph", "% only\n% comments\n", "empty file"},
      {"trunc.graph", "3 2\n2\n1 3\n", "ends after 2 vertex lines"},
      {"count.graph", "3 3\n2\n1 3\n2\n", "m = 3"},
      {"range.graph", "2 1\n3\n1\n", ":2: neighbour id 3 out of range"},
      {"zero.graph", "2 1\n0\n1\n", "out of range"},
      {"token.graph", "2 1\n2x\n1\n", ":2: expected neighbour id, found '2x'"},
      {"neg.graph", "2 1\n-2\n1\n", "expected neighbour id"},
      {"loop.graph", "2 1\n1 2\n1\n", "self-loop"},
      {"extra.graph", "2 1\n2\n1\n2\n", "more vertex lines"},
      {"fmt.graph", "2 1 2\n2\n1\n", "fmt must be"},
      {"ewgt.graph", "2 1 1\n2\n1 5\n", "no edge weight"},
      {"header.graph", "abc\n", "expected vertex count"},
      {"huge.graph", "99999999999 1\n", "32-bit"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto p = write_file(c.name, c.text);
    const std::string err = error_of([&] { load_graph(p); });
    EXPECT_NE(err.find(c.expect), std::string::npos) << err;
    EXPECT_NE(err.find(c.name), std::string::npos) << err;  // names the file
  }
}

TEST(EdgeListReader, SnapFileMatchesMetisVersion) {
  const CsrGraph a = load_graph(shared_data("graphs/facebook_combined.txt"));
  const CsrGraph b = load_graph(shared_data("graphs/facebook_combined.graph"));
  EXPECT_EQ(a.num_nodes(), 4039u);
  EXPECT_EQ(a.num_undirected_edges(), 88234u);
  EXPECT_EQ(edge_set(a), edge_set(b));
  const CsrGraph c = load_graph(shared_data("graphs/ca-HepTh.txt"));
  const CsrGraph d = load_graph(shared_data("graphs/ca-HepTh.graph"));
  EXPECT_EQ(c.num_nodes(), d.num_nodes());
  EXPECT_EQ(c.num_undirected_edges(), d.num_undirected_edges());
}

TEST(EdgeListReader, CompactsArbitraryIdsInIdOrder) {
  const auto p = write_file("ids.txt", "# comment\n1000000 7\n7\t\t42\n% other comment\n\n42 1000000\n5000000000 7\n");
  auto s = open_edge_stream(p);
  EXPECT_EQ(s->info().num_nodes, 4u);
  const CsrGraph g = build_csr(*s);
  // ids sorted: 7->0, 42->1, 1000000->2, 5000000000->3
  EXPECT_EQ(edge_set(g), (std::set<std::pair<VertexId, VertexId>>{{0, 1}, {0, 2}, {0, 3}, {1, 0}, {1, 2}, {2, 0}, {2, 1}, {3, 0}}));
  EdgeStreamOptions keep;
  keep.keep_ids = true;
  EXPECT_EQ(open_edge_stream(write_file("k.txt", "3 9\n"), keep)->info().num_nodes, 10u);
}

TEST(EdgeListReader, WeightsCsvHeaderGzipAndDuplicates) {
  const auto p = write_gz("w.csv.gz", "src,dst,weight\n0,1,0.5\n1,0,0.5\n1,2,2\n2,2,1\n");
  auto s = open_edge_stream(p);
  EXPECT_TRUE(s->info().has_edge_weights);
  const CsrGraph g = build_csr(*s);
  EXPECT_EQ(g.num_nodes(), 3u);
  EXPECT_EQ(g.num_undirected_edges(), 2u);  // duplicate 0-1 merged, self-loop dropped
  EXPECT_FLOAT_EQ(g.neighbor_weights(2)[0], 2.0f);
}

TEST(EdgeListReader, BadInputs) {
  EXPECT_NE(error_of([&] { load_graph(write_file("one.txt", "1 2\n3\n")); }).find("one.txt:2: expected two node ids"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_graph(write_file("neg.txt", "1 2\n-3 4\n")); }).find("neg.txt:2:"), std::string::npos);
  EXPECT_NE(error_of([&] { load_graph(write_file("alpha.txt", "1 2\n3 x4\n")); }).find("found 'x4'"), std::string::npos);
  EXPECT_NE(error_of([&] { load_graph(write_file("big.txt", "1 99999999999999999999999\n")); }).find("big.txt:1:"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_graph(write_file("w.txt", "1 2 0.5\n2 3\n")); }).find("w.txt:2: missing edge weight"),
            std::string::npos);
  EXPECT_NE(error_of([&] { open_edge_stream(scratch_dir() + "/missing.txt"); }).find("no such file"), std::string::npos);
  // An empty edge list is a valid graph with no nodes.
  EXPECT_EQ(load_graph(write_file("empty.txt", "")).num_nodes(), 0u);
}

TEST(BinaryEdges, RoundTripAndChunking) {
  for (std::uint32_t width : {4u, 8u}) {
    const std::string path = scratch_dir() + "/g" + std::to_string(width) + ".bin";
    {
      BinaryEdgeWriter w(path, 1000, width);
      for (std::uint64_t i = 0; i < 5000; ++i) w.append((i * 7) % 1000, (i * 13 + 1) % 1000);
      w.finish();
    }
    auto s = open_edge_stream(path);
    EXPECT_EQ(s->info().format, GraphFormat::Binary);
    EXPECT_EQ(s->info().num_nodes, 1000u);
    EdgeChunk c;
    std::uint64_t total = 0, chunks = 0, i = 0;
    bool order_ok = true;
    while (s->next_chunk(c, 777)) {
      EXPECT_LE(c.size(), 777u);
      ++chunks;
      for (std::size_t j = 0; j < c.size(); ++j, ++i) {
        while ((i * 7) % 1000 == (i * 13 + 1) % 1000) ++i;  // self-loops are skipped
        order_ok &= c.src[j] == (i * 7) % 1000 && c.dst[j] == (i * 13 + 1) % 1000;
      }
      total += c.size();
    }
    EXPECT_TRUE(order_ok);
    EXPECT_GE(chunks, 6u);
    s->rewind();
    std::uint64_t again = 0;
    while (s->next_chunk(c, 1 << 20)) again += c.size();
    EXPECT_EQ(total, again);
  }
}

TEST(BinaryEdges, CorruptionIsDetected) {
  const std::string path = scratch_dir() + "/c.bin";
  {
    BinaryEdgeWriter w(path, 10, 4);
    for (int i = 0; i < 9; ++i) w.append(i, i + 1);
    w.finish();
  }
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto with = [&](const std::string& name, std::string b) { return write_file(name, b); };
  std::string flipped = bytes;
  flipped[64 + 8] ^= 0x02;  // payload: edge 1 source 1 -> 3, still in range
  EXPECT_NE(error_of([&] { load_graph(with("flip.bin", flipped)); }).find("checksum"), std::string::npos);
  std::string hdr = bytes;
  hdr[20] ^= 0x10;  // num_nodes
  EXPECT_NE(error_of([&] { load_graph(with("hdr.bin", hdr), {GraphFormat::Binary}); }).find("header checksum"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_graph(with("trunc.bin", bytes.substr(0, bytes.size() - 3)), {GraphFormat::Binary}); })
                .find("truncated"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_graph(with("short.bin", bytes.substr(0, 30)), {GraphFormat::Binary}); })
                .find("truncated header"),
            std::string::npos);
}

TEST(BinaryEdges, RawPairsAndIdRange) {
  std::string raw;
  const std::uint32_t pairs[] = {0, 1, 1, 2, 5, 0};
  raw.assign(reinterpret_cast<const char*>(pairs), sizeof pairs);
  const auto p = write_file("g.bin32", raw);
  auto s = open_edge_stream(p);
  EXPECT_EQ(s->info().format, GraphFormat::RawBin32);
  EXPECT_EQ(s->info().num_nodes, 6u);
  EXPECT_EQ(build_csr(*s).num_undirected_edges(), 3u);
  EXPECT_NE(error_of([&] { open_edge_stream(write_file("odd.bin32", raw.substr(0, 10))); }).find("not a multiple"),
            std::string::npos);
  EXPECT_THROW(BinaryEdgeWriter(scratch_dir() + "/x.bin", 3).append(0, 3), std::out_of_range);
}

TEST(BinaryEdges, InterruptedWriterLeavesNothing) {
  const std::string path = scratch_dir() + "/never.bin";
  {
    BinaryEdgeWriter w(path, 10);
    w.append(1, 2);
  }  // destroyed without finish()
  EXPECT_FALSE(std::ifstream(path).good());
  EXPECT_FALSE(std::ifstream(temp_path_for(path)).good());
}

TEST(Csr, BuildOptionsAndStats) {
  const std::vector<VertexId> src = {0, 1, 1, 2, 3, 3};
  const std::vector<VertexId> dst = {1, 0, 2, 2, 4, 4};
  const CsrGraph g = build_csr(6, src, dst);
  EXPECT_EQ(g.num_undirected_edges(), 3u);  // 0-1, 1-2, 3-4
  EXPECT_TRUE(g.is_symmetric());
  const DegreeStats d = degree_stats(g);
  EXPECT_EQ(d.max, 2u);
  EXPECT_EQ(d.isolated, 1u);
  EXPECT_EQ(connected_components(g).count, 3u);
  EXPECT_EQ(connected_components(g).largest, 3u);
  CsrBuildOptions raw;
  raw.symmetrize = false;
  raw.dedup = false;
  raw.drop_self_loops = false;
  EXPECT_EQ(build_csr(6, src, dst, raw).num_arcs(), 6u);
}

TEST(Csr, ComponentsOfSharedGraphs) {
  // facebook_combined is connected; power (US grid) too.
  EXPECT_EQ(connected_components(load_graph(shared_data("graphs/facebook_combined.graph"))).count, 1u);
  EXPECT_EQ(connected_components(load_graph(shared_data("graphs/power.graph"))).count, 1u);
}

TEST(EdgeStream, ChunksAreBoundedAndProgressReported) {
  auto s = open_edge_stream(shared_data("graphs/ca-CondMat.graph"));
  std::uint64_t last_done = 0, total_bytes = 0, calls = 0;
  s->set_progress([&](std::uint64_t d, std::uint64_t t) { last_done = d; total_bytes = t; ++calls; });
  EdgeChunk c;
  std::uint64_t edges = 0;
  while (s->next_chunk(c, 1000)) {
    EXPECT_LE(c.size(), 1000u);
    for (std::size_t i = 0; i < c.size(); ++i) EXPECT_LT(c.src[i], c.dst[i]);  // METIS: each edge once
    edges += c.size();
  }
  EXPECT_EQ(edges, 91286u);
  EXPECT_GT(calls, 90u);
  EXPECT_EQ(last_done, total_bytes);
}

// ---- regressions found in review ------------------------------------------------------------
namespace {
int open_fd_count() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) (void)e, ++n;
  return n;
}
}  // namespace

TEST(Regressions, PipesAreRefusedNotReadAsEmpty) {
  const std::string fifo = scratch_dir() + "/pipe.txt";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(error_of([&] { open_edge_stream(fifo); }).find("not a regular file"), std::string::npos);
  EdgeStreamOptions bin;
  bin.format = GraphFormat::RawBin32;
  EXPECT_NE(error_of([&] { open_edge_stream(fifo, bin); }).find("not a regular file"), std::string::npos);
}

TEST(Regressions, BadWeightsAndHeaderCounts) {
  for (const char* w : {"-4", "0"}) {
    const auto p = write_file("w.txt", std::string("0 1 ") + w + "\n");
    EXPECT_NE(error_of([&] { load_graph(p); }).find("w.txt:1: edge weights must be positive"), std::string::npos) << w;
  }
  // Not finite as float32 (1e300 and 1e39 are finite doubles): named with their column.
  for (const char* w : {"nan", "inf", "1e300", "1e39", "-1e39"}) {
    const auto p = write_file("w.txt", std::string("0 1 ") + w + "\n");
    EXPECT_NE(error_of([&] { load_graph(p); })
                  .find(std::string("w.txt:1: edge weight '") + w + "' in column 3 is not a finite float32 value"),
              std::string::npos)
        << w;
  }
  EXPECT_NE(error_of([&] { load_graph(write_file("m.graph", "1 9223372036854775808\n\n")); }).find("n(n-1)/2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_graph(write_file("max.txt", "0 18446744073709551615\n")); }).find("not supported"),
            std::string::npos);
  EdgeStreamOptions keep;
  keep.keep_ids = true;
  EXPECT_NE(error_of([&] { open_edge_stream(write_file("big.txt", "0 5000000000\n"), keep); }).find("32-bit"),
            std::string::npos);
  // METIS writer refuses weights that are not positive integers after rounding.
  const CsrGraph g({0, 1, 2}, {1, 0}, {0.2f, 0.2f});
  EXPECT_THROW(write_metis(g, scratch_dir() + "/x.graph"), std::invalid_argument);
  EXPECT_FALSE(std::ifstream(temp_path_for(scratch_dir() + "/x.graph")).good());
}

TEST(Regressions, FlotillaEdgeListHeaderKeepsIsolatedVerticesAndIds) {
  const auto p = write_file("h.txt", "# flotilla edge list: 6 nodes, from somewhere\n0 1\n4 5\n");
  auto s = open_edge_stream(p);
  EXPECT_EQ(s->info().num_nodes, 6u);
  const CsrGraph g = build_csr(*s);
  EXPECT_EQ(g.neighbors(4)[0], 5u);  // ids kept, not compacted to 0..3
  EXPECT_NE(error_of([&] { load_graph(write_file("h2.txt", "# flotilla edge list: 3 nodes, x\n0 7\n")); })
                .find("out of range"),
            std::string::npos);
}

TEST(Regressions, ZeroChunkSizeStillStreams) {
  auto s = open_edge_stream(write_file("z.txt", "0 1\n1 2\n"));
  EdgeChunk c;
  std::size_t total = 0;
  while (s->next_chunk(c, 0)) total += c.size();
  EXPECT_EQ(total, 2u);
}

TEST(Regressions, ChecksumErrorRepeatsAndFdsDoNotLeak) {
  const std::string path = scratch_dir() + "/c.bin";
  {
    BinaryEdgeWriter w(path, 10, 4);
    for (int i = 0; i < 9; ++i) w.append(i, i + 1);
    w.finish();
  }
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[64 + 8] ^= 0x02;
  const auto bad = write_file("bad.bin", bytes);
  auto s = open_edge_stream(bad);
  EdgeChunk c;
  EXPECT_THROW(while (s->next_chunk(c, 100)) {}, InputError);
  EXPECT_THROW(s->next_chunk(c, 100), InputError);  // not a silent clean end
  const auto trunc = write_file("trunc.bin", bytes.substr(0, 70));
  const int before = open_fd_count();
  for (int i = 0; i < 50; ++i) EXPECT_THROW(open_edge_stream(trunc), InputError);
  EXPECT_EQ(open_fd_count(), before);
}

TEST(Regressions, CorruptGzipNamesFileAndByteOffset) {
  std::string text;
  for (int i = 0; i < 200000; ++i) text += std::to_string(i) + " " + std::to_string(i + 1) + "\n";
  const auto p = write_gz("big.txt.gz", text);
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  const auto bad = write_file("bad.txt.gz", bytes);
  const std::string err = error_of([&] { load_graph(bad); });
  EXPECT_NE(err.find("bad.txt.gz: byte "), std::string::npos) << err;
  EXPECT_EQ(err.find("<fd:"), std::string::npos) << err;
}
