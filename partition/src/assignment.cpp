#include "flotilla/partition/assignment.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <unistd.h>

#include "flotilla/datasets/csr.h"
#include "flotilla/datasets/error.h"
#include "flotilla/datasets/line_reader.h"
#include "flotilla/partition/durable.h"

namespace flotilla {

std::uint64_t part_capacity(std::uint64_t n, std::uint32_t k, double epsilon) {
  if (k == 0) return n;
  const std::uint64_t even = (n + k - 1) / k;
  const auto cap = static_cast<std::uint64_t>(std::floor((1.0 + epsilon) * static_cast<double>(n) / k + 1e-9));
  return std::max(even, cap);
}

namespace {
// Halo sizes from the (vertex, part) bits, and the imbalance.
void finish_quality(PartitionQuality& q, std::uint64_t n, std::uint32_t k, bool halos,
                    const std::vector<std::uint64_t>& halo_bits) {
  if (halos) {
    q.halo_sizes.assign(k, 0);
    for (std::uint64_t v = 0; v < n; ++v)
      for (std::uint32_t p = 0; p < k; ++p) {
        const std::uint64_t bit = v * k + p;
        q.halo_sizes[p] += (halo_bits[bit >> 6] >> (bit & 63)) & 1u;
      }
  }
  const std::uint64_t largest = q.part_sizes.empty() ? 0 : *std::max_element(q.part_sizes.begin(), q.part_sizes.end());
  q.imbalance = n ? static_cast<double>(largest) / (static_cast<double>(n) / k) : 0.0;
}
}  // namespace

PartitionQuality evaluate_partition(EdgeStream& stream, const std::vector<PartId>& part, std::uint32_t k,
                                    bool with_halos, std::size_t chunk_edges) {
  PartitionQuality q;
  const std::uint64_t n = stream.info().num_nodes;
  if (part.size() != n)
    throw std::invalid_argument("assignment has " + std::to_string(part.size()) + " entries, graph has " +
                                std::to_string(n) + " vertices");
  q.num_parts = k;
  q.num_nodes = n;
  q.part_sizes.assign(k, 0);
  for (std::uint64_t v = 0; v < n; ++v) {
    if (part[v] >= k) throw std::invalid_argument("vertex " + std::to_string(v) + " has part " +
                                                  std::to_string(part[v]) + ", not below k = " + std::to_string(k));
    ++q.part_sizes[part[v]];
  }
  if (!stream.info().each_edge_once) {
    // The stream may list an edge in both directions, in either, or several times: count
    // distinct undirected edges exactly from a deduplicated CSR (O(m) memory).
    const CsrGraph g = build_csr(stream);
    std::vector<std::uint64_t> halo_bits;
    const bool halos = with_halos && static_cast<double>(n) * k <= 2147483648.0;
    if (halos) halo_bits.assign((n * k + 63) / 64, 0);
    for (VertexId u = 0; u < g.num_nodes(); ++u)
      for (VertexId v : g.neighbors(u)) {
        if (part[u] != part[v] && halos) {
          const std::uint64_t b = static_cast<std::uint64_t>(u) * k + part[v];
          halo_bits[b >> 6] |= std::uint64_t{1} << (b & 63);
        }
        if (u < v) {
          ++q.num_edges;
          q.edge_cut += part[u] != part[v];
        }
      }
    finish_quality(q, n, k, halos, halo_bits);
    return q;
  }
  // Each undirected edge appears once in the stream: count it directly, O(n) memory
  // (duplicate entries of a multigraph count as often as they appear).
  // halo bit (v, p): v is outside p and adjacent to a vertex of p.
  const bool halos = with_halos && static_cast<double>(n) * k <= 2147483648.0;
  std::vector<std::uint64_t> halo_bits(halos ? (n * k + 63) / 64 : 0, 0);
  EdgeChunk c;
  stream.rewind();
  while (stream.next_chunk(c, chunk_edges)) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      const VertexId u = c.src[i], v = c.dst[i];
      if (u == v) continue;
      const PartId pu = part[u], pv = part[v];
      if (halos && pu != pv) {
        const std::uint64_t a = static_cast<std::uint64_t>(u) * k + pv, b = static_cast<std::uint64_t>(v) * k + pu;
        halo_bits[a >> 6] |= std::uint64_t{1} << (a & 63);
        halo_bits[b >> 6] |= std::uint64_t{1} << (b & 63);
      }
      ++q.num_edges;
      q.edge_cut += pu != pv;
    }
  }
  stream.rewind();
  finish_quality(q, n, k, halos, halo_bits);
  return q;
}



std::vector<PartId> read_part_file(const std::string& path, std::uint64_t n, std::uint32_t* k) {
  LineReader r(path);
  std::vector<PartId> part;
  part.reserve(n);
  std::string_view line;
  const std::uint32_t limit = k && *k ? *k : 0;
  PartId max_id = 0;
  while (r.next(line)) {
    FieldCursor f(line);
    std::uint64_t p = 0;
    if (!f.parse_u64(p, r, "part id")) {
      // Trailing blank lines are fine; a blank line in the middle is not.
      std::string_view rest;
      while (r.next(rest))
        if (!FieldCursor(rest).at_end()) r.fail("blank line where a part id was expected");
      break;
    }
    if (!f.at_end()) r.fail("expected one part id per line");
    if (part.size() == n) r.fail("more lines than the graph's " + std::to_string(n) + " vertices");
    if (limit && p >= limit) r.fail("part id " + std::to_string(p) + " is not below k = " + std::to_string(limit));
    if (p >= kNoPart) r.fail("part id too large");
    part.push_back(static_cast<PartId>(p));
    max_id = std::max(max_id, static_cast<PartId>(p));
  }
  if (part.size() != n)
    throw_file(path, "has " + std::to_string(part.size()) + " part ids, the graph has " + std::to_string(n) +
                         " vertices");
  if (k && *k == 0) *k = n ? max_id + 1 : 0;
  return part;
}

void write_part_file(const std::string& path, const std::vector<PartId>& part) {
  const std::string tmp = path + ".tmp";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!f) throw_file(tmp, std::string("cannot create: ") + std::strerror(errno));
  std::vector<char> buf;
  buf.reserve(1 << 20);
  char num[16];
  for (PartId p : part) {
    char* e = std::to_chars(num, num + sizeof num, p).ptr;
    buf.insert(buf.end(), num, e);
    buf.push_back('\n');
    if (buf.size() > (1 << 20) - 16) {
      if (std::fwrite(buf.data(), 1, buf.size(), f.get()) != buf.size())
        throw_file(tmp, std::string("write failed: ") + std::strerror(errno));
      buf.clear();
    }
  }
  if (std::fwrite(buf.data(), 1, buf.size(), f.get()) != buf.size() || std::fflush(f.get()) != 0)
    throw_file(tmp, std::string("write failed: ") + std::strerror(errno));
  // Durable before it replaces anything: a crash leaves the old file or the complete new one.
  if (::fsync(::fileno(f.get())) != 0) throw_file(tmp, std::string("fsync failed: ") + std::strerror(errno));
  if (std::fclose(f.release()) != 0) throw_file(tmp, std::string("close failed: ") + std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw_file(path, std::string("cannot rename temp file into place: ") + std::strerror(errno));
  const std::string parent = std::filesystem::path(path).parent_path().string();
  fsync_path(parent.empty() ? "." : parent);
}

}  // namespace flotilla
