// flotilla generate {rmat,rgg,sbm,traffic}: synthetic graphs and signals, written in streaming
// fashion and deterministic for a seed (the same bytes whatever --threads).
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "cli_util.h"
#include "flotilla/datasets.h"
#include "flotilla/datasets/durable.h"

namespace flotilla::cli {

namespace {

void generate_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: flotilla generate <generator> [options]   (flotilla generate <generator> --help)\n\n"
               "generators:\n"
               "  rmat     R-MAT / Graph500 Kronecker graph -> Flotilla binary edge list\n"
               "  rgg      random geometric graph (2D/3D, DIMACS10 radius) -> Flotilla binary edge list\n"
               "  sbm      stochastic block model with class-correlated features -> OGB raw folder,\n"
               "           or the graph alone -> Flotilla binary edge list (--features 0 --out X.bin)\n"
               "  traffic  road-like sensor graph + [T, N, F] signal -> traffic folder\n");
}

// Options every generator has: seed, output, threads, quiet, help.
void add_run_options(cxxopts::Options& options, std::uint64_t seed, const std::string& out_help) {
  options.add_options()
      ("seed", "random seed", cxxopts::value<std::uint64_t>()->default_value(std::to_string(seed)))
      ("o,out", out_help, cxxopts::value<std::string>())
      ("threads", "worker threads, >= 1 (default: every core; the output does not depend on it)",
       cxxopts::value<int>())
      ("q,quiet", "no progress bar")
      ("h,help", "show this help");
}

// --threads: every core when not given; a given value must be in [1, 1024] (0 is a value,
// not "unset": it is refused naming the flag).
bool read_threads(const cxxopts::ParseResult& args, const std::string& cmd, int& threads) {
  if (!args.count("threads")) {
    threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return true;
  }
  threads = args["threads"].as<int>();
  if (threads >= 1 && threads <= 1024) return true;
  std::fprintf(stderr, "%s: --threads must be in [1, 1024] (got %d)\n", cmd.c_str(), threads);
  return false;
}

bool require_out(const cxxopts::ParseResult& args, const cxxopts::Options& options) {
  if (args.count("out")) return true;
  std::fprintf(stderr, "%s: missing --out (see %s --help)\n", options.program().c_str(), options.program().c_str());
  return false;
}

void print_summary(const char* what, const std::string& out, std::uint64_t nodes, std::uint64_t edges,
                   std::uint64_t bytes, double seconds) {
  std::printf("wrote     %s -> %s\n", what, out.c_str());
  std::printf("nodes     %llu\n", static_cast<unsigned long long>(nodes));
  std::printf("edges     %llu\n", static_cast<unsigned long long>(edges));
  std::printf("bytes     %llu (%s)\n", static_cast<unsigned long long>(bytes),
              human_bytes(static_cast<double>(bytes)).c_str());
  std::printf("time      %.2f s, %.1f MB/s written, peak RSS %s\n", seconds,
              seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0,
              human_bytes(static_cast<double>(peak_rss_bytes())).c_str());
}

// Runs a generator: bad option values (std::invalid_argument) are usage errors (exit 2),
// anything else that fails is a failed run (exit 1).
template <typename F>
int run_generator(const char* program, F&& body) {
  try {
    body();
    return kExitOk;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: %s\n(see %s --help)\n", program, e.what(), program);
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return kExitFailure;
  }
}

// Every output (a file: rmat, rgg, sbm --features 0; a folder: sbm, traffic) is written as
// OUT.tmp-PID, unique to the run, and renamed: remove the temp files and folders of killed runs
// to the same OUT (exact name, PID not running), as flotilla partition does.
void remove_stale_temps(const char* program, const std::string& out) {
  if (out.empty()) return;  // the generator refuses it
  for (const StaleTemp& st : remove_stale_temp_dirs(normalise_out_dir(out)))
    std::fprintf(stderr, "%s: removed stale temporary folder %s (process %llu is not running)\n", program,
                 st.path.c_str(), static_cast<unsigned long long>(st.pid));
  for (const StaleTemp& st : remove_stale_temp_files(out))
    std::fprintf(stderr, "%s: removed stale temporary file %s (process %llu is not running)\n", program,
                 st.path.c_str(), static_cast<unsigned long long>(st.pid));
}

