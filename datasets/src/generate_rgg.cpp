// Random geometric graph: n = 2^scale points uniform in [0, 1)^dim, an edge between two
// points at distance < r = 0.55 * (ln n / n)^(1/dim) (the DIMACS10 / KaGen convention).
//
// Grid: G = floor(1/r) cells per dimension (slightly fewer, so that 1/G > r even after
// rounding), so that points within r of each other lie in the same or adjacent cells. The
// cells are grouped in rows of G cells along x; rows are numbered y (dim 2) or z * G + y
// (dim 3), cells in row-major order row * G + x, and point ids follow that cell order.
//
// Counts: how many of the n points fall in each row, and in each cell of a row, is drawn by
// binomial splitting (a range of rows or cells holding c points gives its left half
// Binomial(c, left size / size)), which samples the multinomial of n uniform points exactly.
// Each split has its own stream keyed by the range, and each row's cell tree by the row, so
// any row's cell counts and points can be regenerated alone: the row counts (one number per
// row, G^(dim-1) of them) are the only table held for the whole graph.
//
// Edges: each point is compared with the later points of its cell and with every point of
// the cells after its cell among its 3^dim - 1 neighbours (4 in 2D, 13 in 3D), so each pair
// is looked at once; an edge is written as (the earlier point, the later point) in point
// order, then relabelled when `permute`. Work goes by blocks of rows; a block keeps the few
// rows it reads (its row, the next one, and in 3D three rows of the next plane) and
// regenerates a row when it needs it again, so memory per thread is a few rows and one
// block of edges, whatever n and the edge count.
//
// Determinism: everything comes from streams keyed by (seed, row or cell or tree node), and
// blocks are written in order, so the bytes depend on the seed only, not on --threads.
#include <sys/stat.h>

#include <boost/random/binomial_distribution.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "flotilla/datasets/generators.h"
#include "flotilla/datasets/graph_io.h"
#include "flotilla/datasets/random.h"
#include "flotilla/datasets/types.h"
#include "gen_util.h"

namespace flotilla {

namespace {

constexpr double kRadiusFactor = 0.55;
constexpr std::uint64_t kPointsPerBlock = std::uint64_t{1} << 16;  // expected, sets rows per block
// Domain separators so that the streams are unrelated.
constexpr std::uint64_t kRowStream = 0x52474752'4f575353ULL;    // "RGGROWSS"
constexpr std::uint64_t kCellStream = 0x52474743'454c4c53ULL;   // "RGGCELLS"
constexpr std::uint64_t kPointStream = 0x52474750'4f494e54ULL;  // "RGGPOINT"
constexpr std::uint64_t kPermStream = 0x52474750'45524d55ULL;   // "RGGPERMU"

void validate(const RggOptions& o) {
  if (o.dim != 2 && o.dim != 3) throw std::invalid_argument("rgg: dim must be 2 or 3, got " + std::to_string(o.dim));
  if (o.scale < 1 || o.scale > 31)
    throw std::invalid_argument("rgg: scale must be in 1..31 (2^scale points with 32-bit ids), got " +
                                std::to_string(o.scale));
  if (o.id_bytes != 4 && o.id_bytes != 8)
    throw std::invalid_argument("rgg: id width must be 4 or 8 bytes, got " + std::to_string(o.id_bytes));
  if (o.threads < 0) throw std::invalid_argument("rgg: threads must be >= 0 (0 = all hardware threads)");
}

// Rng as a UniformRandomBitGenerator for Boost.Random.
struct UrbgAdapter {
  using result_type = std::uint64_t;
  Rng* rng;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() { return rng->next_u64(); }
};

// Fills out[lo, hi) with counts summing to `count`, each split Binomial(c, left / size) from
// the stream of node (key, lo, hi): a multinomial with equal cell probabilities.
void split_counts(std::uint64_t key, std::uint64_t lo, std::uint64_t hi, std::uint64_t count, std::uint64_t* out) {
  if (hi - lo == 1) {
    out[lo] = count;
    return;
  }
  if (count == 0) {
    for (std::uint64_t i = lo; i < hi; ++i) out[i] = 0;
    return;
  }
  const std::uint64_t mid = lo + (hi - lo) / 2;
  Rng rng(splitmix64(splitmix64(key ^ lo) ^ hi));
  UrbgAdapter urbg{&rng};
  boost::random::binomial_distribution<std::int64_t, double> dist(
      static_cast<std::int64_t>(count), static_cast<double>(mid - lo) / static_cast<double>(hi - lo));
  const auto left = static_cast<std::uint64_t>(dist(urbg));
  split_counts(key, lo, mid, left, out);
  split_counts(key, mid, hi, count - left, out);
}

// One row of G cells: where each cell's points start, their coordinates and vertex ids.
struct Row {
  std::uint64_t index = ~std::uint64_t{0};
  std::vector<std::uint32_t> cell_start;  // G + 1 offsets into the row's points
  std::vector<double> xyz;                // dim per point
  std::vector<VertexId> ids;              // final vertex ids (permuted or not)
  std::vector<std::uint64_t> counts;      // scratch
};

struct Grid {
  int dim = 2;
  std::uint64_t n = 0, G = 0, rows = 0;
  double r = 0, r2 = 0;
  std::uint64_t cell_key = 0, point_key = 0;
  bool permute = false;
  FeistelPermutation perm{1, 0};
  std::vector<std::uint64_t> row_first;  // rows + 1: first point id of each row

