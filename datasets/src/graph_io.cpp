#include "flotilla/datasets/graph_io.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "flotilla/datasets/atomic_output.h"
#include "flotilla/datasets/durable.h"
#include "flotilla/datasets/error.h"
#include "streams.h"

namespace flotilla {

MetisGraph read_metis(const std::string& path) {
  MetisGraph out;
  std::vector<std::int64_t> vwgt;
  auto stream = detail::open_metis_arc_stream(path, &vwgt, &out.ncon);
  out.has_edge_weights = stream->info().has_edge_weights;
  CsrBuildOptions opts;
  opts.symmetrize = false;
  opts.dedup = false;
  opts.drop_self_loops = false;  // the stream already rejects them
  out.graph = build_csr(*stream, opts);
  // build_csr rewound the stream after its last pass; read the vertex weights once more.
  if (out.ncon > 0) {
    EdgeChunk chunk;
    while (stream->next_chunk(chunk, std::size_t{1} << 22)) {
    }
    out.vertex_weights = std::move(vwgt);
  }
  const CsrGraph& g = out.graph;
  for (VertexId u = 0; u < g.num_nodes(); ++u) {
    const auto nb = g.neighbors(u);
    for (std::size_t i = 1; i < nb.size(); ++i)
      if (nb[i] == nb[i - 1])
        throw_file(path, "vertex " + std::to_string(u + 1) + " lists neighbour " + std::to_string(nb[i] + 1) +
                             " more than once");
  }
  if (!g.is_symmetric())
    throw_file(path, "adjacency is not symmetric: some edge u-v is listed at u but not at v (or with another weight)");
  return out;
}

void write_metis(const CsrGraph& g, const std::string& path) {
  // METIS edge weights are positive integers: refuse weights that would round below 1.
  for (float w : g.weights())
    if (!(w >= 0.5f) || !std::isfinite(w) || w > 2147483647.0f)
      throw std::invalid_argument("cannot write " + path + ": METIS needs positive integer edge weights, found " +
                                  std::to_string(w));
  const std::string tmp = temp_path_for(path);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(tmp.c_str(), "w"), &std::fclose);
  if (!f) throw_file(tmp, std::string("cannot create: ") + std::strerror(errno));
  TempPathGuard unlink_tmp(tmp);  // removes the temp file unless the rename happened
  std::fprintf(f.get(), "%u %llu%s\n", g.num_nodes(), static_cast<unsigned long long>(g.num_undirected_edges()),
               g.has_weights() ? " 1" : "");
  for (VertexId u = 0; u < g.num_nodes(); ++u) {
    const auto nb = g.neighbors(u);
    const auto w = g.neighbor_weights(u);
    for (std::size_t i = 0; i < nb.size(); ++i) {
      std::fprintf(f.get(), i ? " %u" : "%u", nb[i] + 1);
      if (g.has_weights()) std::fprintf(f.get(), " %lld", static_cast<long long>(std::llround(w[i])));
    }
    std::fputc('\n', f.get());
  }
  if (std::fflush(f.get()) != 0 || std::ferror(f.get()) || ::fsync(::fileno(f.get())) != 0)
    throw_file(tmp, std::string("write failed: ") + std::strerror(errno));
  f.reset();
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw_file(path, std::string("cannot rename temp file into place: ") + std::strerror(errno));
  unlink_tmp.commit();
}

CsrGraph load_graph(const std::string& path, const EdgeStreamOptions& stream_opts, const CsrBuildOptions& build_opts) {
  auto stream = open_edge_stream(path, stream_opts);
  return build_csr(*stream, build_opts);
}

}  // namespace flotilla