GenProgressFn bar_progress(ProgressBar& bar) {
  return [&bar](std::uint64_t done, std::uint64_t total) {
    bar.set_total(total);
    bar.update(done);
  };
}

int generate_rmat_cmd(int argc, char** argv) {
  const RmatOptions def;
  cxxopts::Options options("flotilla generate rmat",
                           "R-MAT / Graph500 Kronecker graph: edge_factor * 2^scale edges written as a Flotilla "
                           "binary edge list.\nSelf-loops and duplicate edges are kept, as Graph500 generates them "
                           "(readers drop/merge them).");
  options.add_options()
      ("scale", "2^scale vertices (1..31)", cxxopts::value<int>()->default_value(std::to_string(def.scale)))
      ("edge-factor", "edges per vertex", cxxopts::value<int>()->default_value(std::to_string(def.edge_factor)))
      ("a,prob-a", "quadrant probability a", cxxopts::value<double>()->default_value("0.57"))
      ("b,prob-b", "quadrant probability b", cxxopts::value<double>()->default_value("0.19"))
      ("c,prob-c", "quadrant probability c (d = 1 - a - b - c)", cxxopts::value<double>()->default_value("0.19"))
      ("id-bytes", "id width in the file: 4 or 8", cxxopts::value<std::uint32_t>()->default_value("4"))
      ("no-permute", "keep the Kronecker vertex labels (no random relabelling)");
  add_run_options(options, def.seed, "output file (written atomically)");
  int code = 0;
  auto args = parse_or_exit(options, argc, argv, &code);
  if (!args) return code;
  if (!require_out(*args, options)) return kExitUsage;

  RmatOptions o;
  o.scale = (*args)["scale"].as<int>();
  o.edge_factor = (*args)["edge-factor"].as<int>();
  o.a = (*args)["prob-a"].as<double>();
  o.b = (*args)["prob-b"].as<double>();
  o.c = (*args)["prob-c"].as<double>();
  o.seed = (*args)["seed"].as<std::uint64_t>();
  o.id_bytes = (*args)["id-bytes"].as<std::uint32_t>();
  if (!read_threads(*args, "flotilla generate rmat", o.threads)) return kExitUsage;
  o.permute = args->count("no-permute") == 0;
  const std::string out = (*args)["out"].as<std::string>();
  const bool quiet = args->count("quiet") > 0;
  return run_generator("flotilla generate rmat", [&] {
    remove_stale_temps("flotilla generate rmat", out);
    ProgressBar bar("rmat", 0, "edges", !quiet);
    const RmatResult r = generate_rmat(o, out, bar_progress(bar));
    bar.finish();
    print_summary("rmat graph (Flotilla binary edge list)", out, r.num_nodes, r.num_edges, r.bytes, r.seconds);
  });
}

int generate_rgg_cmd(int argc, char** argv) {
  const RggOptions def;
  cxxopts::Options options("flotilla generate rgg",
                           "Random geometric graph: 2^scale points uniform in the unit square (--dim 2) or cube "
                           "(--dim 3),\nan edge between two points at distance < r = 0.55 * (ln n / n)^(1/dim) "
                           "(DIMACS10 / KaGen), each edge\nlisted once, written as a Flotilla binary edge list. "
                           "Vertex ids follow grid-cell order (spatially local)\nunless --permute. Memory is a "
                           "few rows of grid cells per thread, whatever the edge count.");
  options.add_options()
      ("dim", "2 (unit square) or 3 (unit cube)", cxxopts::value<int>()->default_value(std::to_string(def.dim)))
      ("scale", "2^scale points (1..31)", cxxopts::value<int>()->default_value(std::to_string(def.scale)))
      ("permute", "relabel the vertices by a seeded random permutation (default: grid-cell order)")
      ("id-bytes", "id width in the file: 4 or 8", cxxopts::value<std::uint32_t>()->default_value("4"));
  add_run_options(options, def.seed, "output file (written atomically)");
  int code = 0;
  auto args = parse_or_exit(options, argc, argv, &code);
  if (!args) return code;
  if (!require_out(*args, options)) return kExitUsage;

  RggOptions o;
  o.dim = (*args)["dim"].as<int>();
  o.scale = (*args)["scale"].as<int>();
  o.permute = args->count("permute") > 0;
  o.seed = (*args)["seed"].as<std::uint64_t>();
  o.id_bytes = (*args)["id-bytes"].as<std::uint32_t>();
  if (!read_threads(*args, "flotilla generate rgg", o.threads)) return kExitUsage;
  const std::string out = (*args)["out"].as<std::string>();
  const bool quiet = args->count("quiet") > 0;
  return run_generator("flotilla generate rgg", [&] {
    remove_stale_temps("flotilla generate rgg", out);
    ProgressBar bar("rgg", 0, "points", !quiet);
    const RggResult r = generate_rgg(o, out, bar_progress(bar));
    bar.finish();
    print_summary("rgg graph (Flotilla binary edge list)", out, r.num_nodes, r.num_edges, r.bytes, r.seconds);
    std::printf("radius    %.6g (%llu cells per dimension)\n", r.radius, static_cast<unsigned long long>(r.cells_per_dim));
  });
}

