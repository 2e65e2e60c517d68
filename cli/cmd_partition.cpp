// flotilla partition: streaming GREM (default) and baselines; writes DIR/partition.json,
// DIR/<name>.part.<K> and the shards atomically and durably (DIR.tmp-PID, every file
// fsynced, renamed, parent fsynced). --evaluate scores an existing assignment.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <thread>
#include <zlib.h>

#include "cli_util.h"
#include "flotilla/datasets.h"
#include "flotilla/datasets/line_reader.h"
#include "flotilla/datasets/ogb.h"
#include "flotilla/partition.h"

namespace flotilla::cli {
namespace {

std::string base_name(const std::string& path) {
  std::filesystem::path p(path);
  if (p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  for (const char* ext : {".gz", ".graph", ".metis", ".txt", ".el", ".edges", ".csv", ".tsv", ".bin", ".bin32", ".bin64", ".npy"}) {
    const std::string e(ext);
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) name.resize(name.size() - e.size());
  }
  return name.empty() ? "graph" : name;
}

// CRC-32 (zlib) of a whole file, for the checksums in partition.json.
std::uint64_t file_crc32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(std::size_t{1} << 20);
  uLong c = crc32(0L, Z_NULL, 0);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = in.gcount();
    if (got > 0) c = crc32(c, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(got));
  }
  return c;
}

// METIS header fmt digits: hundreds = vertex sizes, tens = vertex weights. True when the
// file declares either (no algorithm uses them).
bool metis_has_vertex_weights(const std::string& path) {
  LineReader r(path);
  std::string_view line;
  while (r.next(line)) {
    std::vector<std::string> fields;
    std::string cur;
    for (char ch : line) {
      if (ch == ' ' || ch == '\t') {
        if (!cur.empty()) fields.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(ch);
      }
    }
    if (!cur.empty()) fields.push_back(cur);
    if (fields.empty() || fields[0][0] == '%') continue;  // blank or comment
    if (fields.size() < 3) return false;
    const std::string& fmt = fields[2];
    const std::size_t len = fmt.size();
    return (len >= 2 && fmt[len - 2] == '1') || (len >= 3 && fmt[len - 3] == '1');
  }
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& x : items) out += (out.empty() ? "" : ", ") + x;
  return out;
}

void quality_json(JsonWriter& w, const PartitionQuality& q) {
  w.field("num_parts", static_cast<std::uint64_t>(q.num_parts))
      .field("num_nodes", q.num_nodes)
      .field("num_edges", q.num_edges)
      .field("edge_cut", q.edge_cut)
      .field("cut_fraction", q.num_edges ? static_cast<double>(q.edge_cut) / static_cast<double>(q.num_edges) : 0.0)
      .field("imbalance", q.imbalance);
  w.key("part_sizes").begin_array();
  for (auto s : q.part_sizes) w.value(s);
  w.end_array();
  w.key("halo_sizes").begin_array();
  for (auto s : q.halo_sizes) w.value(s);
  w.end_array();
}

void print_summary(const std::string& what, const PartitionQuality& q, double seconds, std::uint64_t rss,
                   std::uint64_t cap) {
  std::uint64_t lo = q.part_sizes.empty() ? 0 : q.part_sizes[0], hi = lo;
  for (auto s : q.part_sizes) { lo = std::min(lo, s); hi = std::max(hi, s); }
  std::printf("\n%s\n", what.c_str());
  std::printf("  %-14s %llu nodes, %llu edges\n", "graph", static_cast<unsigned long long>(q.num_nodes),
              static_cast<unsigned long long>(q.num_edges));
  std::printf("  %-14s %u\n", "parts", q.num_parts);
  std::printf("  %-14s %llu (%.2f%% of edges)\n", "edge cut", static_cast<unsigned long long>(q.edge_cut),
              q.num_edges ? 100.0 * static_cast<double>(q.edge_cut) / static_cast<double>(q.num_edges) : 0.0);
  std::printf("  %-14s %.4f (part sizes %llu..%llu", "imbalance", q.imbalance, static_cast<unsigned long long>(lo),
              static_cast<unsigned long long>(hi));
  if (cap) std::printf(", bound %llu", static_cast<unsigned long long>(cap));
  std::printf(")\n");
  if (seconds > 0) std::printf("  %-14s %.2f s\n", "time", seconds);
  if (rss > 0) std::printf("  %-14s %s\n", "peak RSS", human_bytes(static_cast<double>(rss)).c_str());
}

