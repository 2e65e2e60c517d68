// read_metis_vertex_weights: the vertex weights of METIS files (fmt x1x, ncon >= 1) for the
// partitioner's balance constraints, and its errors (file:line).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::error_of;
using flotilla::test::shared_data;
using flotilla::test::write_file;
using flotilla::test::write_gz;

namespace {

using W = std::vector<std::uint32_t>;

TEST(MetisVertexWeights, Fmt010OneConstraint) {
  // Path graph 1-2-3; weight 0 is allowed.
  const VertexWeights vw = read_metis_vertex_weights(write_file("a.graph", "3 2 10\n5 2\n0 1 3\n7 2\n"));
  EXPECT_EQ(vw.ncon, 1u);
  EXPECT_EQ(vw.w, (W{5, 0, 7}));
  // "10 1" says ncon = 1 explicitly; the largest weight, 2^32-1, fits.
  const VertexWeights big = read_metis_vertex_weights(write_file("b.graph", "2 1 10 1\n4294967295 2\n1 1\n"));
  EXPECT_EQ(big.w, (W{4294967295u, 1}));
}

TEST(MetisVertexWeights, Fmt011SkipsEdgeWeights) {
  const VertexWeights vw =
      read_metis_vertex_weights(write_file("w.graph", "% comment\n3 2 11\n5 2 7\n% mid comment\n6 1 7 3 9\n7 2 9\n"));
  EXPECT_EQ(vw.ncon, 1u);
  EXPECT_EQ(vw.w, (W{5, 6, 7}));
}

TEST(MetisVertexWeights, Fmt110SizesComeBeforeWeights) {
  // Each line: size, weight, neighbours. The sizes (100, 200, 300) must not be read as weights.
  const VertexWeights vw = read_metis_vertex_weights(write_file("s.graph", "3 2 110\n100 1 2\n200 2 1 3\n300 3 2\n"));
  EXPECT_EQ(vw.ncon, 1u);
  EXPECT_EQ(vw.w, (W{1, 2, 3}));
  // fmt 111 with two constraints: size, w1, w2, then (neighbour, edge weight) pairs.
  const VertexWeights vw2 = read_metis_vertex_weights(write_file("t.graph", "2 1 111 2\n9 1 2 2 4\n9 3 4 1 4\n"));
  EXPECT_EQ(vw2.ncon, 2u);
  EXPECT_EQ(vw2.w, (W{1, 2, 3, 4}));
}

TEST(MetisVertexWeights, ThreeConstraintsRowMajor) {
  const VertexWeights vw = read_metis_vertex_weights(
      write_file("c3.graph", "%c\n4 3 10 3\n1 2 3 2\n4 5 6 1 3\n7 8 9 2 4\n10 11 12 3\n"));
  ASSERT_EQ(vw.ncon, 3u);
  ASSERT_EQ(vw.w.size(), 12u);
  EXPECT_EQ(vw.w, (W{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(vw.w[2 * vw.ncon + 1], 8u);  // vertex 3 (0-based 2), constraint 2
}

TEST(MetisVertexWeights, NoWeightsGivesNconZero) {
  for (const char* text : {"3 2\n2\n1 3\n2\n", "3 2 0\n2\n1 3\n2\n", "3 2 1\n2 5\n1 5 3 1\n2 1\n",
                           "3 2 100\n1 2\n1 1 3\n1 2\n", "3 2 0 0\n2\n1 3\n2\n"}) {
    SCOPED_TRACE(text);
    const VertexWeights vw = read_metis_vertex_weights(write_file("n.graph", text));
    EXPECT_EQ(vw.ncon, 0u);
    EXPECT_TRUE(vw.w.empty());
  }
}

TEST(MetisVertexWeights, IsolatedVerticesHaveOnlyWeights) {
  // Vertices 1 and 4 have no neighbours: their lines hold only weights (two constraints).
  const VertexWeights vw =
      read_metis_vertex_weights(write_file("iso.graph", "4 1 10 2\n1 1\n2 2 3\n3 3 2\n4 4\n\n\n"));
  EXPECT_EQ(vw.w, (W{1, 1, 2, 2, 3, 3, 4, 4}));
  // Last line without a newline, tabs and CRLF line ends, as the METIS reader accepts them.
  const VertexWeights vw2 = read_metis_vertex_weights(write_file("crlf.graph", "2 0 10\r\n6\r\n\t7"));
  EXPECT_EQ(vw2.w, (W{6, 7}));
}

TEST(MetisVertexWeights, GzipAndAgreesWithReadMetis) {
  const std::string text = "% c\n4 4 11 2\n1 5 2 1 3 2\n2 6 1 1 3 1\n3 7 1 2 2 1 4 3\n4 8 3 3\n";
  const VertexWeights plain = read_metis_vertex_weights(write_file("g.graph", text));
  const VertexWeights gz = read_metis_vertex_weights(write_gz("g.graph.gz", text));
  EXPECT_EQ(plain.w, (W{1, 5, 2, 6, 3, 7, 4, 8}));
  EXPECT_EQ(gz.w, plain.w);
  EXPECT_EQ(gz.ncon, 2u);
  const MetisGraph mg = read_metis(write_file("g2.graph", text));
  ASSERT_EQ(static_cast<std::uint32_t>(mg.ncon), plain.ncon);
  ASSERT_EQ(mg.vertex_weights.size(), plain.w.size());
  for (std::size_t i = 0; i < plain.w.size(); ++i) EXPECT_EQ(mg.vertex_weights[i], static_cast<std::int64_t>(plain.w[i]));
}

TEST(MetisVertexWeights, SharedGraphWithoutWeights) {
  const VertexWeights vw = read_metis_vertex_weights(shared_data("graphs/4elt.graph"));
  EXPECT_EQ(vw.ncon, 0u);
  EXPECT_TRUE(vw.w.empty());
}

TEST(MetisVertexWeights, BadInputsGiveFileAndLine) {
  struct Case { const char* name; const char* text; const char* expect; };
  const Case cases[] = {
      {"missing.graph", "2 1 10\n5 2\n\n", ":3: missing vertex weight: the line has 0 vertex weights, the header's ncon = 1"},
      {"fewer.graph", "2 0 10 3\n1 2 3\n4 5\n", ":3: missing vertex weight: the line has 2 vertex weights, the header's ncon = 3"},
      {"negative.graph", "2 1 10\n-1 2\n1 1\n", ":2: negative vertex weight -1"},
      {"float.graph", "%\n2 1 10\n1.5 2\n1 1\n", ":3: expected vertex weight, found '1.5'"},
      {"token.graph", "2 1 10\n1 2\nx 1\n", ":3: expected vertex weight, found 'x'"},
      {"plus.graph", "2 1 10\n+1 2\n1 1\n", ":2: expected vertex weight, found '+1'"},
      {"large.graph", "2 1 10\n4294967296 2\n1 1\n", ":2: vertex weight 4294967296 is larger than 2^32-1"},
      {"huge.graph", "2 1 10\n1 2\n99999999999999999999 1\n", ":3: vertex weight out of range: '99999999999999999999'"},
      {"size.graph", "2 1 110\n\n1 1 1\n", ":2: missing vertex size"},
      {"sizetok.graph", "2 1 110\n-1 1 2\n1 1 1\n", ":2: expected vertex size, found '-1'"},
      {"trunc.graph", "3 2 10\n1 2\n1 1 3\n", ":3: file ends after 2 vertex lines; the header says n = 3"},
      {"extra.graph", "2 1 10\n1 2\n1 1\n1\n", ":4: more vertex lines than the header's n = 2"},
      {"ncon.graph", "2 1 10 0\n1 2\n1 1\n", ":1: METIS ncon must be between 1 and 64"},
      {"ncon65.graph", "2 1 10 65\n1 2\n1 1\n", ":1: METIS ncon must be between 1 and 64"},
      {"nconfmt.graph", "2 1 1 2\n2 1\n1 1\n", ":1: METIS header gives ncon but fmt has no vertex weights"},
      {"fmt.graph", "2 1 20\n1 2\n1 1\n", ":1: METIS fmt must be"},
      {"small.graph", "%\n100 1 10 3\n1 1 1\n", ":2: header says n = 100 vertices but the file is too small"},
      {"empty.graph", "", ":1: empty file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto p = write_file(c.name, c.text);
    const std::string err = error_of([&] { read_metis_vertex_weights(p); });
    EXPECT_NE(err.find(std::string(c.name) + c.expect), std::string::npos) << err;  // file:line: what
  }
}

TEST(MetisVertexWeights, BadGzipNamesTheFile) {
  std::string gz;
  {
    const std::string p = write_gz("t.graph.gz", "3 2 10\n1 2\n1 1 3\n1 2\n");
    std::FILE* f = std::fopen(p.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buf[4096];
    gz.assign(buf, std::fread(buf, 1, sizeof buf, f));
    std::fclose(f);
  }
  const auto p = write_file("cut.graph.gz", gz.substr(0, gz.size() - 12));
  const std::string err = error_of([&] { read_metis_vertex_weights(p); });
  EXPECT_NE(err.find("cut.graph.gz"), std::string::npos) << err;
}

}  // namespace
