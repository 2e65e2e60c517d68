// Synthetic data generators. Each streams its output to disk with memory bounded
// independently of the number of edges / time steps, and is deterministic for a seed
// (the same bytes whatever the thread count).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace flotilla {

// Called with (units done, units total) now and then; may be empty.
using GenProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

// ---- R-MAT / Graph500 Kronecker ------------------------------------------------------
struct RmatOptions {
  int scale = 16;               // 2^scale vertices
  int edge_factor = 16;         // edge_factor * 2^scale edges
  double a = 0.57, b = 0.19, c = 0.19;  // d = 1 - a - b - c (Graph500)
  std::uint64_t seed = 1;
  bool permute = true;          // Graph500 scrambles vertex labels
  std::uint32_t id_bytes = 4;   // binary edge list id width
  int threads = 0;              // 0 = hardware concurrency
};
struct RmatResult {
  std::uint64_t num_nodes = 0, num_edges = 0, bytes = 0;
  double seconds = 0;
};
// Writes a Flotilla binary edge list (datasets/graph_io.h) to `out`. Self-loops and
// duplicates are kept, as Graph500 generates them; readers drop/merge them.
RmatResult generate_rmat(const RmatOptions& opts, const std::string& out, const GenProgressFn& progress = {});

// ---- Random geometric graph (DIMACS10 / KaGen convention) ---------------------------------
// n = 2^scale points uniform in the unit square (dim 2) or cube (dim 3); an undirected edge
// joins two points at Euclidean distance < r = 0.55 * (ln n / n)^(1/dim). Points are generated
// cell by cell of a grid of G^dim cells of side 1/G >= r, the count of each cell drawn by
// binomial splitting of n and its points from a stream keyed by (seed, cell), so a cell's
// points can be regenerated wherever they are needed. Vertex ids follow the row-major cell
// order (spatially local), or a seeded Feistel permutation of it with `permute`.
struct RggOptions {
  int dim = 2;                  // 2 or 3
  int scale = 16;               // n = 2^scale points (1..31)
  bool permute = false;         // random relabelling (no O(n) table)
  std::uint64_t seed = 1;
  std::uint32_t id_bytes = 4;   // binary edge list id width
  int threads = 0;              // 0 = hardware concurrency
};
struct RggResult {
  std::uint64_t num_nodes = 0, num_edges = 0, bytes = 0;
  double radius = 0;
  std::uint64_t cells_per_dim = 0;  // G
  double seconds = 0;
};
// Writes a Flotilla binary edge list (datasets/graph_io.h), each undirected edge once (no
// self-loops, no duplicates), edges grouped by their first end in point order. Memory is
// bounded by a few slabs of cells per thread, whatever the edge count; the bytes are the
// same for a seed whatever the thread count (for one Boost version: the cell counts use
// boost::random::binomial_distribution).
RggResult generate_rgg(const RggOptions& opts, const std::string& out, const GenProgressFn& progress = {});

// r for n points in dim dimensions: 0.55 * (ln n / n)^(1/dim).
double rgg_radius(int dim, std::uint64_t n);
// The points of the graph in point (unpermuted id) order, dim coordinates each: point i is
// vertex rgg_vertex_id(opts, i). O(n) memory, for tests and tools on small graphs.
std::vector<double> rgg_points(const RggOptions& opts);
// The vertex id of point i: i, or its image under the seeded permutation with `permute`.
std::uint64_t rgg_vertex_id(const RggOptions& opts, std::uint64_t i);
// The adjacency test the generator applies (squared distance, summed in coordinate order,
// below r * r); inline so that a brute-force check computes exactly the same thing.
inline bool rgg_within(const double* a, const double* b, int dim, double r2) {
  double d2 = 0;
  for (int i = 0; i < dim; ++i) {
    const double d = a[i] - b[i];
    d2 += d * d;
  }
  return d2 < r2;
}

// ---- Stochastic block model with class-correlated features (OGB raw layout) -----------
struct SbmOptions {
  std::uint64_t num_nodes = 100000;
  int num_classes = 10;          // one block per class
  double avg_degree = 20;        // expected undirected degree
  double intra_fraction = 0.8;   // fraction of a node's edges inside its own block
  int num_features = 100;        // 0: no node-feat file (labels and splits still written)
  double feature_separation = 1.0;  // class-mean spread relative to unit noise
  double train_fraction = 0.6, valid_fraction = 0.2;  // rest is test
  std::uint64_t seed = 1;
  int threads = 0;
};
struct SbmResult {
  std::uint64_t num_nodes = 0, num_edges = 0, bytes = 0;
  double seconds = 0;
};
// Writes DIR/raw/{edge,node-feat,node-label,num-node-list,num-edge-list}.csv.gz and
// DIR/split/random/{train,valid,test}.csv.gz (see docs/formats.md).
// num_features 0 leaves out raw/node-feat.csv.gz.
SbmResult generate_sbm(const SbmOptions& opts, const std::string& out_dir, const GenProgressFn& progress = {});
// The same graph (the same edges in the same order as DIR/raw/edge.csv.gz for these options)
// as a Flotilla binary edge list with 32-bit ids, and nothing else: no features, labels or
// split (num_features, feature_separation and the fractions are ignored). Memory is O(n),
// 5 bytes per node for up to 256 classes (6 above), independent of the edge count. Each
// edge is listed once; duplicate pairs are kept as in the folder output.
SbmResult generate_sbm_graph(const SbmOptions& opts, const std::string& out, const GenProgressFn& progress = {});

// ---- Synthetic traffic (road-like sensor graph + [T, N, F] signal) ---------------------
struct TrafficGenOptions {
  std::uint64_t num_sensors = 207;
  std::uint64_t num_steps = 2016;   // 5-minute steps (2016 = one week)
  int num_features = 2;             // channel 0 speed (mph), channel 1 time of day in [0, 1)
  std::uint64_t seed = 1;
  int threads = 0;
};
struct TrafficGenResult {
  std::uint64_t num_sensors = 0, num_steps = 0, num_edges = 0, bytes = 0;
  double seconds = 0;
};
// Writes a traffic folder (docs/formats.md): DIR/signal.npy float32 [T, N, F],
// DIR/distances.csv (from,to,distance), DIR/sensors.csv (index,sensor_id,latitude,longitude).
TrafficGenResult generate_traffic(const TrafficGenOptions& opts, const std::string& out_dir,
                                  const GenProgressFn& progress = {});

}  // namespace flotilla