// The balance constraints of a run, their weights, or why they cannot be set up (a flag
// error). Owns the weights that PartitionConfig::weights points to.
struct BalanceSetup {
  std::string list;
  BalanceWeights weights;
  std::string error;
};

BalanceSetup balance_setup(const cxxopts::ParseResult& args, EdgeStream& stream, const std::string& input,
                           const std::string& imbalance, std::uint32_t k, const std::vector<std::uint8_t>* train) {
  BalanceSetup b;
  b.list = args.count("balance") ? args["balance"].as<std::string>() : (train ? "nodes,edges,train" : "nodes");
  VertexWeights vwgt;
  if (b.list.find("vwgt") != std::string::npos) {
    if (stream.info().format != GraphFormat::Metis) {
      b.error = "--balance vwgt needs a METIS file with vertex weights (fmt 010 or 011); " + input + " is " +
                format_name(stream.info().format);
      return b;
    }
    vwgt = read_metis_vertex_weights(input);
  }
  try {
    const std::vector<BalanceConstraint> cons = parse_balance(b.list, imbalance, vwgt.ncon, 0.03);
    BalanceInputs in;
    in.train = train;
    in.vwgt = &vwgt.w;
    in.vwgt_columns = vwgt.ncon;
    b.weights = compute_balance_weights(stream, cons, k, in, std::size_t{1} << 20);
  } catch (const std::invalid_argument& e) {
    b.error = e.what();
  }
  return b;
}

void balance_json(JsonWriter& w, const std::vector<ConstraintReport>& report) {
  bool all = true;
  w.key("balance").begin_array();
  for (const ConstraintReport& c : report) {
    all &= c.holds;
    w.begin_object()
        .field("constraint", c.name)
        .field("eps", c.eps)
        .field("total", c.total)
        .field("capacity", c.cap)
        .field("imbalance", c.imbalance)
        .field("holds", c.holds);
    w.key("part_weights").begin_array();
    for (auto x : c.part_weights) w.value(x);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.field("balanced", all);
}

void print_balance(const std::vector<ConstraintReport>& report) {
  if (report.size() == 1 && report[0].name == "nodes") return;  // the imbalance line says it
  for (const ConstraintReport& c : report) {
    const std::uint64_t hi = c.part_weights.empty() ? 0 : *std::max_element(c.part_weights.begin(), c.part_weights.end());
    std::printf("  %-14s %.4f (heaviest part %llu, bound %llu, eps %.3g)%s\n", ("balance " + c.name).c_str(), c.imbalance,
                static_cast<unsigned long long>(hi), static_cast<unsigned long long>(c.cap), c.eps,
                c.holds ? "" : "  OVER THE BOUND");
  }
}

}  // namespace