  explicit Grid(const RggOptions& o) : perm(std::uint64_t{1} << o.scale, splitmix64(o.seed ^ kPermStream)) {
    dim = o.dim;
    n = std::uint64_t{1} << o.scale;
    r = rgg_radius(dim, n);
    r2 = r * r;
    // Slightly fewer cells than 1/r, so that 1/G > r holds with a margin far above rounding.
    const double g = std::floor((1.0 / r) * (1.0 - 1e-9));
    G = g < 1 ? 1 : static_cast<std::uint64_t>(g);
    rows = dim == 2 ? G : G * G;
    cell_key = splitmix64(o.seed ^ kCellStream);
    point_key = splitmix64(o.seed ^ kPointStream);
    permute = o.permute;
    std::vector<std::uint64_t> counts(rows);
    split_counts(splitmix64(o.seed ^ kRowStream), 0, rows, n, counts.data());
    row_first.assign(rows + 1, 0);
    for (std::uint64_t i = 0; i < rows; ++i) row_first[i + 1] = row_first[i] + counts[i];
  }

  std::uint64_t vertex_id(std::uint64_t point) const { return permute ? perm(point) : point; }

  // Regenerates row `index`: its cell counts, then each cell's points from the cell's stream.
  void make_row(std::uint64_t index, Row& row) const {
    row.index = index;
    const std::uint64_t count = row_first[index + 1] - row_first[index];
    row.counts.resize(G);
    split_counts(splitmix64(cell_key ^ index), 0, G, count, row.counts.data());
    row.cell_start.resize(G + 1);
    row.cell_start[0] = 0;
    for (std::uint64_t x = 0; x < G; ++x)
      row.cell_start[x + 1] = row.cell_start[x] + static_cast<std::uint32_t>(row.counts[x]);
    row.xyz.resize(static_cast<std::size_t>(dim) * count);
    row.ids.resize(count);
    const double gd = static_cast<double>(G);
    const double y = static_cast<double>(index % G);
    const double z = static_cast<double>(index / G);  // dim 3 only
    double* p = row.xyz.data();
    for (std::uint64_t x = 0; x < G; ++x) {
      if (row.counts[x] == 0) continue;
      Rng rng(point_key ^ (index * G + x));
      const double xd = static_cast<double>(x);
      for (std::uint64_t k = 0; k < row.counts[x]; ++k) {
        *p++ = (xd + rng.uniform()) / gd;
        if (dim == 2) {
          *p++ = (static_cast<double>(index) + rng.uniform()) / gd;
        } else {
          *p++ = (y + rng.uniform()) / gd;
          *p++ = (z + rng.uniform()) / gd;
        }
      }
    }
    const std::uint64_t first = row_first[index];
    for (std::uint64_t k = 0; k < count; ++k) row.ids[k] = static_cast<VertexId>(vertex_id(first + k));
  }

