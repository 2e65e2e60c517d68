// Fuzzes the metis reader: any input must give a graph or an InputError, never a crash,
// hang or unbounded allocation.
#include "flotilla/datasets.h"
#include "input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = flotilla::fuzz::input_file(data, size, ".graph");
  try {
    flotilla::EdgeStreamOptions opts;
    opts.format = flotilla::GraphFormat::Metis;
    auto stream = flotilla::open_edge_stream(path, opts);
    flotilla::CsrBuildOptions build;
    build.chunk_edges = 7;  // exercise chunk boundaries
    if (stream->info().num_nodes > (1u << 20)) return 0;  // valid but too large to build here
    flotilla::CsrGraph g = flotilla::build_csr(*stream, build);
    (void)g;
  } catch (const flotilla::InputError&) {
  }
  return 0;
}