int cmd_partition(int argc, char** argv) {
  cxxopts::Options options("flotilla partition",
                           "Partition a graph into K parts with few cut edges (streaming GREM by default).");
  options.add_options()
      ("i,input", "graph (any format of flotilla info)", cxxopts::value<std::string>())
      ("k,parts", "number of parts K", cxxopts::value<std::uint32_t>())
      ("o,out", "output folder (written atomically)", cxxopts::value<std::string>())
      ("a,algo", "grem, fennel, ldg, hash or metis", cxxopts::value<std::string>()->default_value("grem"))
      ("imbalance", "allowed imbalance eps per constraint: max part <= (1+eps) total/K; one number for every "
                    "constraint or name=eps pairs (nodes=0.03,edges=0.05)", cxxopts::value<std::string>()->default_value("0.03"))
      ("balance", "balance constraints, comma-separated: nodes, edges (degree sum), train (training nodes of the "
                  "split), vwgt (METIS vertex weights, every column; vwgt0, vwgt1.. one); default nodes,edges,train "
                  "for an OGB split written to shards, else nodes", cxxopts::value<std::string>())
      ("passes", "passes over the edge stream, >= 1 (default: grem 3, fennel/ldg 1)", cxxopts::value<int>())
      ("chunk-edges", "edges per chunk, 1 to 2^31 - 1 (default: from --memory-budget)", cxxopts::value<std::size_t>())
      ("memory-budget", "bytes of chunk working memory, >= 1 (default 256 MiB)", cxxopts::value<std::uint64_t>())
      ("seed", "random seed", cxxopts::value<std::uint64_t>()->default_value("1"))
      ("threads", "worker threads for GREM's semi-external engine, >= 1 (default: every core); the same seed "
                  "and thread count give the same output", cxxopts::value<unsigned>())
      ("jet", "GREM (semi-external engine): Jet refinement iterations on the input level, 0 (off) to 100 "
              "(default 4); each costs 2 passes over the graph plus 1-4 rebalancing passes", cxxopts::value<int>())
      ("temp-dir", "folder for GREM's scratch block files when the graph exceeds one chunk (default: next to --out)",
       cxxopts::value<std::string>())
      ("engine", "GREM engine: auto, semi-external, multilevel (chunked) or degree-lp", cxxopts::value<std::string>()->default_value("auto"))
      ("f,format", "input format (auto, metis, edgelist, binary, bin32, bin64, ogb, traffic, npy)",
       cxxopts::value<std::string>()->default_value("auto"))
      ("symmetrize", "METIS input: accept an asymmetric adjacency or repeated neighbours (otherwise refused, naming "
                     "the first offending line): every entry is an edge, both directions merged")
      ("split", "OGB input: the split folder (split/NAME) whose membership goes into the shards; "
                "required when there are several", cxxopts::value<std::string>())
      ("evaluate", "score this assignment (gpmetis .part.K format) instead of partitioning",
       cxxopts::value<std::string>())
      ("no-shards", "write only partition.json and the .part file")
      ("json", "print the result as one JSON object")
      ("q,quiet", "no progress bar")
      ("h,help", "show this help");
  int code = 0;
  auto args = parse_or_exit(options, argc, argv, &code);
  if (!args) return code;
  if (!args->count("input")) {
    std::fprintf(stderr, "flotilla partition: --input is required (see --help)\n");
    return kExitUsage;
  }
  const std::string input = (*args)["input"].as<std::string>();
  const bool json = args->count("json") > 0;
  EdgeStreamOptions sopts;
  sopts.symmetrize = args->count("symmetrize") > 0;
  PartitionConfig cfg;
  try {
    sopts.format = parse_format_name((*args)["format"].as<std::string>());
    cfg.algo = parse_algo_name((*args)["algo"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "flotilla partition: %s\n", e.what());
    return kExitUsage;
  }
  const std::string imbalance_spec = (*args)["imbalance"].as<std::string>();
  if (imbalance_spec.find('=') == std::string::npos) {
    try {
      std::size_t used = 0;
      cfg.imbalance = std::stod(imbalance_spec, &used);
      if (used != imbalance_spec.size()) cfg.imbalance = -1;
    } catch (const std::exception&) {
      cfg.imbalance = -1;
    }
  }
  // Given as 0 is 0, not "the default": refused naming the flag (the defaults apply only
  // where a flag is not given).
  if (args->count("passes")) {
    cfg.passes = (*args)["passes"].as<int>();
    if (cfg.passes < 1) {
      std::fprintf(stderr, "flotilla partition: --passes must be in [1, 1000] (got %d)\n", cfg.passes);
      return kExitUsage;
    }
  }
  if (args->count("chunk-edges")) {
    cfg.chunk_edges = (*args)["chunk-edges"].as<std::size_t>();
    if (cfg.chunk_edges < 1) {
      std::fprintf(stderr, "flotilla partition: --chunk-edges must be in [1, 2^31 - 1] (got 0)\n");
      return kExitUsage;
    }
  }
  if (args->count("memory-budget")) {
    cfg.memory_budget = (*args)["memory-budget"].as<std::uint64_t>();
    if (cfg.memory_budget < 1) {
      std::fprintf(stderr, "flotilla partition: --memory-budget must be at least 1 byte (got 0)\n");
      return kExitUsage;
    }
  }
  cfg.seed = (*args)["seed"].as<std::uint64_t>();
  {
    const std::string e = (*args)["engine"].as<std::string>();
    using E = PartitionConfig::GremEngine;
    if (e == "auto") cfg.grem_engine = E::Auto;
    else if (e == "semi-external") cfg.grem_engine = E::SemiExternal;
    else if (e == "multilevel") cfg.grem_engine = E::Multilevel;
    else if (e == "degree-lp") cfg.grem_engine = E::DegreeLp;
    else {
      std::fprintf(stderr, "flotilla partition: --engine must be auto, semi-external, multilevel or degree-lp (got '%s')\n", e.c_str());
      return kExitUsage;
    }
  }
  if (args->count("threads")) {
    cfg.threads = (*args)["threads"].as<unsigned>();
    if (cfg.threads < 1 || cfg.threads > 1024) {
      std::fprintf(stderr, "flotilla partition: --threads must be in [1, 1024] (got %u)\n", cfg.threads);
      return kExitUsage;
    }
  } else {
    cfg.threads = std::max(1u, std::thread::hardware_concurrency());
  }
  if (args->count("jet")) {
    cfg.jet_iterations = (*args)["jet"].as<int>();
    if (cfg.jet_iterations < 0 || cfg.jet_iterations > 100) {
      std::fprintf(stderr, "flotilla partition: --jet must be in [0, 100] (got %d)\n", cfg.jet_iterations);
      return kExitUsage;
    }
  }
  if (args->count("temp-dir")) cfg.temp_dir = (*args)["temp-dir"].as<std::string>();
  if (!(cfg.imbalance >= 0) || cfg.imbalance > 10 || cfg.passes < 0 || cfg.passes > 1000) {
    std::fprintf(stderr, "flotilla partition: --imbalance must be in [0, 10] (or name=eps pairs) and --passes in [0, 1000]\n");
    return kExitUsage;
  }
  if (cfg.chunk_edges > kMaxChunkEdges) {
    std::fprintf(stderr, "flotilla partition: --chunk-edges must be below 2^31 = 2147483648 (got %llu)\n",
                 static_cast<unsigned long long>(cfg.chunk_edges));
    return kExitUsage;
  }
  const std::string split_name = args->count("split") ? (*args)["split"].as<std::string>() : std::string();
  if (args->count("split") && split_name.empty()) {
    std::fprintf(stderr, "flotilla partition: --split needs a folder name\n");
    return kExitUsage;
  }

  try {
    // The output folder first: an unwritable or occupied destination fails before the input
    // is read (opening an edge list or .npy already scans the whole file). --evaluate writes
    // nothing.
    const bool evaluate = args->count("evaluate") > 0;
    std::string out, tmp;
    std::optional<TempPathGuard> guard;  // an interrupted or failed run leaves no temp folder behind
    if (!evaluate) {
      if (!args->count("parts") || !args->count("out")) {
        std::fprintf(stderr, "flotilla partition: --parts and --out are required (see --help)\n");
        return kExitUsage;
      }
      cfg.num_parts = (*args)["parts"].as<std::uint32_t>();
      if (cfg.num_parts == 0 || cfg.num_parts > 65535) {
        std::fprintf(stderr, "flotilla partition: --parts must be between 1 and 65535\n");
        return kExitUsage;
      }
      out = normalise_out_dir((*args)["out"].as<std::string>());
      // Temp folders of killed runs to the same DIR (exact name DIR.tmp-PID, PID not running).
      for (const StaleTemp& st : remove_stale_temp_dirs(out))
        std::fprintf(stderr, "flotilla partition: removed stale temporary folder %s (process %llu is not running)\n",
                     st.path.c_str(), static_cast<unsigned long long>(st.pid));
      std::error_code ec;
      if (std::filesystem::exists(out, ec) && !std::filesystem::is_empty(out, ec)) {
        std::fprintf(stderr, "flotilla partition: output folder %s exists and is not empty\n", out.c_str());
        return kExitFailure;
      }
      tmp = out + ".tmp-" + std::to_string(::getpid());
      std::filesystem::create_directories(tmp, ec);
      if (ec) {
        std::fprintf(stderr, "flotilla partition: cannot create %s: %s\n", tmp.c_str(), ec.message().c_str());
        return kExitFailure;
      }
      guard.emplace(tmp);
      if (cfg.temp_dir.empty()) cfg.temp_dir = tmp;  // scratch files are unlinked at once; the folder only hosts them
    }

    auto stream = open_edge_stream(input, sopts);
    const std::uint64_t n = stream->info().num_nodes;
    const bool ogb = stream->info().format == GraphFormat::Ogb;
    if (!split_name.empty() && !ogb) {
      std::fprintf(stderr, "flotilla partition: --split applies only to OGB folders (input format: %s)\n",
                   format_name(stream->info().format));
      return kExitUsage;
    }

    if (evaluate) {
      const std::string pf = (*args)["evaluate"].as<std::string>();
      std::uint32_t k = args->count("parts") ? (*args)["parts"].as<std::uint32_t>() : 0;
      if (k > 65535) {
        std::fprintf(stderr, "flotilla partition: --parts must be between 1 and 65535\n");
        return kExitUsage;
      }
      const auto part = read_part_file(pf, n, &k);
      if (k > 65535) throw_file(pf, "part ids go up to " + std::to_string(k - 1) + "; at most 65535 parts are supported");
      const PartitionQuality q = evaluate_partition(*stream, part, k);
      std::vector<ConstraintReport> report;
      if (args->count("balance")) {
        const BalanceSetup b = balance_setup(*args, *stream, input, imbalance_spec, k, nullptr);
        if (!b.error.empty()) {
          std::fprintf(stderr, "flotilla partition: %s\n", b.error.c_str());
          return kExitUsage;
        }
        report = balance_report(b.weights, part, k);
      }
      if (json) {
        JsonWriter w;
        w.begin_object().field("input", input).field("assignment", pf);
        quality_json(w, q);
        if (!report.empty()) balance_json(w, report);
        w.end_object();
        std::printf("%s\n", w.str().c_str());
      } else {
        print_summary("assignment " + pf, q, 0, 0, 0);
        print_balance(report);
      }
      return kExitOk;
    }

    // Weights the algorithms do not use (docs/partitioning.md, "Weights").
    const std::string balance_list = args->count("balance") ? (*args)["balance"].as<std::string>() : std::string();
    if (stream->info().format == GraphFormat::Metis && balance_list.find("vwgt") == std::string::npos &&
        metis_has_vertex_weights(input))
      std::fprintf(stderr, "flotilla partition: note: %s has vertex weights or sizes; they count only with --balance "
                   "vwgt (METIS's ncon constraints)\n", input.c_str());
    if (stream->info().has_edge_weights && cfg.algo != PartitionAlgo::Metis)
      std::fprintf(stderr, "flotilla partition: note: %s ignores edge weights (only --algo metis uses them)\n",
                   algo_name(cfg.algo));

    // Node data for the shards (OGB), loaded before partitioning so that a bad folder fails
    // before the long part of the run.
    const bool shards = args->count("no-shards") == 0;
    // The split is read for the shards, and for --balance train also without them.
    const bool need_split = shards || balance_list.find("train") != std::string::npos;
    ShardNodeData nd;
    std::string used_split;  // the OGB split folder in the shards
    if (ogb) {
      const std::vector<std::string> splits = list_ogb_splits(input);
      if (!split_name.empty() && std::find(splits.begin(), splits.end(), split_name) == splits.end()) {
        std::fprintf(stderr, "flotilla partition: %s has no split '%s' (%s)\n", input.c_str(), split_name.c_str(),
                     splits.empty() ? "it has no split/ folder" : ("available: " + join(splits)).c_str());
        return kExitFailure;
      }
      if (need_split && split_name.empty() && splits.size() > 1) {
        std::fprintf(stderr, "flotilla partition: %s has several splits (%s); choose one with --split NAME\n",
                     input.c_str(), join(splits).c_str());
        return kExitFailure;
      }
      if (need_split) {
        OgbReadOptions ro;
        ro.split = split_name;
        ro.load_features = false;
        ro.check_edge_count = false;
        OgbNodeDataset ds = read_ogb_node_dataset(input, ro);
        nd.labels = std::move(ds.labels);
        used_split = ds.split.name;
        if (!ds.split.name.empty()) {
          nd.split.assign(n, 0);
          for (VertexId v : ds.split.train) nd.split[v] = 1;
          for (VertexId v : ds.split.valid) nd.split[v] = 2;
          for (VertexId v : ds.split.test) nd.split[v] = 3;
        }
        for (const char* f : {"/raw/node-feat.csv.gz", "/raw/node-feat.csv"})
          if (ds.num_features > 0 && nd.feature_file.empty() && std::filesystem::exists(input + f)) nd.feature_file = input + f;
        nd.feature_dim = ds.num_features;
      }
    }

    // Refusals from the header (METIS's index range, memory) come before the weights pass,
    // which reads the whole input.
    check_partition_inputs(*stream, cfg);
    // Balance constraints and their per-vertex weights (one degree pass for edges).
    std::vector<std::uint8_t> train;
    if (!nd.split.empty()) {
      train.resize(n);
      for (std::uint64_t v = 0; v < n; ++v) train[v] = nd.split[v] == 1;
    }
    const BalanceSetup balance = balance_setup(*args, *stream, input, imbalance_spec, cfg.num_parts,
                                               train.empty() ? nullptr : &train);
    if (!balance.error.empty()) {
      std::fprintf(stderr, "flotilla partition: %s\n", balance.error.c_str());
      return kExitUsage;
    }
    cfg.balance = balance.weights.constraints;
    cfg.weights = &balance.weights;
    if (!balance.weights.nodes_only() && cfg.algo == PartitionAlgo::Grem &&
        (cfg.grem_engine == PartitionConfig::GremEngine::Multilevel || cfg.grem_engine == PartitionConfig::GremEngine::DegreeLp)) {
      std::fprintf(stderr, "flotilla partition: --engine %s balances vertices only; use --engine auto or semi-external "
                   "with --balance %s\n", (*args)["engine"].as<std::string>().c_str(), balance.list.c_str());
      return kExitUsage;
    }

    const bool quiet = args->count("quiet") > 0 || json;
    ProgressBar bar(std::string("partitioning (") + algo_name(cfg.algo) + ")", stream->info().num_edges_hint, "edges", !quiet);
    int shown_pass = 0;
    PartitionStats stats;
    const auto part = partition_graph(*stream, cfg, &stats, [&](std::uint64_t done, std::uint64_t total, int pass) {
      if (pass != shown_pass) { shown_pass = pass; }
      bar.set_total(total);
      bar.update(done);
    });
    bar.finish();
    // Peak RSS of the partitioning itself (scoring an edge list may build a CSR afterwards).
    const std::uint64_t rss = peak_rss_bytes();
    const PartitionQuality q = evaluate_partition(*stream, part, cfg.num_parts);
    const std::vector<ConstraintReport> report = balance_report(balance.weights, part, cfg.num_parts);
    const std::string part_name = base_name(input) + ".part." + std::to_string(cfg.num_parts);
    write_part_file(tmp + "/" + part_name, part);
    ShardWriteStats shard_stats;
    if (shards) {
      if (!quiet) std::fprintf(stderr, "writing %u shards...\n", cfg.num_parts);
      shard_stats = write_shards(*stream, part, cfg.num_parts, nd, tmp,
                                 cfg.memory_budget ? cfg.memory_budget : (std::uint64_t{256} << 20));
    }

    JsonWriter w;
    w.begin_object()
        .field("format", "flotilla-partition")
        .field("format_version", 1)
        .field("input", input)
        .field("input_format", format_name(stream->info().format))
        .field("algorithm", algo_name(cfg.algo));
    w.key("parameters").begin_object()
        .field("parts", static_cast<std::uint64_t>(cfg.num_parts))
        .field("imbalance", cfg.imbalance)
        .field("passes", static_cast<std::int64_t>(stats.passes_done))
        .field("chunk_edges", static_cast<std::uint64_t>(stats.chunk_edges))
        .field("seed", cfg.seed)
        .field("threads", static_cast<std::uint64_t>(cfg.threads));
    if (!used_split.empty()) w.field("split", used_split);
    w.end_object();
    quality_json(w, q);
    balance_json(w, report);
    w.field("capacity", part_capacity(n, cfg.num_parts, cfg.imbalance))
        .field("seconds", stats.seconds)
        .field("peak_rss_bytes", rss)
        .field("chunks", stats.chunks)
        .field("refinement_moves", stats.moves);
    if (cfg.algo == PartitionAlgo::Grem) w.field("grem_engine", stats.engine).field("degree_skew", stats.degree_skew);
    if (stats.levels > 0)
      w.field("levels", static_cast<std::int64_t>(stats.levels))
          .field("coarsest_nodes", stats.coarsest_nodes)
          .field("coarsest_edges", stats.coarsest_edges)
          .field("wide_cluster_levels", static_cast<std::int64_t>(stats.wide_cluster_levels))
          .field("unrefined_levels", static_cast<std::int64_t>(stats.unrefined_levels))
          .field("jet_iterations", static_cast<std::int64_t>(cfg.jet_iterations))
          .field("temp_bytes_peak", stats.temp_bytes_peak)
          .field("scratch_io", stats.scratch_direct ? "direct" : "buffered")
          .field("vertex_state_bytes", stats.vertex_state_bytes)
          .field("memory_budget_bytes", stats.budget_bytes);
    if (stats.levels > 0) {
      // Wall, then CPU (user + system, every thread) seconds of the engine's four phases.
      const double phases[2][4] = {{stats.seconds_input, stats.seconds_coarsen, stats.seconds_initial, stats.seconds_refine},
                                   {stats.cpu_input, stats.cpu_coarsen, stats.cpu_initial, stats.cpu_refine}};
      const char* const phase_keys[2] = {"phase_seconds", "phase_cpu_seconds"};
      for (int i = 0; i < 2; ++i)
        w.key(phase_keys[i]).begin_object()
            .field("input", phases[i][0])
            .field("coarsen", phases[i][1])
            .field("initial", phases[i][2])
            .field("refine", phases[i][3])
            .end_object();
    }
    if (!stats.level_sizes.empty()) {
      w.key("level_sizes").begin_array();
      for (const auto& [nodes, edges] : stats.level_sizes)
        w.begin_object().field("nodes", nodes).field("edges", edges).end_object();
      w.end_array();
    }
    w.field("part_file", part_name);
    w.key("files").begin_object();
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(tmp)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      w.key(name).begin_object()
          .field("bytes", static_cast<std::uint64_t>(std::filesystem::file_size(tmp + "/" + name)))
          .field("crc32", file_crc32(tmp + "/" + name))
          .end_object();
    }
    w.end_object();
    if (shards) {
      w.field("shard_format_version", static_cast<std::uint64_t>(ShardHeader::kVersion));
      w.field("run_id", format_run_id(shard_stats.run_id));  // every shard carries it (check_shard_set)
    }
    w.end_object();
    // Every file in tmp is fsynced (shards and old_to_new.bin by write_shards, the part file
    // by write_part_file, partition.json here); then tmp itself, the rename, and the parent.
    write_file_synced(tmp + "/partition.json", w.str() + "\n");
    publish_dir(tmp, out);
    for (const ConstraintReport& c : report)
      if (!c.holds)
        std::fprintf(stderr, "flotilla partition: warning: constraint %s is over its bound (imbalance %.4f, eps %.3g); "
                     "no single move fixed it: loosen its --imbalance or use fewer parts\n", c.name.c_str(), c.imbalance, c.eps);
    guard->commit();
    if (json) {
      std::printf("%s\n", w.str().c_str());
    } else {
      print_summary(std::string("partitioned with ") + algo_name(cfg.algo) + " -> " + out, q, stats.seconds, rss,
                    part_capacity(n, cfg.num_parts, cfg.imbalance));
      print_balance(report);
    }
    return kExitOk;
  } catch (const InputError& e) {
    std::fprintf(stderr, "flotilla partition: %s\n", e.what());
    return kExitFailure;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "flotilla partition: %s: out of memory (peak RSS %s); see docs/cluster.md, \"Partitioning "
                 "node\", for the memory each algorithm needs\n", input.c_str(), human_bytes(static_cast<double>(peak_rss_bytes())).c_str());
    return kExitFailure;
  }
}

}  // namespace flotilla::cli
