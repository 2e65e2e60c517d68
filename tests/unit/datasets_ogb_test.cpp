// OGB raw node-property folders: the shared Planetoid/MUSAE copies and bad inputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include "flotilla/datasets.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::error_of;
using flotilla::test::scratch_dir;
using flotilla::test::shared_data;
using flotilla::test::write_file;
using flotilla::test::write_gz;

namespace {

// A tiny valid OGB folder under scratch_dir()/name; `override` replaces files by relative
// path (an empty string value deletes the file). Files are gzipped like the real ones.
std::string tiny_ogb(const std::string& name, const std::map<std::string, std::string>& override = {}) {
  std::map<std::string, std::string> files = {
      {"raw/num-node-list.csv.gz", "5\n"},
      {"raw/num-edge-list.csv.gz", "4\n"},
      {"raw/edge.csv.gz", "0,1\n1,2\n2,3\n3,4\n"},
      {"raw/node-feat.csv.gz", "0.5,1\n-1,2e-3\n0,0\n1,1\n3.25,-7\n"},
      {"raw/node-label.csv.gz", "0\n2\n-1\n1\n2\n"},
      {"split/s/train.csv.gz", "0\n1\n"},
      {"split/s/valid.csv.gz", "3\n"},
      {"split/s/test.csv.gz", "4\n"},
  };
  for (const auto& [k, v] : override) files[k] = v;
  std::filesystem::remove_all(scratch_dir() + "/" + name);  // left by an earlier run
  for (const auto& [k, v] : files) {
    if (v == "<delete>") continue;
    if (k.size() > 3 && k.compare(k.size() - 3, 3, ".gz") == 0)
      write_gz(name + "/" + k, v);
    else
      write_file(name + "/" + k, v);
  }
  return scratch_dir() + "/" + name;
}

std::string expect_error(const std::string& dir, const std::string& split = "") {
  return error_of([&] { read_ogb_node_dataset(dir, split); });
}

}  // namespace

TEST(Ogb, Cora) {
  const OgbNodeDataset ds = read_ogb_node_dataset(shared_data("nodeclass/cora"));
  EXPECT_EQ(ds.num_nodes, 2708u);
  EXPECT_EQ(ds.num_edges, 5278u);
  EXPECT_EQ(ds.num_features, 1433u);
  EXPECT_EQ(ds.features.size(), 2708u * 1433u);
  EXPECT_EQ(ds.num_classes, 7);
  EXPECT_EQ(ds.num_labeled, 2708u);
  EXPECT_EQ(ds.split.name, "planetoid");
  EXPECT_EQ(ds.split.train.size(), 140u);
  EXPECT_EQ(ds.split.valid.size(), 500u);
  EXPECT_EQ(ds.split.test.size(), 1000u);
  EXPECT_EQ(ds.split.test.front(), 1708u);
  // Binary bag-of-words features; the first row has a 1 in column 19 (see the file).
  bool binary = true;
  for (float f : ds.features) binary &= f == 0.0f || f == 1.0f;
  EXPECT_TRUE(binary);
  EXPECT_EQ(ds.feature_row(0)[19], 1.0f);
  EXPECT_EQ(ds.labels[0], 3);
  EXPECT_EQ(ds.labels[1], 4);
  // The edge stream over the same folder agrees on the counts.
  auto s = open_edge_stream(shared_data("nodeclass/cora"));
  EXPECT_EQ(s->info().format, GraphFormat::Ogb);
  EXPECT_EQ(s->info().num_nodes, 2708u);

  const OgbInfo info = describe_ogb(shared_data("nodeclass/cora"));
  EXPECT_EQ(info.num_nodes, 2708u);
  EXPECT_EQ(info.num_edges, 5278u);
  EXPECT_EQ(info.num_features, 1433u);
  EXPECT_EQ(info.feature_rows, 2708u);
  EXPECT_EQ(info.num_classes, 7);
  ASSERT_EQ(info.splits.size(), 1u);
  EXPECT_EQ(info.splits[0].name, "planetoid");
  EXPECT_EQ(info.splits[0].train + info.splits[0].valid + info.splits[0].test, 1640u);
}

