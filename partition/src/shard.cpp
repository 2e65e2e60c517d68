// Shard writing (streaming, bounded memory) and reading (verified). Layout in docs/formats.md.
#include "flotilla/partition/shard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>

#include "flotilla/datasets/bytes.h"
#include "flotilla/datasets/error.h"
#include "flotilla/datasets/line_reader.h"

namespace flotilla {

namespace {

void encode_header(const ShardHeader& h, unsigned char* b) {
  std::memset(b, 0, ShardHeader::kSize);
  std::memcpy(b, ShardHeader::kMagic, 8);
  put_le<std::uint32_t>(b + 8, h.version);
  put_le<std::uint32_t>(b + 12, h.part);
  put_le<std::uint32_t>(b + 16, h.num_parts);
  put_le<std::uint32_t>(b + 20, h.flags);
  put_le<std::uint64_t>(b + 24, h.num_nodes);
  put_le<std::uint64_t>(b + 32, h.begin);
  put_le<std::uint64_t>(b + 40, h.end);
  put_le<std::uint64_t>(b + 48, h.num_arcs);
  put_le<std::uint64_t>(b + 56, h.num_halo);
  put_le<std::uint64_t>(b + 64, h.feature_dim);
  put_le<std::uint32_t>(b + 72, h.payload_crc32);
  put_le<std::uint32_t>(b + 124, crc32_update(0, b, 124));
}

// Appends to one output file through a buffer, tracking the CRC of everything appended.
// Owns its descriptor.
class AppendFile {
 public:
  explicit AppendFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw_file(path_, std::string("cannot create: ") + std::strerror(errno));
    buf_.reserve(kBuffer);
    unsigned char zero[ShardHeader::kSize] = {0};
    write_raw(zero, sizeof zero);  // header placeholder, not part of the payload CRC
  }
  ~AppendFile() { if (fd_ >= 0) ::close(fd_); }
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void append(const void* data, std::size_t n) {
    crc_ = crc32_update(crc_, data, n);
    const auto* p = static_cast<const unsigned char*>(data);
    if (buf_.size() + n > kBuffer) flush();
    if (n >= kBuffer) { write_raw(p, n); return; }
    buf_.insert(buf_.end(), p, p + n);
  }
  template <typename T>
  void append_value(T v) { append(&v, sizeof v); }
  void pad_to(std::size_t align) {
    static const unsigned char zeros[8] = {0};
    const std::size_t rem = static_cast<std::size_t>(size_ + buf_.size()) % align;
    if (rem) append(zeros, align - rem);
  }
  std::uint32_t crc32_value() const { return crc_; }
  void finish(const ShardHeader& h) {
    flush();
    unsigned char b[ShardHeader::kSize];
    encode_header(h, b);
    if (::pwrite(fd_, b, sizeof b, 0) != static_cast<ssize_t>(sizeof b) || ::fsync(fd_) != 0)
      throw_file(path_, std::string("write failed: ") + std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
  }

 private:
  static constexpr std::size_t kBuffer = std::size_t{1} << 16;
  void flush() {
    if (!buf_.empty()) write_raw(buf_.data(), buf_.size());
    buf_.clear();
  }
  void write_raw(const unsigned char* p, std::size_t n) {
    size_ += n;
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw_file(path_, std::string("write failed: ") + std::strerror(errno));
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  std::string path_;
  int fd_ = -1;
  std::vector<unsigned char> buf_;
  std::uint64_t size_ = 0;
  std::uint32_t crc_ = 0;
};

std::string shard_path(const std::string& dir, std::uint32_t p) { return dir + "/part-" + std::to_string(p) + ".shard"; }

}  // namespace

std::vector<VertexId> relabel_by_part(const std::vector<PartId>& part, std::uint32_t k, PartitionBook* book) {
  std::vector<std::uint64_t> sizes(k, 0);
  for (PartId p : part) {
    if (p >= k) throw std::invalid_argument("relabel_by_part: part id beyond k");
    ++sizes[p];
  }
  PartitionBook b(sizes);
  std::vector<std::uint64_t> next(k);
  for (std::uint32_t p = 0; p < k; ++p) next[p] = b.begin(p);
  std::vector<VertexId> new_id(part.size());
  for (std::size_t v = 0; v < part.size(); ++v) new_id[v] = static_cast<VertexId>(next[part[v]]++);
  if (book) *book = b;
  return new_id;
}

ShardWriteStats write_shards(EdgeStream& stream, const std::vector<PartId>& part, std::uint32_t k,
                             const ShardNodeData& nd, const std::string& dir, std::uint64_t buffer_bytes) {
  const std::uint64_t n = stream.info().num_nodes;
  if (part.size() != n) throw std::invalid_argument("write_shards: assignment size differs from the graph");
  if (!nd.labels.empty() && nd.labels.size() != n) throw std::invalid_argument("write_shards: labels size");
  if (!nd.split.empty() && nd.split.size() != n) throw std::invalid_argument("write_shards: split size");
  const bool weighted = stream.info().has_edge_weights;
  const bool has_features = !nd.feature_file.empty() && nd.feature_dim > 0;
  ShardWriteStats stats;
  stats.arcs.assign(k, 0);
  stats.halo.assign(k, 0);
  PartitionBook book;
  const std::vector<VertexId> new_id = relabel_by_part(part, k, &book);
  const std::size_t chunk = std::size_t{1} << 20;

  // old_to_new.bin: the 128-byte shard header layout (num_nodes = n, num_parts = K, end = n) + n x u32.
  {
    AppendFile f(dir + "/old_to_new.bin");
    f.append(new_id.data(), new_id.size() * sizeof(VertexId));
    ShardHeader h;  // the shard header layout, part = 0
    h.num_nodes = n;
    h.num_parts = k;
    h.end = n;
    h.payload_crc32 = f.crc32_value();
    f.finish(h);
  }

  // Degrees (both directions, before dedup): an upper bound used to size the buffers.
  std::vector<std::uint32_t> degree(n, 0);
  EdgeChunk c;
  stream.rewind();
  while (stream.next_chunk(c, chunk)) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c.src[i] == c.dst[i]) continue;
      if (degree[c.src[i]] < UINT32_MAX) ++degree[c.src[i]];
      if (degree[c.dst[i]] < UINT32_MAX) ++degree[c.dst[i]];
    }
  }
  std::vector<std::uint64_t> part_arcs(k, 0);
  for (std::uint64_t v = 0; v < n; ++v) part_arcs[part[v]] += degree[v];
  degree.clear();
  degree.shrink_to_fit();

  const std::uint64_t per_arc = weighted ? 8 : 4;
  const std::uint32_t max_open = 256;
  std::uint32_t first = 0;
  while (first < k) {
    // A group of consecutive parts (consecutive new-id ranges) whose adjacency fits the buffer.
    std::uint32_t last = first;
    std::uint64_t arcs = part_arcs[first];
    while (last + 1 < k && last + 1 - first < max_open && (arcs + part_arcs[last + 1]) * per_arc <= buffer_bytes) {
      ++last;
      arcs += part_arcs[last];
    }
    const std::uint64_t lo = book.begin(first), hi = book.end(last);
    std::vector<std::unique_ptr<AppendFile>> files;
    for (std::uint32_t p = first; p <= last; ++p) files.push_back(std::make_unique<AppendFile>(shard_path(dir, p)));
    auto in_group = [&](std::uint64_t v) { return part[v] >= first && part[v] <= last; };

    // Node sections, in increasing original id = increasing new id within each part.
    for (std::uint64_t v = 0; v < n; ++v)
      if (in_group(v)) files[part[v] - first]->append_value<std::uint64_t>(v);
    if (!nd.labels.empty())
      for (std::uint64_t v = 0; v < n; ++v)
        if (in_group(v)) files[part[v] - first]->append_value<std::int64_t>(nd.labels[v]);
    if (!nd.split.empty()) {
      for (std::uint64_t v = 0; v < n; ++v)
        if (in_group(v)) files[part[v] - first]->append_value<std::uint8_t>(nd.split[v]);
      for (auto& f : files) f->pad_to(8);
    }
    if (has_features) {
      LineReader r(nd.feature_file);
      std::string_view line;
      std::vector<float> row(nd.feature_dim);
      std::uint64_t v = 0;
      while (v < n && r.next(line)) {
        FieldCursor fc(line);
        std::size_t d = 0;
        float x = 0;
        while (fc.parse_float(x, r, "a feature value (float)")) {
          if (d == nd.feature_dim) r.fail("feature row has more than " + std::to_string(nd.feature_dim) + " values");
          if (!std::isfinite(x)) r.fail("non-finite feature value (NaN, inf, or beyond float32 range)");
          row[d++] = x;
        }
        if (d != nd.feature_dim)
          r.fail("feature row has " + std::to_string(d) + " values, expected " + std::to_string(nd.feature_dim));
        if (in_group(v)) files[part[v] - first]->append(row.data(), row.size() * sizeof(float));
        ++v;
      }
      if (v != n) throw_file(nd.feature_file, "has " + std::to_string(v) + " feature rows, expected " + std::to_string(n));
    }

    // Adjacency of the group's vertices: one streaming pass, then sort and dedup per vertex.
    const std::uint64_t span = hi - lo;
    std::vector<EdgeIndex> offsets(span + 1, 0);
    stream.rewind();
    while (stream.next_chunk(c, chunk)) {
      for (std::size_t i = 0; i < c.size(); ++i) {
        const VertexId a = new_id[c.src[i]], b = new_id[c.dst[i]];
        if (a == b) continue;
        if (a >= lo && a < hi) ++offsets[a - lo + 1];
        if (b >= lo && b < hi) ++offsets[b - lo + 1];
      }
    }
    for (std::uint64_t i = 0; i < span; ++i) offsets[i + 1] += offsets[i];
    std::vector<VertexId> targets(offsets[span]);
    std::vector<float> weights(weighted ? offsets[span] : 0);
    {
      std::vector<EdgeIndex> pos(offsets.begin(), offsets.end() - 1);
      stream.rewind();
      while (stream.next_chunk(c, chunk)) {
        for (std::size_t i = 0; i < c.size(); ++i) {
          const VertexId a = new_id[c.src[i]], b = new_id[c.dst[i]];
          if (a == b) continue;
          const float w = weighted ? c.weight[i] : 1.0f;
          if (a >= lo && a < hi) {
            const EdgeIndex at = pos[a - lo]++;
            if (at >= offsets[a - lo + 1]) throw_file(stream.info().path, "input changed between passes");
            targets[at] = b;
            if (weighted) weights[at] = w;
          }
          if (b >= lo && b < hi) {
            const EdgeIndex at = pos[b - lo]++;
            if (at >= offsets[b - lo + 1]) throw_file(stream.info().path, "input changed between passes");
            targets[at] = a;
            if (weighted) weights[at] = w;
          }
        }
      }
    }
    stats.adjacency_passes += 2;
    // Sort + dedup each list in place (weights: the first occurrence in stream order wins).
    {
      std::vector<std::pair<VertexId, float>> tmp;
      EdgeIndex write = 0, begin = 0;
      for (std::uint64_t i = 0; i < span; ++i) {
        const EdgeIndex end = offsets[i + 1];
        tmp.clear();
        for (EdgeIndex e = begin; e < end; ++e) tmp.emplace_back(targets[e], weighted ? weights[e] : 1.0f);
        std::stable_sort(tmp.begin(), tmp.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
        for (std::size_t j = 0; j < tmp.size(); ++j) {
          if (j > 0 && tmp[j].first == tmp[j - 1].first) continue;
          targets[write] = tmp[j].first;
          if (weighted) weights[write] = tmp[j].second;
          ++write;
        }
        begin = end;
        offsets[i + 1] = write;
      }
    }
    for (std::uint32_t p = first; p <= last; ++p) {
      AppendFile& f = *files[p - first];
      const std::uint64_t b = book.begin(p) - lo, e = book.end(p) - lo;
      const EdgeIndex a0 = offsets[b], a1 = offsets[e];
      for (std::uint64_t i = b; i <= e; ++i) f.append_value<std::uint64_t>(offsets[i] - a0);
      f.append(targets.data() + a0, (a1 - a0) * sizeof(VertexId));
      if (weighted) f.append(weights.data() + a0, (a1 - a0) * sizeof(float));
      std::vector<VertexId> halo;
      for (EdgeIndex x = a0; x < a1; ++x)
        if (targets[x] < book.begin(p) || targets[x] >= book.end(p)) halo.push_back(targets[x]);
      std::sort(halo.begin(), halo.end());
      halo.erase(std::unique(halo.begin(), halo.end()), halo.end());
      f.append(halo.data(), halo.size() * sizeof(VertexId));
      ShardHeader h;
      h.part = p;
      h.num_parts = k;
      h.flags = (has_features ? ShardHeader::kFeatures : 0u) | (!nd.labels.empty() ? ShardHeader::kLabels : 0) |
                (!nd.split.empty() ? ShardHeader::kSplit : 0) | (weighted ? ShardHeader::kWeights : 0);
      h.num_nodes = n;
      h.begin = book.begin(p);
      h.end = book.end(p);
      h.num_arcs = a1 - a0;
      h.num_halo = halo.size();
      h.feature_dim = has_features ? nd.feature_dim : 0;
      h.payload_crc32 = f.crc32_value();
      f.finish(h);
      stats.arcs[p] = h.num_arcs;
      stats.halo[p] = h.num_halo;
    }
    first = last + 1;
  }
  stream.rewind();
  return stats;
}