bool ends_with(const std::string& s, const char* suffix) {
  const std::size_t k = std::strlen(suffix);
  return s.size() >= k && s.compare(s.size() - k, k, suffix) == 0;
}

int generate_sbm_cmd(int argc, char** argv) {
  const SbmOptions def;
  cxxopts::Options options("flotilla generate sbm",
                           "Stochastic block model graph with class-correlated Gaussian features, written as an OGB "
                           "raw folder:\nOUT/raw/{edge,node-feat,node-label,num-node-list,num-edge-list}.csv.gz and "
                           "OUT/split/random/{train,valid,test}.csv.gz (no node-feat with --features 0).\n"
                           "With --features 0 and an --out ending in .bin: the graph alone (the same edges as the "
                           "folder's),\nas a Flotilla binary edge list, streamed in memory O(nodes) "
                           "(5 bytes per node), whatever the edge count.");
  options.add_options()
      ("nodes", "number of nodes", cxxopts::value<std::uint64_t>()->default_value(std::to_string(def.num_nodes)))
      ("classes", "number of classes (one block each)",
       cxxopts::value<int>()->default_value(std::to_string(def.num_classes)))
      ("avg-degree", "expected undirected degree", cxxopts::value<double>()->default_value("20"))
      ("intra", "fraction of edges inside a node's own block", cxxopts::value<double>()->default_value("0.8"))
      ("features", "features per node (0: none)", cxxopts::value<int>()->default_value(std::to_string(def.num_features)))
      ("separation", "class-mean spread relative to unit feature noise",
       cxxopts::value<double>()->default_value("1.0"))
      ("train", "train fraction", cxxopts::value<double>()->default_value("0.6"))
      ("valid", "validation fraction (test = the rest)", cxxopts::value<double>()->default_value("0.2"));
  add_run_options(options, def.seed,
                  "output folder (must not exist or be empty; written atomically), or X.bin with --features 0");
  int code = 0;
  auto args = parse_or_exit(options, argc, argv, &code);
  if (!args) return code;
  if (!require_out(*args, options)) return kExitUsage;

  SbmOptions o;
  o.num_nodes = (*args)["nodes"].as<std::uint64_t>();
  o.num_classes = (*args)["classes"].as<int>();
  o.avg_degree = (*args)["avg-degree"].as<double>();
  o.intra_fraction = (*args)["intra"].as<double>();
  o.num_features = (*args)["features"].as<int>();
  o.feature_separation = (*args)["separation"].as<double>();
  o.train_fraction = (*args)["train"].as<double>();
  o.valid_fraction = (*args)["valid"].as<double>();
  o.seed = (*args)["seed"].as<std::uint64_t>();
  if (!read_threads(*args, "flotilla generate sbm", o.threads)) return kExitUsage;
  const std::string out = (*args)["out"].as<std::string>();
  const bool quiet = args->count("quiet") > 0;
  if (ends_with(out, ".bin")) {
    if (o.num_features != 0) {
      std::fprintf(stderr,
                   "flotilla generate sbm: an --out ending in .bin holds the graph only: add --features 0 "
                   "(features, labels and the split need an output folder)\n(see flotilla generate sbm --help)\n");
      return kExitUsage;
    }
    return run_generator("flotilla generate sbm", [&] {
      remove_stale_temps("flotilla generate sbm", out);
      ProgressBar bar("sbm", 0, "nodes", !quiet);
      const SbmResult r = generate_sbm_graph(o, out, bar_progress(bar));
      bar.finish();
      print_summary("sbm graph (Flotilla binary edge list)", out, r.num_nodes, r.num_edges, r.bytes, r.seconds);
    });
  }
  return run_generator("flotilla generate sbm", [&] {
    remove_stale_temps("flotilla generate sbm", out);
    ProgressBar bar("sbm", 0, "nodes", !quiet);
    const SbmResult r = generate_sbm(o, out, bar_progress(bar));
    bar.finish();
    print_summary("sbm graph (OGB raw folder)", out, r.num_nodes, r.num_edges, r.bytes, r.seconds);
  });
}