TEST(Ogb, CiteseerHasUnlabeledNodes) {
  const OgbNodeDataset ds = read_ogb_node_dataset(shared_data("nodeclass/citeseer"), "planetoid");
  EXPECT_EQ(ds.num_nodes, 3327u);
  EXPECT_EQ(ds.num_edges, 4552u);
  EXPECT_EQ(ds.num_features, 3703u);
  EXPECT_EQ(ds.num_classes, 6);
  EXPECT_EQ(ds.num_labeled, 3327u - 15u);
  EXPECT_EQ(std::count(ds.labels.begin(), ds.labels.end(), -1), 15);
  EXPECT_EQ(ds.split.train.size(), 120u);
  EXPECT_EQ(ds.split.valid.size(), 500u);
  EXPECT_EQ(ds.split.test.size(), 1000u);
  for (VertexId v : ds.split.test) EXPECT_GE(ds.labels[v], 0);  // split nodes are labeled
}

TEST(Ogb, FacebookPagePage) {
  const OgbNodeDataset ds = read_ogb_node_dataset(shared_data("nodeclass/facebook-pagepage"));
  EXPECT_EQ(ds.num_nodes, 22470u);
  EXPECT_EQ(ds.num_edges, 170823u);
  EXPECT_EQ(ds.num_features, 128u);
  EXPECT_EQ(ds.num_classes, 4);
  EXPECT_EQ(ds.split.name, "random");
  EXPECT_EQ(ds.split.train.size(), 13482u);
  EXPECT_EQ(ds.split.valid.size(), 4494u);
  EXPECT_EQ(ds.split.test.size(), 4494u);
  EXPECT_NEAR(ds.features[0], -0.120577f, 1e-6f);
  // Without features: counts only.
  OgbReadOptions o;
  o.load_features = false;
  o.check_edge_count = false;
  const OgbNodeDataset light = read_ogb_node_dataset(shared_data("nodeclass/facebook-pagepage"), o);
  EXPECT_TRUE(light.features.empty());
  EXPECT_EQ(light.num_features, 128u);
}

TEST(Ogb, TinyFolderAndLabelForms) {
  const OgbNodeDataset ds = read_ogb_node_dataset(tiny_ogb("ok"));
  EXPECT_EQ(ds.features, (std::vector<float>{0.5f, 1, -1, 2e-3f, 0, 0, 1, 1, 3.25f, -7}));
  EXPECT_EQ(ds.labels, (std::vector<std::int64_t>{0, 2, -1, 1, 2}));
  EXPECT_EQ(ds.num_classes, 3);
  EXPECT_EQ(ds.num_labeled, 4u);
  EXPECT_EQ(ds.split.train, (std::vector<VertexId>{0, 1}));
  // Unlabeled as nan or an empty line, float-formatted labels, plain (not gzipped) files,
  // no features and no split folder.
  const std::string d = tiny_ogb("forms", {{"raw/node-label.csv.gz", "<delete>"},
                                           {"raw/node-label.csv", "nan\n2.0\n\n1\nNaN\n"},
                                           {"raw/node-feat.csv.gz", "<delete>"},
                                           {"split/s/train.csv.gz", "<delete>"},
                                           {"split/s/valid.csv.gz", "<delete>"},
                                           {"split/s/test.csv.gz", "<delete>"}});
  std::filesystem::remove_all(d + "/split");
  const OgbNodeDataset f = read_ogb_node_dataset(d);
  EXPECT_EQ(f.labels, (std::vector<std::int64_t>{-1, 2, -1, 1, -1}));
  EXPECT_EQ(f.num_features, 0u);
  EXPECT_TRUE(f.split.name.empty());
  EXPECT_TRUE(f.split.train.empty());
}