namespace {

// Checks magic, header checksum and version of the first 128 bytes; fills h.
void decode_header(const std::string& path, const unsigned char* b, ShardHeader& h) {
  if (std::memcmp(b, ShardHeader::kMagic, 8) != 0) throw_at_byte(path, 0, "not a Flotilla shard (bad magic)");
  if (get_le<std::uint32_t>(b + 124) != crc32_update(0, b, 124)) throw_at_byte(path, 124, "header checksum mismatch: the shard is corrupt");
  h.version = get_le<std::uint32_t>(b + 8);
  if (h.version != ShardHeader::kVersion)
    throw_at_byte(path, 8, "unsupported shard version " + std::to_string(h.version));
  h.part = get_le<std::uint32_t>(b + 12);
  h.num_parts = get_le<std::uint32_t>(b + 16);
  h.flags = get_le<std::uint32_t>(b + 20);
  h.num_nodes = get_le<std::uint64_t>(b + 24);
  h.begin = get_le<std::uint64_t>(b + 32);
  h.end = get_le<std::uint64_t>(b + 40);
  h.num_arcs = get_le<std::uint64_t>(b + 48);
  h.num_halo = get_le<std::uint64_t>(b + 56);
  h.feature_dim = get_le<std::uint64_t>(b + 64);
  h.payload_crc32 = get_le<std::uint32_t>(b + 72);
  if (h.num_parts == 0 || h.part >= h.num_parts)
    throw_at_byte(path, 12, "part " + std::to_string(h.part) + " of " + std::to_string(h.num_parts) + " parts");
  if (h.flags & ~std::uint32_t{ShardHeader::kFeatures | ShardHeader::kLabels | ShardHeader::kSplit | ShardHeader::kWeights})
    throw_at_byte(path, 20, "unknown flags " + std::to_string(h.flags));
}

// Whole file into memory after checking the header; InputError on any inconsistency.
std::vector<unsigned char> read_verified(const std::string& path, ShardHeader& h) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_file(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  std::vector<unsigned char> bytes;
  try {
    if (size < ShardHeader::kSize) throw_at_byte(path, size, "truncated: no complete 128-byte header");
    bytes.resize(size);
    std::size_t done = 0;
    while (done < size) {
      const ssize_t r = ::pread(fd, bytes.data() + done, size - done, static_cast<off_t>(done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw_at_byte(path, done, "read failed");
      done += static_cast<std::size_t>(r);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  decode_header(path, bytes.data(), h);
  const unsigned char* b = bytes.data();
  if (crc32_update(0, b + ShardHeader::kSize, size - ShardHeader::kSize) != h.payload_crc32)
    throw_at_byte(path, ShardHeader::kSize, "payload checksum mismatch: the shard is corrupt");
  return bytes;
}

}  // namespace

ShardHeader read_shard_header(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_file(path, std::string("cannot open: ") + std::strerror(errno));
  unsigned char b[ShardHeader::kSize];
  std::size_t done = 0;
  while (done < sizeof b) {
    const ssize_t r = ::pread(fd, b + done, sizeof b - done, static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += static_cast<std::size_t>(r);
  }
  ::close(fd);
  if (done < sizeof b) throw_at_byte(path, done, "truncated: no complete 128-byte header");
  ShardHeader h;
  decode_header(path, b, h);
  if (h.begin > h.end || h.end > h.num_nodes || h.num_nodes >= kMaxVertices)
    throw_at_byte(path, 32, "inconsistent id range in the header");
  return h;
}

Shard read_shard(const std::string& path) {
  Shard s;
  const std::vector<unsigned char> bytes = read_verified(path, s.header);
  const ShardHeader& h = s.header;
  if (h.begin > h.end || h.end > h.num_nodes || h.num_nodes >= kMaxVertices)
    throw_at_byte(path, 32, "inconsistent id range in the header");
  const std::uint64_t owned = h.owned();
  // Expected size from the counts, in long double to avoid overflow, before any allocation.
  long double want = ShardHeader::kSize + 8.0L * owned;
  if (h.flags & ShardHeader::kLabels) want += 8.0L * owned;
  if (h.flags & ShardHeader::kSplit) want += static_cast<long double>((owned + 7) / 8 * 8);
  if (h.flags & ShardHeader::kFeatures) want += 4.0L * owned * h.feature_dim;
  want += 8.0L * (owned + 1) + 4.0L * h.num_arcs * ((h.flags & ShardHeader::kWeights) ? 2 : 1) + 4.0L * h.num_halo;
  if (want != static_cast<long double>(bytes.size()))
    throw_file(path, "size " + std::to_string(bytes.size()) + " does not match the header's counts");
  std::size_t at = ShardHeader::kSize;
  auto take = [&](auto& vec, std::uint64_t count) {
    using T = typename std::decay_t<decltype(vec)>::value_type;
    vec.resize(count);
    std::memcpy(vec.data(), bytes.data() + at, count * sizeof(T));
    at += count * sizeof(T);
  };
  take(s.old_ids, owned);
  if (h.flags & ShardHeader::kLabels) take(s.labels, owned);
  if (h.flags & ShardHeader::kSplit) {
    take(s.split, owned);
    at = (at + 7) / 8 * 8;
  }
  if (h.flags & ShardHeader::kFeatures) take(s.features, owned * h.feature_dim);
  take(s.offsets, owned + 1);
  take(s.targets, h.num_arcs);
  if (h.flags & ShardHeader::kWeights) take(s.weights, h.num_arcs);
  take(s.halo, h.num_halo);
  if (s.offsets.front() != 0 || s.offsets.back() != h.num_arcs) throw_file(path, "adjacency offsets are inconsistent");
  for (std::uint64_t i = 0; i < owned; ++i)
    if (s.offsets[i + 1] < s.offsets[i]) throw_file(path, "adjacency offsets decrease");
  for (VertexId t : s.targets)
    if (t >= h.num_nodes) throw_file(path, "neighbour id beyond the graph");
  for (std::uint8_t c : s.split)
    if (c > 3) throw_file(path, "split code " + std::to_string(c) + " (expected 0..3)");
  for (std::size_t i = 0; i < s.halo.size(); ++i)
    if (s.halo[i] >= h.num_nodes || (s.halo[i] >= h.begin && s.halo[i] < h.end) || (i && s.halo[i] <= s.halo[i - 1]))
      throw_file(path, "halo list is not sorted, unique ids outside the owned range");
  return s;
}

std::vector<VertexId> read_old_to_new(const std::string& path) {
  ShardHeader h;
  const std::vector<unsigned char> bytes = read_verified(path, h);
  if (h.num_nodes >= kMaxVertices || (bytes.size() - ShardHeader::kSize) / sizeof(VertexId) != h.num_nodes ||
      (bytes.size() - ShardHeader::kSize) % sizeof(VertexId) != 0)
    throw_file(path, "size does not match the header's vertex count");
  std::vector<VertexId> ids(h.num_nodes);
  std::memcpy(ids.data(), bytes.data() + ShardHeader::kSize, ids.size() * sizeof(VertexId));
  for (VertexId v : ids)
    if (v >= h.num_nodes) throw_file(path, "new id " + std::to_string(v) + " is beyond the vertex count");
  return ids;
}

}  // namespace flotilla
