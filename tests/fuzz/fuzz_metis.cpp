// Fuzzes the metis reader: any input must give a graph or an InputError, never a crash,
// hang or unbounded allocation. read_metis_vertex_weights reads the same input: n * ncon
// weights whenever the graph reads too.
#include "flotilla/datasets.h"
#include "input_file.h"

#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = flotilla::fuzz::input_file(data, size, ".graph");
  flotilla::VertexWeights vw;
  bool weights_ok = false;
  bool weight_too_large = false;  // valid for the edge reader (int64), not for the weights reader (uint32)
  try {
    vw = flotilla::read_metis_vertex_weights(path);
    weights_ok = true;
    // (n = 0 with fmt 10 gives ncon = 1 and no weights)
    if ((vw.ncon == 0 && !vw.w.empty()) || vw.ncon > 64 || (vw.ncon && vw.w.size() % vw.ncon)) std::abort();
  } catch (const flotilla::InputError& e) {
    weight_too_large = std::string(e.what()).find("larger than 2^32-1") != std::string::npos;
  }
  try {
    flotilla::EdgeStreamOptions opts;
    opts.format = flotilla::GraphFormat::Metis;
    auto stream = flotilla::open_edge_stream(path, opts);
    flotilla::CsrBuildOptions build;
    build.chunk_edges = 7;  // exercise chunk boundaries
    if (stream->info().num_nodes > (1u << 20)) return 0;  // valid but too large to build here
    flotilla::CsrGraph g = flotilla::build_csr(*stream, build);
    // The edge reader accepted every line, so the weights reader (which parses each line's
    // leading fields alike) must have too.
    if ((!weights_ok && !weight_too_large) || (vw.ncon && vw.w.size() != std::uint64_t{g.num_nodes()} * vw.ncon)) std::abort();
  } catch (const flotilla::InputError&) {
  }
  return 0;
}
