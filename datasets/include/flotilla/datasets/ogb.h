// OGB "raw" node-property dataset folders (ogbn-arxiv, ogbn-products, ... and the
// Planetoid/MUSAE copies under ../shared/data/nodeclass):
//
//   raw/num-node-list.csv[.gz]   one integer: n
//   raw/num-edge-list.csv[.gz]   one integer: m (lines of raw/edge.csv)
//   raw/edge.csv[.gz]            "src,dst" per line, 0-based (read by open_edge_stream)
//   raw/node-feat.csv[.gz]       n lines of d comma-separated floats (optional)
//   raw/node-label.csv[.gz]      n lines, one integer class per line; -1, an empty line or
//                                "nan" mean unlabeled (OGB writes NaN for unlabeled nodes of
//                                ogbn-papers100M); "3.0" is read as 3
//   split/<name>/{train,valid,test}.csv[.gz]   node ids, one per line
//
// Every file may be gzipped or not (detected from its bytes). Errors are InputErrors naming
// the file and line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

struct OgbSplit {
  std::string name;  // folder under split/, empty when the dataset has no split/ folder
  std::vector<VertexId> train, valid, test;
};

struct OgbNodeDataset {
  std::string dir;
  std::uint64_t num_nodes = 0;
  std::uint64_t num_edges = 0;        // raw/num-edge-list (checked against raw/edge.csv lines)
  std::uint64_t num_features = 0;     // 0 when raw/node-feat.csv is absent
  std::vector<float> features;        // num_nodes x num_features, row-major
  std::vector<std::int64_t> labels;   // one per node, -1 = unlabeled
  std::int64_t num_classes = 0;       // max label + 1
  std::uint64_t num_labeled = 0;
  OgbSplit split;

  const float* feature_row(VertexId v) const { return features.data() + static_cast<std::size_t>(v) * num_features; }
};

struct OgbReadOptions {
  // Split folder under split/. Empty: the only one there is (several: an error listing them;
  // no split/ folder: an empty split).
  std::string split;
  bool load_features = true;      // false: features left empty, num_features still set
  bool check_edge_count = true;   // count raw/edge.csv lines against raw/num-edge-list
};

// Reads counts, features, labels and one split; validates them:
//  - features and labels have exactly num_nodes lines; every feature row has the width of
//    the first; features are finite (NaN/inf is an error at file:line)
//  - labels are -1/empty/nan (unlabeled) or 0 <= label < 2^31
//  - split ids are < num_nodes, no id twice within a set, the three sets are disjoint
//  - raw/edge.csv has num_edges lines (when check_edge_count)
OgbNodeDataset read_ogb_node_dataset(const std::string& dir, const std::string& split_name = "");
OgbNodeDataset read_ogb_node_dataset(const std::string& dir, const OgbReadOptions& opts);

// Names of the folders under DIR/split (sorted); empty when there is no split/ folder.
std::vector<std::string> list_ogb_splits(const std::string& dir);

struct OgbSplitInfo {
  std::string name;
  std::uint64_t train = 0, valid = 0, test = 0;  // lines in each file (0 when missing)
};
struct OgbInfo {
  std::uint64_t num_nodes = 0, num_edges = 0;
  std::uint64_t num_features = 0;   // width of the first feature row
  std::uint64_t feature_rows = 0;   // lines in node-feat
  std::int64_t num_classes = 0;
  std::uint64_t num_labeled = 0;
  std::uint64_t label_rows = 0;
  std::vector<OgbSplitInfo> splits;
};
// Light summary for `flotilla info`: counts lines instead of holding the features. Labels
// are parsed (validated as by read_ogb_node_dataset); split files are only counted.
OgbInfo describe_ogb(const std::string& dir);

}  // namespace flotilla
