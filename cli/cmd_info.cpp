// flotilla info PATH: what is in a graph file or dataset folder.
#include <cstdio>

#include "cli_util.h"
#include "flotilla/datasets.h"

namespace flotilla::cli {

int cmd_info(int argc, char** argv) {
  cxxopts::Options options("flotilla info", "Describe a graph file, OGB folder, traffic folder or .npy file.");
  options.add_options()
      ("path", "file or folder", cxxopts::value<std::string>())
      ("f,format", "input format: auto, metis, edgelist, binary, bin32, bin64, ogb, traffic, npy",
       cxxopts::value<std::string>()->default_value("auto"))
      ("json", "print one JSON object instead of text")
      ("keep-ids", "edge lists: keep node ids as they are (n = max id + 1) instead of compacting them")
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
  const bool json = args->count("json") > 0;

  try {
    if (sopts.format == GraphFormat::Auto) sopts.format = detect_graph_format(path);
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
