// Shard writing (streaming, bounded memory) and reading (verified). Layout in docs/formats.md.
#include "flotilla/partition/shard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "flotilla/datasets/bytes.h"
#include "flotilla/datasets/error.h"
#include "flotilla/datasets/line_reader.h"
#include "flotilla/datasets/random.h"

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
  if (h.version >= 3) put_le<std::uint64_t>(b + 80, h.run_id);
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

// The run id: a 64-bit hash of a sequence of words. Each word is folded into one of four
// lanes (independent multiply chains, so a long sequence of edges hashes at memory speed),
// and the lanes are mixed with splitmix64 at the end. Not cryptographic: it tells runs with
// different content apart (a false match needs a 2^-64 coincidence), it hides nothing.
class RunIdHash {
 public:
  void add(std::uint64_t x) {
    std::uint64_t& h = lane_[count_++ & 3];
    h = (h ^ x) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
  }
  std::uint64_t id() const {
    std::uint64_t h = count_;
    for (std::uint64_t l : lane_) h = splitmix64(h ^ l);
    return h ? h : 1;  // 0 means "no run id" (format versions 1 and 2)
  }

 private:
  std::uint64_t lane_[4] = {1, 2, 3, 4};
  std::uint64_t count_ = 0;
};

}  // namespace

std::string format_run_id(std::uint64_t id) {
  if (id == 0) return "none";
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

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

namespace {

// A scratch file for one large part's targets or weights: created in DIR and unlinked at
// once (the descriptor keeps it alive, a crash leaves nothing behind). Appended to, then
// copied into the shard file. Owns its descriptor.
class SpoolFile {
 public:
  SpoolFile(const std::string& dir, const std::string& name) : path_(dir + "/" + name) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) throw_file(path_, std::string("cannot create: ") + std::strerror(errno));
    ::unlink(path_.c_str());
  }
  ~SpoolFile() { if (fd_ >= 0) ::close(fd_); }
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  void append(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(size_));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw_file(path_, std::string("write failed: ") + std::strerror(errno));
      p += w;
      n -= static_cast<std::size_t>(w);
      size_ += static_cast<std::uint64_t>(w);
    }
  }
  // Appends everything written so far to `out`, through a 1 MiB buffer.
  template <typename Out>
  void copy_to(Out& out) const {
    std::vector<unsigned char> buf(std::size_t{1} << 20);
    std::uint64_t at = 0;
    while (at < size_) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size_ - at));
      const ssize_t r = ::pread(fd_, buf.data(), want, static_cast<off_t>(at));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw_file(path_, std::string("read failed: ") + std::strerror(errno));
      out.append(buf.data(), static_cast<std::size_t>(r));
      at += static_cast<std::uint64_t>(r);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// Deduplicated adjacency of the vertices with new ids in [lo, hi): offsets (hi - lo + 1,
// starting at 0), targets sorted per vertex without duplicates, weights (first occurrence
// in stream order) when `weighted`. Two passes over the stream.
void fill_adjacency(EdgeStream& stream, const std::vector<VertexId>& new_id, std::uint64_t lo, std::uint64_t hi,
                    bool weighted, std::vector<EdgeIndex>& offsets, std::vector<VertexId>& targets,
                    std::vector<float>& weights) {
  const std::size_t chunk = std::size_t{1} << 20;
  EdgeChunk c;
  const std::uint64_t span = hi - lo;
  offsets.assign(span + 1, 0);
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
  targets.assign(offsets[span], 0);
  weights.assign(weighted ? offsets[span] : 0, 0.0f);
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
  // Sort + dedup each list in place (weights: the first occurrence in stream order wins).
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
  targets.resize(write);
  if (weighted) weights.resize(write);
}

// Appends a sequence of u32 values through a small batch (one CRC update per batch).
class U32Batch {
 public:
  explicit U32Batch(AppendFile& f) : f_(f) { buf_.reserve(kBatch); }
  void push(VertexId v) {
    buf_.push_back(v);
    if (buf_.size() == kBatch) flush();
  }
  void flush() {
    if (!buf_.empty()) f_.append(buf_.data(), buf_.size() * sizeof(VertexId));
    buf_.clear();
  }