  std::uint64_t rows_per_block() const {
    const double per_row = static_cast<double>(n) / static_cast<double>(rows);
    const double b = std::ceil(static_cast<double>(kPointsPerBlock) / std::max(per_row, 1.0));
    return std::max<std::uint64_t>(1, std::min<std::uint64_t>(rows, static_cast<std::uint64_t>(b)));
  }
};

// The rows a block reads, each regenerated when first needed and dropped when no longer
// needed (at most 5 are needed at once).
class RowCache {
 public:
  explicit RowCache(const Grid& g) : g_(g) {}
  // Makes `needed` (at most 5 distinct rows) resident; returns pointers in the same order.
  void fetch(const std::uint64_t* needed, int count, const Row** out) {
    for (int i = 0; i < count; ++i) {
      Row* hit = nullptr;
      for (Row& r : slots_)
        if (r.index == needed[i]) hit = &r;
      if (!hit) {
        for (Row& r : slots_) {
          bool in_use = false;
          for (int j = 0; j < count; ++j) in_use |= r.index == needed[j];
          if (!in_use) {
            hit = &r;
            break;
          }
        }
        g_.make_row(needed[i], *hit);
      }
      out[i] = hit;
    }
  }

 private:
  const Grid& g_;
  Row slots_[8];
};

struct Block {
  std::vector<VertexId> pairs;
  std::uint64_t points = 0;
};

template <int D>
void row_edges(const Grid& g, const Row& row, const Row* const* nbr_rows, int num_nbr_rows, std::vector<VertexId>& pairs) {
  const std::uint64_t G = g.G;
  const double r2 = g.r2;
  struct Cell {
    const Row* row;
    std::uint32_t begin, end;
  };
  Cell cells[13];
  for (std::uint64_t x = 0; x < G; ++x) {
    const std::uint32_t begin = row.cell_start[x], end = row.cell_start[x + 1];
    if (begin == end) continue;
    // Neighbour cells after this one in cell order: x + 1 in this row, x - 1..x + 1 in each
    // later neighbouring row.
    int nc = 0;
    if (x + 1 < G) cells[nc++] = {&row, row.cell_start[x + 1], row.cell_start[x + 2]};
    const std::uint64_t lo = x == 0 ? 0 : x - 1, hi = std::min(G - 1, x + 1);
    for (int i = 0; i < num_nbr_rows; ++i) {
      const Row* nr = nbr_rows[i];
      for (std::uint64_t xx = lo; xx <= hi; ++xx)
        if (nr->cell_start[xx] != nr->cell_start[xx + 1]) cells[nc++] = {nr, nr->cell_start[xx], nr->cell_start[xx + 1]};
    }
    for (std::uint32_t p = begin; p < end; ++p) {
      const double* a = &row.xyz[static_cast<std::size_t>(D) * p];
      const VertexId u = row.ids[p];
      for (std::uint32_t q = p + 1; q < end; ++q)
        if (rgg_within(a, &row.xyz[static_cast<std::size_t>(D) * q], D, r2)) {
          pairs.push_back(u);
          pairs.push_back(row.ids[q]);
        }
      for (int c = 0; c < nc; ++c) {
        const Row& nr = *cells[c].row;
        for (std::uint32_t q = cells[c].begin; q < cells[c].end; ++q)
          if (rgg_within(a, &nr.xyz[static_cast<std::size_t>(D) * q], D, r2)) {
            pairs.push_back(u);
            pairs.push_back(nr.ids[q]);
          }
      }
    }
  }
}

// Rows [first, last) of the grid: their edges into b.pairs.
void block_edges(const Grid& g, RowCache& cache, std::uint64_t first, std::uint64_t last, Block& b) {
  const std::uint64_t G = g.G;
  for (std::uint64_t rho = first; rho < last; ++rho) {
    std::uint64_t needed[5];
    int count = 0;
    needed[count++] = rho;
    const std::uint64_t y = rho % G;
    if (y + 1 < G) needed[count++] = rho + 1;  // the next row of this plane (dim 2: the next row)
    if (g.dim == 3 && rho / G + 1 < G)         // rows y - 1..y + 1 of the next plane
      for (std::uint64_t yy = (y == 0 ? 0 : y - 1); yy <= std::min(G - 1, y + 1); ++yy)
        needed[count++] = rho + G + yy - y;
    const Row* rows[5];
    cache.fetch(needed, count, rows);
    b.points += rows[0]->ids.size();
    if (g.dim == 2)
      row_edges<2>(g, *rows[0], rows + 1, count - 1, b.pairs);
    else
      row_edges<3>(g, *rows[0], rows + 1, count - 1, b.pairs);
  }
}

}  // namespace

double rgg_radius(int dim, std::uint64_t n) {
  if (dim < 1 || n < 2) throw std::invalid_argument("rgg: radius needs dim >= 1 and n >= 2");
  const double dn = static_cast<double>(n);
  return kRadiusFactor * std::pow(std::log(dn) / dn, 1.0 / dim);
}

std::uint64_t rgg_vertex_id(const RggOptions& opts, std::uint64_t i) {
  validate(opts);
  if (!opts.permute) return i;
  return FeistelPermutation(std::uint64_t{1} << opts.scale, splitmix64(opts.seed ^ kPermStream))(i);
}

std::vector<double> rgg_points(const RggOptions& opts) {
  validate(opts);
  const Grid g(opts);
  std::vector<double> xyz;
  xyz.reserve(static_cast<std::size_t>(g.dim) * g.n);
  Row row;
  for (std::uint64_t i = 0; i < g.rows; ++i) {
    g.make_row(i, row);
    xyz.insert(xyz.end(), row.xyz.begin(), row.xyz.end());
  }
  return xyz;
}

RggResult generate_rgg(const RggOptions& opts, const std::string& out, const GenProgressFn& progress) {
  validate(opts);
  const auto t0 = std::chrono::steady_clock::now();
  const int threads = gen::resolve_threads(opts.threads);
  // The output first: an unwritable path fails before any work.
  BinaryEdgeWriter writer(out, std::uint64_t{1} << opts.scale, opts.id_bytes, /*each_edge_once=*/true);
  const Grid g(opts);
  const std::uint64_t per_block = g.rows_per_block();
  const std::uint64_t num_blocks = (g.rows + per_block - 1) / per_block;

  auto produce = [&](std::uint64_t block, Block& b) {
    b.pairs.clear();
    b.points = 0;
    RowCache cache(g);
    block_edges(g, cache, block * per_block, std::min(g.rows, (block + 1) * per_block), b);
  };
  std::uint64_t done = 0;
  if (progress) progress(0, g.n);
  auto consume = [&](std::uint64_t, Block& b) {
    const std::size_t count = b.pairs.size() / 2;
    for (std::size_t k = 0; k < count; ++k) writer.append(b.pairs[2 * k], b.pairs[2 * k + 1]);
    done += b.points;
    if (progress) progress(done, g.n);
  };
  gen::run_ordered_blocks<Block>(num_blocks, threads, produce, consume);
  writer.finish();

  RggResult res;
  res.num_nodes = g.n;
  res.num_edges = writer.edges_written();
  res.radius = g.r;
  res.cells_per_dim = g.G;
  struct stat st {};
  res.bytes = ::stat(out.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size)
                                             : BinaryEdgeHeader::kSize + res.num_edges * 2 * opts.id_bytes;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace flotilla