int generate_traffic_cmd(int argc, char** argv) {
  const TrafficGenOptions def;
  cxxopts::Options options("flotilla generate traffic",
                           "Synthetic traffic folder: a road-like sensor graph and a [T, N, F] float32 signal:\n"
                           "OUT/signal.npy, OUT/distances.csv (from,to,distance), "
                           "OUT/sensors.csv (index,sensor_id,latitude,longitude).");
  options.add_options()
      ("sensors", "number of sensors (graph nodes)",
       cxxopts::value<std::uint64_t>()->default_value(std::to_string(def.num_sensors)))
      ("steps", "number of 5-minute time steps",
       cxxopts::value<std::uint64_t>()->default_value(std::to_string(def.num_steps)))
      ("features", "channels per step (0: speed, 1: time of day)",
       cxxopts::value<int>()->default_value(std::to_string(def.num_features)));
  add_run_options(options, def.seed, "output folder");
  int code = 0;
  auto args = parse_or_exit(options, argc, argv, &code);
  if (!args) return code;
  if (!require_out(*args, options)) return kExitUsage;

  TrafficGenOptions o;
  o.num_sensors = (*args)["sensors"].as<std::uint64_t>();
  o.num_steps = (*args)["steps"].as<std::uint64_t>();
  o.num_features = (*args)["features"].as<int>();
  o.seed = (*args)["seed"].as<std::uint64_t>();
  if (!read_threads(*args, "flotilla generate traffic", o.threads)) return kExitUsage;
  const std::string out = (*args)["out"].as<std::string>();
  const bool quiet = args->count("quiet") > 0;
  return run_generator("flotilla generate traffic", [&] {
    remove_stale_temps("flotilla generate traffic", out);
    ProgressBar bar("traffic", 0, "steps", !quiet);
    const TrafficGenResult r = generate_traffic(o, out, bar_progress(bar));
    bar.finish();
    print_summary("traffic folder", out, r.num_sensors, r.num_edges, r.bytes, r.seconds);
    std::printf("steps     %llu\n", static_cast<unsigned long long>(r.num_steps));
  });
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  if (argc < 2) {
    generate_usage(stderr);
    return kExitUsage;
  }
  const char* which = argv[1];
  if (!std::strcmp(which, "-h") || !std::strcmp(which, "--help") || !std::strcmp(which, "help")) {
    generate_usage(stdout);
    return kExitOk;
  }
  if (!std::strcmp(which, "rmat")) return generate_rmat_cmd(argc - 1, argv + 1);
  if (!std::strcmp(which, "rgg")) return generate_rgg_cmd(argc - 1, argv + 1);
  if (!std::strcmp(which, "sbm")) return generate_sbm_cmd(argc - 1, argv + 1);
  if (!std::strcmp(which, "traffic")) return generate_traffic_cmd(argc - 1, argv + 1);
  std::fprintf(stderr, "flotilla generate: unknown generator '%s'\n", which);
  generate_usage(stderr);
  return kExitUsage;
}

}  // namespace flotilla::cli
