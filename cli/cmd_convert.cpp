// flotilla convert IN OUT: streams a graph from any readable format into a Flotilla binary
// edge list or a text edge list (memory O(chunk)), or into METIS (needs the CSR in memory).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

#include "cli_util.h"
#include "flotilla/datasets.h"

namespace flotilla::cli {
namespace {

// Text edge list writer: "u v\n" per edge, formatted with to_chars into a large buffer;
// written to OUT.tmp-PID (unique to this run) and renamed at the end.
void write_text_edges(EdgeStream& stream, const std::string& out, std::size_t chunk_edges, ProgressBar& bar) {
  const std::string tmp = temp_path_for(out);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!f) throw_file(tmp, std::string("cannot create: ") + std::strerror(errno));
  TempPathGuard unlink_tmp(tmp);  // removes the temp file unless the rename happened
  std::fprintf(f.get(), "# flotilla edge list: %llu nodes, from %s\n",
               static_cast<unsigned long long>(stream.info().num_nodes), stream.info().path.c_str());
  std::vector<char> buf(chunk_edges * 48 + 64);
  EdgeChunk chunk;
  while (stream.next_chunk(chunk, chunk_edges)) {
    char* p = buf.data();
    const bool w = !chunk.weight.empty();
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      p = std::to_chars(p, p + 16, chunk.src[i]).ptr;
      *p++ = ' ';
      p = std::to_chars(p, p + 16, chunk.dst[i]).ptr;
      if (w) {
        *p++ = ' ';
        p = std::to_chars(p, p + 24, chunk.weight[i]).ptr;
      }
      *p++ = '\n';
    }
    if (std::fwrite(buf.data(), 1, static_cast<std::size_t>(p - buf.data()), f.get()) !=
        static_cast<std::size_t>(p - buf.data()))
      throw_file(tmp, std::string("write failed: ") + std::strerror(errno));
  }
  if (std::fflush(f.get()) != 0 || ::fsync(::fileno(f.get())) != 0)
    throw_file(tmp, std::string("write failed: ") + std::strerror(errno));
  f.reset();
  bar.finish();
  if (std::rename(tmp.c_str(), out.c_str()) != 0)
    throw_file(out, std::string("cannot rename temp file into place: ") + std::strerror(errno));
  unlink_tmp.commit();
}

// Creates and removes OUT.tmp-PID, the name every writer below writes to first: an unwritable
// destination fails before the input is read (opening an edge list scans it whole; METIS
// output builds the CSR first). Temp files of killed runs to the same OUT (exact name
// OUT.tmp-PID, PID not running) are removed first, as flotilla partition does for folders.
void check_output_writable(const std::string& out) {
  for (const StaleTemp& st : remove_stale_temp_files(out))
    std::fprintf(stderr, "flotilla convert: removed stale temporary file %s (process %llu is not running)\n",
                 st.path.c_str(), static_cast<unsigned long long>(st.pid));
  const std::string tmp = temp_path_for(out);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_file(tmp, std::string("cannot create: ") + std::strerror(errno));
  ::close(fd);
  ::unlink(tmp.c_str());
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  cxxopts::Options options("flotilla convert", "Convert a graph between formats, streaming where the target allows.");
  options.add_options()
      ("input", "input graph (any format flotilla info reads)", cxxopts::value<std::string>())
      ("output", "output file", cxxopts::value<std::string>())
      ("f,format", "input format (auto, metis, edgelist, binary, bin32, bin64, ogb, traffic, npy)",
       cxxopts::value<std::string>()->default_value("auto"))
      ("t,to", "output format: binary, edgelist, metis", cxxopts::value<std::string>()->default_value("binary"))
      ("id-bytes", "binary output id width, 4 or 8", cxxopts::value<unsigned>()->default_value("4"))
      ("keep-ids", "edge-list input: keep ids as they are instead of compacting them")
      ("symmetrize", "METIS input: accept an asymmetric adjacency or repeated neighbours (otherwise refused, naming "
                     "the first offending line): every entry is an edge, both directions merged")
      ("chunk-edges", "edges per chunk", cxxopts::value<std::size_t>()->default_value("4194304"))
      ("h,help", "show this help");
  options.parse_positional({"input", "output"});
  options.positional_help("INPUT OUTPUT");
  int code = 0;
  auto args = parse_or_exit(options, argc, argv, &code);
  if (!args) return code;
  if (!args->count("input") || !args->count("output")) {
    std::fprintf(stderr, "flotilla convert: need INPUT and OUTPUT (see --help)\n");
    return kExitUsage;
  }
  const std::string in = (*args)["input"].as<std::string>(), out = (*args)["output"].as<std::string>();
  const std::string to = (*args)["to"].as<std::string>();
  const unsigned id_bytes = (*args)["id-bytes"].as<unsigned>();
  const std::size_t chunk = (*args)["chunk-edges"].as<std::size_t>();
  if (chunk == 0 || chunk > (std::size_t{1} << 26)) {
    std::fprintf(stderr, "flotilla convert: --chunk-edges must be between 1 and 67108864\n");
    return kExitUsage;
  }
  if (to != "binary" && to != "edgelist" && to != "metis") {
    std::fprintf(stderr, "flotilla convert: --to must be binary, edgelist or metis\n");
    return kExitUsage;
  }
  if (id_bytes != 4 && id_bytes != 8) {
    std::fprintf(stderr, "flotilla convert: --id-bytes must be 4 or 8\n");
    return kExitUsage;
  }
  EdgeStreamOptions sopts;
  try {
    sopts.format = parse_format_name((*args)["format"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "flotilla convert: %s\n", e.what());
    return kExitUsage;
  }
  sopts.keep_ids = args->count("keep-ids") > 0;
  sopts.symmetrize = args->count("symmetrize") > 0;
  try {
    check_output_writable(out);
    auto stream = open_edge_stream(in, sopts);
    ProgressBar bar("converting", 0);
    stream->set_progress([&](std::uint64_t d, std::uint64_t t) { bar.set_total(t); bar.update(d); });
    std::uint64_t edges = 0;
    if (to == "metis") {
      const CsrGraph g = build_csr(*stream);
      bar.finish();
      write_metis(g, out);
      edges = g.num_undirected_edges();
    } else if (to == "edgelist") {
      write_text_edges(*stream, out, chunk, bar);
      edges = stream->info().num_edges_hint;
    } else {
      BinaryEdgeWriter w(out, stream->info().num_nodes, id_bytes, stream->info().each_edge_once);
      EdgeChunk c;
      while (stream->next_chunk(c, chunk)) w.append(c);
      w.finish();
      bar.finish();
      edges = w.edges_written();
    }
    std::printf("wrote %s (%s): %llu nodes, %llu edges\n", out.c_str(), to.c_str(),
                static_cast<unsigned long long>(stream->info().num_nodes), static_cast<unsigned long long>(edges));
    return kExitOk;
  } catch (const InputError& e) {
    std::fprintf(stderr, "flotilla convert: %s\n", e.what());
    return kExitFailure;
  }
}

}  // namespace flotilla::cli