 private:
  static constexpr std::size_t kBatch = 16384;
  AppendFile& f_;
  std::vector<VertexId> buf_;
};

}  // namespace

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
  const std::uint32_t flags = (has_features ? ShardHeader::kFeatures : 0u) |
                              (!nd.labels.empty() ? ShardHeader::kLabels : 0u) |
                              (!nd.split.empty() ? ShardHeader::kSplit : 0u) | (weighted ? ShardHeader::kWeights : 0u);

  // Degrees (both directions, before dedup): an upper bound used to size the buffers. The
  // same pass hashes the edges, in stream order, into the run id.
  std::vector<std::uint32_t> degree(n, 0);
  RunIdHash run_hash;
  run_hash.add(0x464c4f5453485244ull);  // "FLOTSHRD"
  run_hash.add(ShardHeader::kVersion);
  run_hash.add(n);
  run_hash.add(k);
  run_hash.add(flags);
  EdgeChunk c;
  stream.rewind();
  std::uint64_t stream_edges = 0;
  while (stream.next_chunk(c, chunk)) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      run_hash.add(static_cast<std::uint64_t>(c.src[i]) << 32 | c.dst[i]);
      if (weighted) {
        std::uint32_t wbits;
        std::memcpy(&wbits, &c.weight[i], sizeof wbits);
        run_hash.add(wbits);
      }
      if (c.src[i] == c.dst[i]) continue;
      if (degree[c.src[i]] < UINT32_MAX) ++degree[c.src[i]];
      if (degree[c.dst[i]] < UINT32_MAX) ++degree[c.dst[i]];
    }
    stream_edges += c.size();
  }
  // The rest of what the shards are made of: the assignment and the node data (the feature
  // file by width and size: its content is read only while the shards are written).
  run_hash.add(stream_edges);
  for (PartId p : part) run_hash.add(p);
  for (std::int64_t l : nd.labels) run_hash.add(static_cast<std::uint64_t>(l));
  for (std::uint8_t x : nd.split) run_hash.add(x);
  if (has_features) {
    struct stat st {};
    run_hash.add(nd.feature_dim);
    run_hash.add(::stat(nd.feature_file.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0);
  }
  const std::uint64_t run_id = run_hash.id();
  stats.run_id = run_id;

  // old_to_new.bin: the 128-byte shard header layout (num_nodes = n, num_parts = K, end = n,
  // the run id) + n x u32, zero-padded to a multiple of 8 bytes.
  {
    AppendFile f(dir + "/old_to_new.bin");
    f.append(new_id.data(), new_id.size() * sizeof(VertexId));
    f.pad_to(8);
    ShardHeader h;  // the shard header layout, part = 0
    h.num_nodes = n;
    h.num_parts = k;
    h.end = n;
    h.run_id = run_id;
    h.payload_crc32 = f.crc32_value();
    f.finish(h);
  }
  std::vector<std::uint64_t> part_arcs(k, 0);
  for (std::uint64_t v = 0; v < n; ++v) part_arcs[part[v]] += degree[v];

  const std::uint64_t per_arc = weighted ? 8 : 4;
  // Arcs (before dedup) the adjacency buffer holds. A part with more is "large": its
  // vertex range is cut into segments of at most this many arcs (a single vertex with more
  // gets a segment of its own), each read in its own two passes and spooled to scratch
  // files, so memory stays O(n) + buffer whatever the part sizes.
  const std::uint64_t max_arcs = std::max<std::uint64_t>(1, buffer_bytes / per_arc);
  std::vector<std::vector<std::uint64_t>> cuts(k);  // large parts: segment boundaries (new ids)
  {
    std::vector<std::uint64_t> run(k, 0);
    for (std::uint32_t p = 0; p < k; ++p)
      if (part_arcs[p] > max_arcs) cuts[p].push_back(book.begin(p));
    for (std::uint64_t v = 0; v < n; ++v) {
      const PartId p = part[v];
      if (part_arcs[p] <= max_arcs) continue;
      // Within a part, new ids increase with the original id: cuts come out sorted.
      if (run[p] > 0 && run[p] + degree[v] > max_arcs) {
        cuts[p].push_back(new_id[v]);
        run[p] = 0;
      }
      run[p] += degree[v];
    }
    for (std::uint32_t p = 0; p < k; ++p)
      if (part_arcs[p] > max_arcs) cuts[p].push_back(book.end(p));
  }
  degree.clear();
  degree.shrink_to_fit();

  const std::uint32_t max_open = 256;
  std::vector<EdgeIndex> offsets;
  std::vector<VertexId> targets;
  std::vector<float> weights;
  std::uint32_t first = 0;
  while (first < k) {
    // A group of consecutive parts (consecutive new-id ranges) whose adjacency fits the
    // buffer, or one large part.
    std::uint32_t last = first;
    std::uint64_t arcs = part_arcs[first];
    const bool large = part_arcs[first] > max_arcs;
    while (!large && last + 1 < k && last + 1 - first < max_open && arcs + part_arcs[last + 1] <= max_arcs) {
      ++last;
      arcs += part_arcs[last];
    }
    const std::uint64_t lo = book.begin(first), hi = book.end(last);
    std::vector<std::unique_ptr<AppendFile>> files;
    for (std::uint32_t p = first; p <= last; ++p) files.push_back(std::make_unique<AppendFile>(shard_path(dir, p)));
    auto in_group = [&](std::uint64_t v) { return part[v] >= first && part[v] <= last; };

    // Node sections, in increasing original id = increasing new id within each part. Every
    // section is zero-padded to a multiple of 8 bytes.
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
      for (auto& f : files) f->pad_to(8);
    }

    auto finish_part = [&](std::uint32_t p, AppendFile& f, std::uint64_t num_arcs, std::uint64_t num_halo) {
      ShardHeader h;
      h.part = p;
      h.num_parts = k;
      h.flags = flags;
      h.num_nodes = n;
      h.begin = book.begin(p);
      h.end = book.end(p);
      h.num_arcs = num_arcs;
      h.num_halo = num_halo;
      h.feature_dim = has_features ? nd.feature_dim : 0;
      h.run_id = run_id;
      h.payload_crc32 = f.crc32_value();
      f.finish(h);
      stats.arcs[p] = num_arcs;
      stats.halo[p] = num_halo;
    };

    if (!large) {
      // Adjacency of the whole group in the buffer: two passes, then sort and dedup.
      fill_adjacency(stream, new_id, lo, hi, weighted, offsets, targets, weights);
      stats.adjacency_passes += 2;
      for (std::uint32_t p = first; p <= last; ++p) {
        AppendFile& f = *files[p - first];
        const std::uint64_t b = book.begin(p) - lo, e = book.end(p) - lo;
        const EdgeIndex a0 = offsets[b], a1 = offsets[e];
        for (std::uint64_t i = b; i <= e; ++i) f.append_value<std::uint64_t>(offsets[i] - a0);
        f.append(targets.data() + a0, (a1 - a0) * sizeof(VertexId));
        f.pad_to(8);
        if (weighted) {
          f.append(weights.data() + a0, (a1 - a0) * sizeof(float));
          f.pad_to(8);
        }
        std::vector<VertexId> halo;
        for (EdgeIndex x = a0; x < a1; ++x)
          if (targets[x] < book.begin(p) || targets[x] >= book.end(p)) halo.push_back(targets[x]);
        std::sort(halo.begin(), halo.end());
        halo.erase(std::unique(halo.begin(), halo.end()), halo.end());
        f.append(halo.data(), halo.size() * sizeof(VertexId));
        f.pad_to(8);
        finish_part(p, f, a1 - a0, halo.size());
      }
    } else {
      // One large part, segment by segment. Offsets (owned + 1) and the halo (one bit per
      // vertex of the graph) stay in memory; targets and weights go to scratch files and
      // are copied into the shard after the offsets.
      const std::uint32_t p = first;
      AppendFile& f = *files[0];
      const std::uint64_t pb = book.begin(p), pe = book.end(p);
      std::vector<EdgeIndex> part_offsets(pe - pb + 1, 0);
      std::vector<std::uint64_t> halo_bits((n + 63) / 64, 0);
      const std::string stem = "part-" + std::to_string(p) + ".shard";
      SpoolFile spool_targets(dir, stem + ".targets.tmp");
      std::unique_ptr<SpoolFile> spool_weights;
      if (weighted) spool_weights = std::make_unique<SpoolFile>(dir, stem + ".weights.tmp");
      EdgeIndex total = 0;
      const std::vector<std::uint64_t>& seg = cuts[p];
      for (std::size_t s = 0; s + 1 < seg.size(); ++s) {
        const std::uint64_t slo = seg[s], shi = seg[s + 1];
        fill_adjacency(stream, new_id, slo, shi, weighted, offsets, targets, weights);
        stats.adjacency_passes += 2;
        for (std::uint64_t i = slo; i < shi; ++i) part_offsets[i - pb + 1] = total + offsets[i - slo + 1];
        total += targets.size();
        spool_targets.append(targets.data(), targets.size() * sizeof(VertexId));
        if (weighted) spool_weights->append(weights.data(), weights.size() * sizeof(float));
        for (VertexId t : targets)
          if (t < pb || t >= pe) halo_bits[t >> 6] |= std::uint64_t{1} << (t & 63);
      }
      offsets.clear();
      offsets.shrink_to_fit();
      targets.clear();
      targets.shrink_to_fit();
      weights.clear();
      weights.shrink_to_fit();
      f.append(part_offsets.data(), part_offsets.size() * sizeof(EdgeIndex));
      spool_targets.copy_to(f);
      f.pad_to(8);
      if (weighted) {
        spool_weights->copy_to(f);
        f.pad_to(8);
      }
      std::uint64_t num_halo = 0;
      {
        U32Batch batch(f);
        for (std::uint64_t w = 0; w < halo_bits.size(); ++w) {
          std::uint64_t bits = halo_bits[w];
          while (bits) {
            const int b = __builtin_ctzll(bits);
            batch.push(static_cast<VertexId>(w * 64 + static_cast<std::uint64_t>(b)));
            bits &= bits - 1;
            ++num_halo;
          }
        }
        batch.flush();
      }
      f.pad_to(8);
      finish_part(p, f, total, num_halo);
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
  if (h.version < ShardHeader::kMinVersion || h.version > ShardHeader::kVersion)
    throw_at_byte(path, 8, "unsupported shard version " + std::to_string(h.version) + " (this build reads versions " +
                               std::to_string(ShardHeader::kMinVersion) + " to " +
                               std::to_string(ShardHeader::kVersion) + "); re-partition with this build");
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
  h.run_id = h.version >= 3 ? get_le<std::uint64_t>(b + 80) : 0;
  if (h.num_parts == 0 || h.part >= h.num_parts)
    throw_at_byte(path, 12, "part " + std::to_string(h.part) + " of " + std::to_string(h.num_parts) + " parts");
  if (h.flags & ~std::uint32_t{ShardHeader::kFeatures | ShardHeader::kLabels | ShardHeader::kSplit | ShardHeader::kWeights})
    throw_at_byte(path, 20, "unknown flags " + std::to_string(h.flags));
}

// A shard-format file opened for reading (owns the descriptor). After the header, sections
// are read in order straight into the caller's arrays, each byte (padding too) folded into
// the payload checksum, so a reader holds the file's bytes once, in their final arrays.
class VerifiedFileReader {
 public:
  explicit VerifiedFileReader(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw_file(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      ::close(fd_);
      throw_file(path, std::string("cannot stat: ") + std::strerror(errno));
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~VerifiedFileReader() { ::close(fd_); }
  VerifiedFileReader(const VerifiedFileReader&) = delete;
  VerifiedFileReader& operator=(const VerifiedFileReader&) = delete;

  std::uint64_t size() const { return size_; }

  // Magic, version and header checksum of the first 128 bytes.
  ShardHeader header() {
    if (size_ < ShardHeader::kSize) throw_at_byte(path_, size_, "truncated: no complete 128-byte header");
    unsigned char b[ShardHeader::kSize];
    read_raw(b, sizeof b);
    ShardHeader h;
    decode_header(path_, b, h);
    return h;
  }

  // count elements into vec (resized); then zero padding to a multiple of 8 when pad.
  template <class T>
  void section(std::vector<T>& vec, std::uint64_t count, bool pad) {
    vec.resize(count);
    if (count) payload(vec.data(), count * sizeof(T));
    if (pad) pad_to_8();
  }
  void pad_to_8() {
    unsigned char z[8];
    const std::uint64_t n = (8 - at_ % 8) % 8;
    if (n) payload(z, n);
  }

  // After the last section: every byte read, and the payload checksum matches the header's.
  void finish(const ShardHeader& h) const {
    if (at_ != size_) throw_at_byte(path_, at_, std::to_string(size_ - at_) + " bytes after the last section");
    if (crc_ != h.payload_crc32) throw_at_byte(path_, ShardHeader::kSize, "payload checksum mismatch: the shard is corrupt");
  }

 private:
  void payload(void* dst, std::uint64_t n) {
    read_raw(dst, n);
    crc_ = crc32_update(crc_, static_cast<const unsigned char*>(dst), n);
  }
  void read_raw(void* dst, std::uint64_t n) {
    auto* p = static_cast<unsigned char*>(dst);
    std::uint64_t done = 0;
    while (done < n) {
      // (at most 1 GiB per call: Linux transfers at most ~2 GiB per read)
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n - done, std::uint64_t{1} << 30));
      const ssize_t r = ::pread(fd_, p + done, want, static_cast<off_t>(at_ + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw_at_byte(path_, at_ + done, std::string("read failed: ") + std::strerror(errno));
      if (r == 0) throw_at_byte(path_, at_ + done, "truncated: the file ends inside a section");
      done += static_cast<std::uint64_t>(r);
    }
    at_ += n;
  }

  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0, at_ = 0;
  std::uint32_t crc_ = 0;
};

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
  VerifiedFileReader in(path);
  s.header = in.header();
  const ShardHeader& h = s.header;
  if (h.begin > h.end || h.end > h.num_nodes || h.num_nodes >= kMaxVertices)
    throw_at_byte(path, 32, "inconsistent id range in the header");
  const std::uint64_t owned = h.owned();
  // Version 2 pads every section with zeros to a multiple of 8 bytes; version 1 padded only
  // the split section.
  const bool padded = h.version >= 2;
  auto section = [&](long double size) { return padded ? std::ceil(size / 8.0L) * 8.0L : size; };
  // Expected size from the counts, in long double to avoid overflow, before any allocation.
  long double want = ShardHeader::kSize + 8.0L * owned;
  if (h.flags & ShardHeader::kLabels) want += 8.0L * owned;
  if (h.flags & ShardHeader::kSplit) want += static_cast<long double>((owned + 7) / 8 * 8);
  if (h.flags & ShardHeader::kFeatures) want += section(4.0L * owned * h.feature_dim);
  want += 8.0L * (owned + 1) + section(4.0L * h.num_arcs) + section(4.0L * h.num_halo);
  if (h.flags & ShardHeader::kWeights) want += section(4.0L * h.num_arcs);
  if (want != static_cast<long double>(in.size())) {
    char need[64];  // (counts from a corrupt header can exceed any integer type)
    std::snprintf(need, sizeof need, "%.0Lf", want);
    throw_file(path, "size " + std::to_string(in.size()) + " bytes, but the header's counts need " + need +
                         ": the shard is truncated or corrupt");
  }
  in.section(s.old_ids, owned, padded);
  if (h.flags & ShardHeader::kLabels) in.section(s.labels, owned, padded);
  if (h.flags & ShardHeader::kSplit) in.section(s.split, owned, true);
  if (h.flags & ShardHeader::kFeatures) in.section(s.features, owned * h.feature_dim, padded);
  in.section(s.offsets, owned + 1, padded);
  in.section(s.targets, h.num_arcs, padded);
  if (h.flags & ShardHeader::kWeights) in.section(s.weights, h.num_arcs, padded);
  in.section(s.halo, h.num_halo, padded);
  in.finish(h);
  if (s.offsets.front() != 0 || s.offsets.back() != h.num_arcs) throw_file(path, "adjacency offsets are inconsistent");
  for (std::uint64_t i = 0; i < owned; ++i)
    if (s.offsets[i + 1] < s.offsets[i]) throw_file(path, "adjacency offsets decrease");
  for (VertexId t : s.targets)
    if (t >= h.num_nodes) throw_file(path, "neighbour id beyond the graph");
  for (std::uint8_t c : s.split)
    if (c > 3) throw_file(path, "split code " + std::to_string(c) + " (expected 0..3)");
  for (std::int64_t l : s.labels)  // as the OGB reader accepts them; -1 = unlabeled
    if (l < -1 || l > std::int64_t{0x7fffffff}) throw_file(path, "label " + std::to_string(l) + " (expected -1..2^31-1)");
  for (std::size_t i = 0; i < s.halo.size(); ++i)
    if (s.halo[i] >= h.num_nodes || (s.halo[i] >= h.begin && s.halo[i] < h.end) || (i && s.halo[i] <= s.halo[i - 1]))
      throw_file(path, "halo list is not sorted, unique ids outside the owned range");
  return s;
}

std::vector<VertexId> read_old_to_new(const std::string& path) {
  VerifiedFileReader in(path);
  const ShardHeader h = in.header();
  // Version 2 pads the id array to a multiple of 8 bytes.
  const long double payload = static_cast<long double>(h.num_nodes) * sizeof(VertexId);
  const long double want = ShardHeader::kSize + (h.version >= 2 ? std::ceil(payload / 8.0L) * 8.0L : payload);
  if (h.num_nodes >= kMaxVertices || want != static_cast<long double>(in.size()))
    throw_file(path, "size does not match the header's vertex count");
  std::vector<VertexId> ids;
  in.section(ids, h.num_nodes, h.version >= 2);
  in.finish(h);
  for (VertexId v : ids)
    if (v >= h.num_nodes) throw_file(path, "new id " + std::to_string(v) + " is beyond the vertex count");
  return ids;
}


// ---- Shard sets: every file from one partition run ------------------------------------

namespace {

std::string describe(const ShardHeader& h, bool o2n) {
  std::string d = "run id " + format_run_id(h.run_id);
  if (h.run_id == 0) d += " (format version " + std::to_string(h.version) + ")";
  if (!o2n) d += ", part " + std::to_string(h.part);
  return d + " of " + std::to_string(h.num_parts) + " parts, " + std::to_string(h.num_nodes) + " nodes";
}

bool same_run(const ShardHeader& a, const ShardHeader& b) {
  return a.run_id == b.run_id && a.num_parts == b.num_parts && a.num_nodes == b.num_nodes;
}

[[noreturn]] void throw_mixed(const std::string& file, const ShardHeader& h, bool file_o2n, const std::string& ref,
                              const ShardHeader& rh, bool ref_o2n) {
  throw InputError(file, "comes from another partition run than " + ref + " (" +
                             std::filesystem::path(file).filename().string() + ": " + describe(h, file_o2n) + "; " +
                             std::filesystem::path(ref).filename().string() + ": " + describe(rh, ref_o2n) +
                             "): the files of a shard folder must all come from one flotilla partition run; copy "
                             "the complete folder again, or re-partition");
}

// partition.json as cmd_partition writes it (one JSON object); the few fields checked here
// are found by key. Fields absent or not of the expected type are not checked.
struct PartitionJson {
  std::string text;
  // The value after "key": (whitespace allowed) from `from` on, as the raw token: a string's
  // content, or a number's digits; empty when the key is absent.
  std::string value(const std::string& key, std::size_t from = 0, std::size_t* at = nullptr) const {
    const std::string quoted = "\"" + key + "\"";
    std::size_t p = from;
    while ((p = text.find(quoted, p)) != std::string::npos) {
      std::size_t q = p + quoted.size();
      while (q < text.size() && std::isspace(static_cast<unsigned char>(text[q]))) ++q;
      if (q < text.size() && text[q] == ':') {
        ++q;
        while (q < text.size() && std::isspace(static_cast<unsigned char>(text[q]))) ++q;
        if (at) *at = q;
        if (q < text.size() && text[q] == '"') {
          const std::size_t e = text.find('"', q + 1);
          return e == std::string::npos ? std::string() : text.substr(q + 1, e - q - 1);
        }
        std::size_t e = q;
        while (e < text.size() && std::isdigit(static_cast<unsigned char>(text[e]))) ++e;
        return text.substr(q, e - q);
      }
      p += quoted.size();
    }
    return {};
  }
  // files.NAME.bytes, or -1 when not listed.
  long double file_bytes(const std::string& name) const {
    std::size_t files = 0, at = 0, b = 0;
    value("files", 0, &files);
    if (files == 0) return -1;
    value(name, files, &at);
    if (at == 0 || at >= text.size() || text[at] != '{') return -1;
    const std::size_t end = text.find('}', at);
    const std::string bytes = value("bytes", at, &b);
    if (bytes.empty() || bytes.size() > 19 || b > end) return -1;
    return static_cast<long double>(std::stoull(bytes));
  }
};

}  // namespace

ShardSetCheck check_shard_files(const std::vector<std::string>& files) {
  ShardSetCheck out;
  if (files.empty()) throw std::invalid_argument("check_shard_files: no files");
  std::vector<ShardHeader> headers;
  for (const std::string& f : files) headers.push_back(read_shard_header(f));
  std::vector<int> seen;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!same_run(headers[i], headers[0])) throw_mixed(files[i], headers[i], false, files[0], headers[0], false);
    if (seen.empty()) seen.assign(headers[0].num_parts, -1);
    const std::uint32_t p = headers[i].part;
    if (seen[p] >= 0)
      throw InputError(files[i], "is part " + std::to_string(p) + " of its partition run, as " +
                                     files[static_cast<std::size_t>(seen[p])] + " is: one part given twice");
    seen[p] = static_cast<int>(i);
  }
  out.num_parts = headers[0].num_parts;
  out.num_nodes = headers[0].num_nodes;
  out.run_id = headers[0].run_id;
  out.version = headers[0].version;
  out.files = files;
  return out;
}

