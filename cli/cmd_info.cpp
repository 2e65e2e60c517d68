// flotilla info PATH: what is in a graph file or dataset folder. For an OGB folder it adds
// features, classes and splits; for a traffic folder the signal's shape and time range; a
// .npy that is not an integer [m, 2] / [2, m] edge array is described by dtype and shape only.
// A shard folder (`flotilla partition`'s output) is checked from the shard headers: every
// file from one partition run (check_shard_set), then its parts are listed.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "cli_util.h"
#include "flotilla/datasets.h"
#include "flotilla/partition/shard.h"

namespace flotilla::cli {

namespace {

bool is_edge_array(const NpyHeader& h) {
  return npy_is_integer(h.type) && h.shape.size() == 2 && (h.shape[1] == 2 || h.shape[0] == 2);
}

// A .npy without a graph in it: dtype and shape.
int describe_plain_npy(const std::string& path, const NpyHeader& h, bool json) {
  if (json) {
    JsonWriter w;
    w.begin_object().field("path", path).field("format", "npy").field("graph", false).field("dtype", h.dtype);
    w.key("shape").begin_array();
    for (std::uint64_t d : h.shape) w.value(d);
    w.end_array().field("elements", h.num_elements()).field("bytes", h.data_bytes()).end_object();
    std::printf("%s\n", w.str().c_str());
  } else {
    std::printf("path        %s\n", path.c_str());
    std::printf("format      npy %d.0 (not an [m, 2] / [2, m] integer edge array: no graph)\n", h.major_version);
    std::printf("dtype       %s\n", h.dtype.c_str());
    std::printf("shape       %s  (%llu elements, %s)\n", npy_shape_string(h.shape).c_str(),
                static_cast<unsigned long long>(h.num_elements()),
                human_bytes(static_cast<double>(h.data_bytes())).c_str());
  }
  return kExitOk;
}

// A partition folder with shards: the headers only (no payload is read).
int describe_shards(const std::string& dir, bool json) {
  const ShardSetCheck set = check_shard_set(dir);
  std::vector<ShardHeader> parts;
  for (std::uint32_t p = 0; p < set.num_parts; ++p)
    parts.push_back(read_shard_header(dir + "/part-" + std::to_string(p) + ".shard"));
  const ShardHeader& h0 = parts.front();
  std::uint64_t arcs = 0;
  for (const ShardHeader& h : parts) arcs += h.num_arcs;
  if (json) {
    JsonWriter w;
    w.begin_object().field("path", dir).field("format", "shards")
        .field("shard_format_version", static_cast<std::uint64_t>(set.version))
        .field("run_id", format_run_id(set.run_id))
        .field("num_parts", static_cast<std::uint64_t>(set.num_parts))
        .field("num_nodes", set.num_nodes)
        .field("num_edges", arcs / 2)
        .field("num_features", h0.feature_dim)
        .field("labels", (h0.flags & ShardHeader::kLabels) != 0)
        .field("split", (h0.flags & ShardHeader::kSplit) != 0)
        .field("weighted", (h0.flags & ShardHeader::kWeights) != 0);
    w.key("parts").begin_array();
    for (const ShardHeader& h : parts)
      w.begin_object().field("part", static_cast<std::uint64_t>(h.part)).field("nodes", h.owned())
          .field("arcs", h.num_arcs).field("halo", h.num_halo).end_object();
    w.end_array().end_object();
    std::printf("%s\n", w.str().c_str());
    return kExitOk;
  }
  std::printf("path        %s\n", dir.c_str());
  std::printf("format      shards, format version %u (%zu files from one partition run: headers checked)\n",
              set.version, set.files.size());
  std::printf("run id      %s%s\n", format_run_id(set.run_id).c_str(),
              set.run_id ? "" : " (format version 1 or 2 carries none: re-partition for the full check)");
  std::printf("nodes       %llu in %u parts\n", static_cast<unsigned long long>(set.num_nodes), set.num_parts);
  std::printf("edges       %llu undirected\n", static_cast<unsigned long long>(arcs / 2));
  std::printf("node data   features %llu, labels %s, split %s%s\n", static_cast<unsigned long long>(h0.feature_dim),
              (h0.flags & ShardHeader::kLabels) ? "yes" : "no", (h0.flags & ShardHeader::kSplit) ? "yes" : "no",
              (h0.flags & ShardHeader::kWeights) ? ", edge weights" : "");
  for (const ShardHeader& h : parts)
    std::printf("part %-6u %llu nodes, %llu arcs, %llu halo\n", h.part, static_cast<unsigned long long>(h.owned()),
                static_cast<unsigned long long>(h.num_arcs), static_cast<unsigned long long>(h.num_halo));
  return kExitOk;
}

}  // namespace

int cmd_info(int argc, char** argv) {
  cxxopts::Options options("flotilla info", "Describe a graph file, OGB folder, traffic folder, .npy file or shard folder.");
  options.add_options()
      ("path", "file or folder", cxxopts::value<std::string>())
      ("f,format", "input format: auto, metis, edgelist, binary, bin32, bin64, ogb, traffic, npy",
       cxxopts::value<std::string>()->default_value("auto"))
      ("json", "print one JSON object instead of text")
      ("keep-ids", "edge lists: keep node ids as they are (n = max id + 1) instead of compacting them")
      ("symmetrize", "METIS input: accept an asymmetric adjacency or repeated neighbours (otherwise refused, naming "
                     "the first offending line): every entry is an edge, both directions merged")
      ("no-components", "skip the connected-components count")
      ("h,help", "show this help");
  options.parse_positional({"path"});
  options.positional_help("PATH");
  int code = 0;
  auto args = parse_or_exit(options, argc, argv, &code);
  if (!args) return code;
  if (!args->count("path")) {
    std::fprintf(stderr, "flotilla info: missing PATH (see flotilla info --help)\n");
    return kExitUsage;
  }
  const std::string path = (*args)["path"].as<std::string>();
  EdgeStreamOptions sopts;
  try {
    sopts.format = parse_format_name((*args)["format"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "flotilla info: %s\n", e.what());
    return kExitUsage;
  }
  sopts.keep_ids = args->count("keep-ids") > 0;
  sopts.symmetrize = args->count("symmetrize") > 0;
  const bool json = args->count("json") > 0;

  try {
    if (sopts.format == GraphFormat::Auto && std::filesystem::exists(path + "/part-0.shard"))
      return describe_shards(path, json);
    if (sopts.format == GraphFormat::Auto) sopts.format = detect_graph_format(path);
    std::optional<NpyHeader> npy;
    if (sopts.format == GraphFormat::Npy) {
      npy = read_npy_header(path);
      if (!is_edge_array(*npy)) return describe_plain_npy(path, *npy, json);
    }
    // Dataset summaries first: they validate the folder's other files.
    std::optional<OgbInfo> ogb;
    std::optional<TrafficInfo> traffic;
    if (sopts.format == GraphFormat::Ogb) ogb = describe_ogb(path);
    if (sopts.format == GraphFormat::Traffic) traffic = describe_traffic(path);
    auto stream = open_edge_stream(path, sopts);
    const EdgeStreamInfo sinfo = stream->info();
    ProgressBar bar("reading", 0, "B", !json);
    stream->set_progress([&](std::uint64_t done, std::uint64_t total) {
      bar.set_total(total);
      bar.update(done);
    });
    const CsrGraph g = build_csr(*stream);
    bar.finish();
    const DegreeStats deg = degree_stats(g);
    ComponentStats comps;
    const bool want_components = args->count("no-components") == 0;
    if (want_components) comps = connected_components(g);

    if (json) {
      JsonWriter w;
      w.begin_object()
          .field("path", path)
          .field("format", format_name(sinfo.format))
          .field("num_nodes", static_cast<std::uint64_t>(g.num_nodes()))
          .field("num_edges", static_cast<std::uint64_t>(g.num_undirected_edges()))
          .field("edges_in_file", sinfo.num_edges_hint)
          .field("weighted", sinfo.has_edge_weights);
      w.key("degree").begin_object()
          .field("min", static_cast<std::uint64_t>(deg.min))
          .field("max", static_cast<std::uint64_t>(deg.max))
          .field("mean", deg.mean)
          .field("median", deg.median)
          .field("stddev", deg.stddev)
          .field("isolated", static_cast<std::uint64_t>(deg.isolated))
          .end_object();
      if (want_components)
        w.field("components", static_cast<std::uint64_t>(comps.count))
            .field("largest_component", static_cast<std::uint64_t>(comps.largest));
      if (npy) {
        w.field("dtype", npy->dtype);
        w.key("shape").begin_array();
        for (std::uint64_t d : npy->shape) w.value(d);
        w.end_array();
      }
      if (ogb) {
        w.field("num_features", ogb->num_features)
            .field("num_classes", ogb->num_classes)
            .field("num_labeled", ogb->num_labeled);
        w.key("splits").begin_array();
        for (const auto& sp : ogb->splits)
          w.begin_object().field("name", sp.name).field("train", sp.train).field("valid", sp.valid)
              .field("test", sp.test).end_object();
        w.end_array();
      }
      if (traffic) {
        w.field("num_sensors", traffic->num_sensors)
            .field("num_steps", traffic->num_steps)
            .field("num_features", traffic->num_features)
            .field("signal", traffic->signal_source)
            .field("graph_source", traffic->graph_source)
            .field("graph_entries", traffic->graph_entries)
            .field("graph_self_loops", traffic->graph_self_loops);
        if (traffic->sigma > 0) w.field("sigma", traffic->sigma);
        if (!traffic->first_timestamp.empty())
          w.field("first_timestamp", traffic->first_timestamp).field("last_timestamp", traffic->last_timestamp);
      }
      w.end_object();
      std::printf("%s\n", w.str().c_str());
    } else {
      std::printf("path        %s\n", path.c_str());
      std::printf("format      %s%s\n", format_name(sinfo.format), sinfo.has_edge_weights ? " (edge weights)" : "");
      std::printf("nodes       %u\n", g.num_nodes());
      std::printf("edges       %llu undirected (deduplicated, self-loops dropped; %llu as listed in the file)\n",
                  static_cast<unsigned long long>(g.num_undirected_edges()),
                  static_cast<unsigned long long>(sinfo.num_edges_hint));
      std::printf("degree      min %llu  max %llu  mean %.2f  median %.1f  std %.2f  isolated %u\n",
                  static_cast<unsigned long long>(deg.min), static_cast<unsigned long long>(deg.max), deg.mean,
                  deg.median, deg.stddev, deg.isolated);
      if (want_components)
        std::printf("components  %u (largest %u nodes, %.1f%%)\n", comps.count, comps.largest,
                    g.num_nodes() ? 100.0 * comps.largest / g.num_nodes() : 0.0);
      if (npy)
        std::printf("array       %s %s\n", npy->dtype.c_str(), npy_shape_string(npy->shape).c_str());
      if (ogb) {
        std::printf("features    %llu per node\n", static_cast<unsigned long long>(ogb->num_features));
        std::printf("classes     %lld (%llu of %llu nodes labeled)\n", static_cast<long long>(ogb->num_classes),
                    static_cast<unsigned long long>(ogb->num_labeled), static_cast<unsigned long long>(ogb->num_nodes));
        if (ogb->splits.empty()) std::printf("splits      none (no split/ folder)\n");
        for (const auto& sp : ogb->splits)
          std::printf("split       %s: train %llu, valid %llu, test %llu\n", sp.name.c_str(),
                      static_cast<unsigned long long>(sp.train), static_cast<unsigned long long>(sp.valid),
                      static_cast<unsigned long long>(sp.test));
      }
      if (traffic) {
        std::printf("sensors     %llu\n", static_cast<unsigned long long>(traffic->num_sensors));
        if (traffic->signal_source.empty()) {
          std::printf("signal      none (graph only)\n");
        } else {
          std::printf("signal      %llu steps x %llu sensors x %llu features (%s)\n",
                      static_cast<unsigned long long>(traffic->num_steps),
                      static_cast<unsigned long long>(traffic->num_sensors),
                      static_cast<unsigned long long>(traffic->num_features), traffic->signal_source.c_str());
          if (!traffic->first_timestamp.empty())
            std::printf("time        %s .. %s\n", traffic->first_timestamp.c_str(), traffic->last_timestamp.c_str());
          else
            std::printf("time        no timestamps (%llu steps)\n", static_cast<unsigned long long>(traffic->num_steps));
        }
        std::printf("graph       %llu directed entries (%llu self-loops) from %s",
                    static_cast<unsigned long long>(traffic->graph_entries),
                    static_cast<unsigned long long>(traffic->graph_self_loops), traffic->graph_source.c_str());
        if (traffic->sigma > 0) std::printf(", Gaussian kernel sigma %.1f", traffic->sigma);
        std::printf("\n");
      }
      std::printf("memory      CSR %s, peak RSS %s\n", human_bytes(static_cast<double>(g.memory_bytes())).c_str(),
                  human_bytes(static_cast<double>(peak_rss_bytes())).c_str());
    }
    return kExitOk;
  } catch (const InputError& e) {
    std::fprintf(stderr, "flotilla info: %s\n", e.what());
    return kExitFailure;
  }
}

}  // namespace flotilla::cli
