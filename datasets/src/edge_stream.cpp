// Format dispatch and detection for EdgeStream.
#include "flotilla/datasets/edge_stream.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "flotilla/datasets/error.h"
#include "streams.h"

namespace flotilla {

const char* format_name(GraphFormat f) {
  switch (f) {
    case GraphFormat::Auto: return "auto";
    case GraphFormat::Metis: return "metis";
    case GraphFormat::EdgeList: return "edgelist";
    case GraphFormat::Binary: return "binary";
    case GraphFormat::RawBin32: return "bin32";
    case GraphFormat::RawBin64: return "bin64";
    case GraphFormat::Ogb: return "ogb";
    case GraphFormat::Traffic: return "traffic";
    case GraphFormat::Npy: return "npy";
  }
  return "?";
}

GraphFormat parse_format_name(const std::string& name) {
  for (GraphFormat f : {GraphFormat::Auto, GraphFormat::Metis, GraphFormat::EdgeList, GraphFormat::Binary,
                        GraphFormat::RawBin32, GraphFormat::RawBin64, GraphFormat::Ogb,
                        GraphFormat::Traffic, GraphFormat::Npy})
    if (name == format_name(f)) return f;
  if (name == "snap" || name == "txt") return GraphFormat::EdgeList;
  throw std::invalid_argument("unknown graph format '" + name +
                              "' (expected auto, metis, edgelist, binary, bin32, bin64, ogb, traffic, npy)");
}

namespace {
bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}
bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

GraphFormat detect_graph_format(const std::string& path) {
  if (!exists(path)) throw_file(path, "no such file or directory");
  if (is_dir(path)) {
    if (exists(path + "/raw/edge.csv.gz") || exists(path + "/raw/edge.csv")) return GraphFormat::Ogb;
    for (const char* f : {"/adj.csv", "/adj.csv.gz", "/distances.csv", "/distances.csv.gz"})
      if (exists(path + f)) return GraphFormat::Traffic;
    throw_file(path, "folder is neither an OGB raw dataset (raw/edge.csv[.gz]) nor a traffic "
                     "folder (adj.csv or distances.csv); pass --format");
  }
  {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw_file(path, "is not a regular file (pipes and devices are not supported: readers make several passes)");
  }
  char magic[8] = {0};
  {
    std::ifstream in(path, std::ios::binary);
    in.read(magic, sizeof magic);
  }
  if (std::memcmp(magic, "FLOTEDGE", 8) == 0) return GraphFormat::Binary;
  if (std::memcmp(magic, "\x93NUMPY", 6) == 0) return GraphFormat::Npy;
  std::string p = path;
  if (ends_with(p, ".gz")) {
    p.resize(p.size() - 3);
    if (ends_with(p, ".bin32") || ends_with(p, ".bin64") || ends_with(p, ".bin") || ends_with(p, ".npy"))
      throw_file(path, "compressed binary files are not read directly; decompress first (gunzip)");
  }
  if (ends_with(p, ".graph") || ends_with(p, ".metis")) return GraphFormat::Metis;
  if (ends_with(p, ".bin32")) return GraphFormat::RawBin32;
  if (ends_with(p, ".bin64")) return GraphFormat::RawBin64;
  for (const char* ext : {".txt", ".el", ".edges", ".edgelist", ".tsv", ".csv", ".snap"})
    if (ends_with(p, ext)) return GraphFormat::EdgeList;
  throw_file(path, "cannot tell the graph format from the name or contents; pass --format "
                   "(metis, edgelist, binary, bin32, bin64, ogb, traffic, npy)");
}

std::unique_ptr<EdgeStream> open_edge_stream(const std::string& path, const EdgeStreamOptions& opts) {
  const GraphFormat f = opts.format == GraphFormat::Auto ? detect_graph_format(path) : opts.format;
  switch (f) {
    case GraphFormat::Metis: return detail::open_metis_stream(path, opts.symmetrize);
    case GraphFormat::EdgeList: return detail::open_edgelist_stream(path, opts.keep_ids);
    case GraphFormat::Binary:
    case GraphFormat::RawBin32:
    case GraphFormat::RawBin64: return detail::open_binary_stream(path, f);
    case GraphFormat::Ogb: return detail::open_ogb_stream(path);
    case GraphFormat::Npy: return detail::open_npy_stream(path);
    case GraphFormat::Traffic: return detail::open_traffic_stream(path);
    case GraphFormat::Auto: break;
  }
  throw_file(path, "unsupported graph format");
}

}  // namespace flotilla