ShardSetCheck check_shard_set(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string o2n_path = dir + "/old_to_new.bin", json_path = dir + "/partition.json";
  // part-0.shard first: "cannot open" names a folder without shards, as before.
  std::vector<std::pair<std::string, ShardHeader>> shards;
  shards.emplace_back(shard_path(dir, 0), read_shard_header(shard_path(dir, 0)));

  // The folder's run: partition.json's run id when it has one, else old_to_new.bin's header,
  // else part-0.shard's. A file that disagrees is named beside a shard that agrees (when
  // there is one), so a shard copied over another part is the one named first.
  std::string ref = shards[0].first;
  ShardHeader rh = shards[0].second;
  bool ref_o2n = false;
  std::error_code ec;
  const bool have_o2n = fs::exists(o2n_path, ec);
  if (have_o2n) {
    rh = read_shard_header(o2n_path);
    ref = o2n_path;
    ref_o2n = true;
  }
  PartitionJson json;
  bool have_json = false;
  {
    const auto size = fs::file_size(json_path, ec);
    if (!ec && size < (std::uint64_t{64} << 20)) {
      std::ifstream in(json_path, std::ios::binary);
      json.text.assign(std::istreambuf_iterator<char>(in), {});
      have_json = !json.text.empty();
    }
  }
  if (have_json) {
    const std::string id = json.value("run_id"), parts = json.value("num_parts"), nodes = json.value("num_nodes");
    ShardHeader jh = rh;
    if (!id.empty()) {
      char* end = nullptr;
      jh.run_id = std::strtoull(id.c_str(), &end, 16);
      if (id.size() != 16 || *end != '\0' || jh.run_id == 0)
        throw_file(json_path, "run_id '" + id + "' is not 16 hex digits");
      jh.version = ShardHeader::kVersion;
    }
    if (!parts.empty() && parts.size() < 10) jh.num_parts = static_cast<std::uint32_t>(std::stoul(parts));
    if (!nodes.empty() && nodes.size() < 20) jh.num_nodes = std::stoull(nodes);
    // partition.json against old_to_new.bin (or part-0.shard); without a run id in
    // partition.json (written before run ids), only K and n are compared.
    if (!same_run(jh, rh)) throw_mixed(ref, rh, ref_o2n, json_path, jh, true);
    if (!id.empty()) {
      ref = json_path;
      rh = jh;
      ref_o2n = true;
    }
  }

  // Every part-*.shard in the folder: parts 0..K-1 (a missing one: "cannot open") and any
  // stray part beyond K.
  std::vector<std::uint32_t> parts;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 12 || name.compare(0, 5, "part-") != 0 || name.compare(name.size() - 6, 6, ".shard") != 0) continue;
    const std::string digits = name.substr(5, name.size() - 11);
    if (digits.size() > 9 || (digits.size() > 1 && digits[0] == '0') ||
        !std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      continue;
    parts.push_back(static_cast<std::uint32_t>(std::stoul(digits)));
  }
  for (std::uint32_t p = 0; p < rh.num_parts; ++p) parts.push_back(p);
  std::sort(parts.begin(), parts.end());
  parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
  for (std::uint32_t p : parts)
    if (p != 0) shards.emplace_back(shard_path(dir, p), read_shard_header(shard_path(dir, p)));

  const auto agree = std::find_if(shards.begin(), shards.end(), [&](const auto& s) { return same_run(s.second, rh); });
  for (const auto& [path, h] : shards) {
    if (same_run(h, rh)) continue;
    if (agree != shards.end()) throw_mixed(path, h, false, agree->first, agree->second, false);
    throw_mixed(path, h, false, ref, rh, ref_o2n);
  }
  ShardSetCheck out;
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string& path = shards[i].first;
    const std::uint32_t p = parts[i];
    if (shards[i].second.part != p)
      throw InputError(path, "holds part " + std::to_string(shards[i].second.part) + " of its partition run, "
                                 "not part " + std::to_string(p) + " (renamed?): copy the complete folder again, or "
                                 "re-partition");
    if (have_json) {
      const long double listed = json.file_bytes("part-" + std::to_string(p) + ".shard");
      const auto size = fs::file_size(path, ec);
      if (listed >= 0 && !ec && static_cast<long double>(size) != listed) {
        char b[32];
        std::snprintf(b, sizeof b, "%.0Lf", listed);
        throw InputError(path, std::to_string(size) + " bytes, but " + json_path + " lists " + b +
                                   " bytes for it: not the file that partition run wrote (a shard of another run, "
                                   "or an incomplete copy); copy the complete folder again, or re-partition");
      }
    }
    out.files.push_back(path);
  }
  if (have_o2n) out.files.push_back(o2n_path);
  out.num_parts = rh.num_parts;
  out.num_nodes = rh.num_nodes;
  out.run_id = rh.run_id;
  out.version = shards[0].second.version;
  return out;
}

}  // namespace flotilla