TEST(Ogb, EdgeFileHeaderAndCommentsAreNotCountedAsEdges) {
  const std::string d = tiny_ogb("hdr", {{"raw/edge.csv.gz", "src,dst\n# note\n0,1\n1,2\n2,3\n3,4\n"}});
  EXPECT_EQ(read_ogb_node_dataset(d).num_edges, 4u);
}

TEST(Ogb, FeatureBeyondFloat32IsRejected) {
  const std::string d = tiny_ogb("f32", {{"raw/node-feat.csv.gz", "0.5,1\n-1,1e39\n0,0\n1,1\n3.25,-7\n"}});
  const std::string e = expect_error(d);
  EXPECT_NE(e.find("node-feat.csv.gz:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("float32"), std::string::npos) << e;
}

TEST(Ogb, BadInputs) {
  {
    const std::string d = tiny_ogb("nosplit", {{"split/s/valid.csv.gz", "<delete>"}});
    const std::string e = expect_error(d);
    EXPECT_NE(e.find("split/s/valid.csv"), std::string::npos) << e;
    EXPECT_NE(e.find("missing valid split file"), std::string::npos) << e;
  }
  {
    const std::string e = expect_error(tiny_ogb("nan", {{"raw/node-feat.csv.gz", "0,1\n1,1\n0,nan\n1,1\n1,1\n"}}));
    EXPECT_NE(e.find("node-feat.csv.gz:3: non-finite feature value in column 2"), std::string::npos) << e;
    const std::string e2 = expect_error(tiny_ogb("inf", {{"raw/node-feat.csv.gz", "0,1\n1,1\n0,1\n1,-inf\n1,1\n"}}));
    EXPECT_NE(e2.find("node-feat.csv.gz:4: non-finite"), std::string::npos) << e2;
  }
  {
    const std::string e = expect_error(tiny_ogb("ragged", {{"raw/node-feat.csv.gz", "0,1\n1,1\n0,1,2\n1,1\n1,1\n"}}));
    EXPECT_NE(e.find("node-feat.csv.gz:3: feature row has 3 values, expected 2"), std::string::npos) << e;
    const std::string e2 = expect_error(tiny_ogb("word", {{"raw/node-feat.csv.gz", "0,1\n1,x\n0,1\n1,1\n1,1\n"}}));
    EXPECT_NE(e2.find("node-feat.csv.gz:2: expected a feature value (float), found 'x'"), std::string::npos) << e2;
  }
  {
    const std::string e = expect_error(tiny_ogb("fewlabels", {{"raw/node-label.csv.gz", "0\n1\n2\n"}}));
    EXPECT_NE(e.find("node-label.csv.gz: has 3 label lines, expected num_nodes = 5"), std::string::npos) << e;
    const std::string e2 = expect_error(tiny_ogb("manylabels", {{"raw/node-label.csv.gz", "0\n1\n2\n0\n1\n2\n"}}));
    EXPECT_NE(e2.find("node-label.csv.gz:6: more label lines than num_nodes = 5"), std::string::npos) << e2;
    const std::string e3 = expect_error(tiny_ogb("fewfeat", {{"raw/node-feat.csv.gz", "0,1\n"}}));
    EXPECT_NE(e3.find("node-feat.csv.gz: has 1 feature rows, expected num_nodes = 5"), std::string::npos) << e3;
  }
  {
    const std::string e = expect_error(tiny_ogb("biglabel", {{"raw/node-label.csv.gz", "0\n1\n2147483648\n0\n1\n"}}));
    EXPECT_NE(e.find("node-label.csv.gz:3: class label 2147483648 is not below 2^31"), std::string::npos) << e;
    const std::string e2 = expect_error(tiny_ogb("neglabel", {{"raw/node-label.csv.gz", "0\n1\n-2\n0\n1\n"}}));
    EXPECT_NE(e2.find(":3: class label -2 is negative"), std::string::npos) << e2;
    const std::string e3 = expect_error(tiny_ogb("fraclabel", {{"raw/node-label.csv.gz", "0\n1.5\n2\n0\n1\n"}}));
    EXPECT_NE(e3.find(":2: expected an integer class label"), std::string::npos) << e3;
    const std::string e4 = expect_error(tiny_ogb("multilabel", {{"raw/node-label.csv.gz", "0,1\n1,0\n0,0\n1,1\n0,1\n"}}));
    EXPECT_NE(e4.find(":1: expected one class label per line"), std::string::npos) << e4;
  }
  {
    const std::string e = expect_error(tiny_ogb("range", {{"split/s/test.csv.gz", "4\n5\n"}}));
    EXPECT_NE(e.find("split/s/test.csv.gz:2: node id 5 out of range 0..4"), std::string::npos) << e;
    const std::string e2 = expect_error(tiny_ogb("overlap", {{"split/s/test.csv.gz", "4\n0\n"}}));
    EXPECT_NE(e2.find("test.csv.gz:2: node 0 is in both the train and the test sets"), std::string::npos) << e2;
    const std::string e3 = expect_error(tiny_ogb("twice", {{"split/s/train.csv.gz", "0\n1\n0\n"}}));
    EXPECT_NE(e3.find("train.csv.gz:3: node 0 is listed twice in the train set"), std::string::npos) << e3;
  }
  {
    // Truncated gzip: the last bytes of a gzip member cut off.
    const std::string d = tiny_ogb("gz");
    std::string feat(static_cast<std::size_t>(std::filesystem::file_size(d + "/raw/node-feat.csv.gz")), '\0');
    std::ifstream(d + "/raw/node-feat.csv.gz", std::ios::binary).read(feat.data(), static_cast<std::streamsize>(feat.size()));
    write_file("gz/raw/node-feat.csv.gz", feat.substr(0, feat.size() - 12));
    const std::string e = expect_error(d);
    EXPECT_NE(e.find("node-feat.csv.gz"), std::string::npos) << e;
    EXPECT_NE(e.find("gzip"), std::string::npos) << e;
  }
  {
    const std::string e = expect_error(tiny_ogb("noedges", {{"raw/edge.csv.gz", ""}}));
    EXPECT_NE(e.find("raw/edge.csv.gz: is empty: raw/num-edge-list says 4 edges"), std::string::npos) << e;
    const std::string e2 = expect_error(tiny_ogb("fewedges", {{"raw/edge.csv.gz", "0,1\n"}}));
    EXPECT_NE(e2.find("has 1 edge lines, but raw/num-edge-list says 4"), std::string::npos) << e2;
  }
  {
    const std::string d = tiny_ogb("twosplits", {{"split/t/train.csv.gz", "0\n"},
                                                 {"split/t/valid.csv.gz", "1\n"},
                                                 {"split/t/test.csv.gz", "2\n"}});
    const std::string e = expect_error(d);
    EXPECT_NE(e.find("has several splits (s, t); choose one by name"), std::string::npos) << e;
    EXPECT_EQ(read_ogb_node_dataset(d, "t").split.test, (std::vector<VertexId>{2}));
    EXPECT_NE(expect_error(d, "u").find("no such split folder (available: s, t)"), std::string::npos);
  }
  {
    const std::string e = expect_error(tiny_ogb("nocount", {{"raw/num-node-list.csv.gz", "<delete>"}}));
    EXPECT_NE(e.find("missing node count file"), std::string::npos) << e;
    const std::string e2 = expect_error(tiny_ogb("hugecount", {{"raw/num-node-list.csv.gz", "3000000000\n"}}));
    EXPECT_NE(e2.find("node-label.csv.gz: has 5 label lines, expected num_nodes = 3000000000"), std::string::npos) << e2;
  }
  EXPECT_NE(expect_error(scratch_dir() + "/missing").find("not a folder"), std::string::npos);
}

TEST(Ogb, ExtraLabelLineAfterBlankIsNamedByItsOwnLine) {
  // n = 3; line 4 is blank (tolerated only at the very end), line 5 holds an extra label.
  const std::string d = tiny_ogb("labelblank", {{"raw/num-node-list.csv.gz", "3\n"},
                                                {"raw/node-feat.csv.gz", "<delete>"},
                                                {"raw/node-label.csv.gz", "0\n1\n0\n\n5\n"},
                                                {"split/s/valid.csv.gz", "2\n"},
                                                {"split/s/test.csv.gz", "\n"}});
  const std::string e = expect_error(d);
  EXPECT_NE(e.find("node-label.csv.gz:5: more label lines than num_nodes = 3"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { describe_ogb(d); }).find("node-label.csv.gz:5: more label lines"), std::string::npos);
  // Several blank lines before the extra one; and trailing blank lines alone are fine.
  write_gz("labelblank/raw/node-label.csv.gz", "0\n1\n0\n\n \n\n7\n\n");
  const std::string e2 = expect_error(d);
  EXPECT_NE(e2.find("node-label.csv.gz:7: more label lines than num_nodes = 3"), std::string::npos) << e2;
  write_gz("labelblank/raw/node-label.csv.gz", "0\n1\n0\n\n\n");
  EXPECT_EQ(read_ogb_node_dataset(d).labels, (std::vector<std::int64_t>{0, 1, 0}));
}

TEST(Ogb, FeatureScanChecksRowWidthsAndBlankLines) {
  // describe_ogb (flotilla info) and read_ogb_node_dataset without features only scan the
  // feature file; they still check its shape as the full reader does.
  OgbReadOptions light;
  light.load_features = false;
  auto scan_error = [&](const std::string& name, const std::string& feat) {
    const std::string d = tiny_ogb(name, {{"raw/node-feat.csv.gz", feat}});
    const std::string e = error_of([&] { describe_ogb(d); });
    EXPECT_EQ(error_of([&] { read_ogb_node_dataset(d, light); }), e);
    EXPECT_EQ(expect_error(d), e);  // the full reader reports the same problem at the same line
    return e;
  };
  {
    const std::string e = scan_error("scanragged", "0,1\n1,1\n0,1,2\n1,1\n1,1\n");
    EXPECT_NE(e.find("node-feat.csv.gz:3: feature row has 3 values, expected 2 (the width of line 1)"),
              std::string::npos) << e;
    const std::string e2 = scan_error("scannarrow", "0,1\n1,1\n0,1\n1\n1,1\n");
    EXPECT_NE(e2.find("node-feat.csv.gz:4: feature row has 1 values, expected 2"), std::string::npos) << e2;
  }
  {
    // A blank line among the rows (not only at the end).
    const std::string e = scan_error("scanblank", "0,1\n1,1\n\n0,1\n1,1\n1,1\n");
    EXPECT_NE(e.find("node-feat.csv.gz:3: feature row has 0 values, expected 2"), std::string::npos) << e;
    const std::string e2 = scan_error("scanblankfirst", "\n0,1\n1,1\n0,1\n1,1\n1,1\n");
    EXPECT_NE(e2.find("node-feat.csv.gz:1: empty first feature row"), std::string::npos) << e2;
    // Blank lines after num_nodes rows and then another row.
    const std::string e3 = scan_error("scanextra", "0,1\n1,1\n0,1\n1,1\n1,1\n\n1,1\n");
    EXPECT_NE(e3.find("node-feat.csv.gz:7: more feature rows than num_nodes = 5"), std::string::npos) << e3;
  }
  {
    // Trailing blank lines are fine; the width comes from the first row.
    const std::string d = tiny_ogb("scantrail", {{"raw/node-feat.csv.gz", "0,1,2\n1,1,2\n0,1,2\n1,1,2\n1,1,2\n\n \n"}});
    const OgbInfo info = describe_ogb(d);
    EXPECT_EQ(info.num_features, 3u);
    EXPECT_EQ(info.feature_rows, 5u);
    EXPECT_EQ(read_ogb_node_dataset(d, light).num_features, 3u);
    EXPECT_EQ(read_ogb_node_dataset(d).features.size(), 15u);
  }
}
