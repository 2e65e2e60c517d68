// Flotilla binary edge lists (with header) and headerless uint32/uint64 pair files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "flotilla/datasets/bytes.h"
#include "flotilla/datasets/durable.h"
#include "flotilla/datasets/error.h"
#include "flotilla/datasets/graph_io.h"
#include "posix_file.h"
#include "streams.h"

namespace flotilla {

std::uint32_t crc32_update(std::uint32_t c, const void* data, std::size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {  // zlib's length is 32-bit
    const uInt step = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    c = static_cast<std::uint32_t>(crc32(c, p, step));
    p += step;
    n -= step;
  }
  return c;
}

namespace {
void encode_header(const BinaryEdgeHeader& h, unsigned char* out) {
  std::memset(out, 0, BinaryEdgeHeader::kSize);
  std::memcpy(out, BinaryEdgeHeader::kMagic, 8);
  put_le<std::uint32_t>(out + 8, h.version);
  put_le<std::uint32_t>(out + 12, h.id_bytes);
  put_le<std::uint64_t>(out + 16, h.num_nodes);
  put_le<std::uint64_t>(out + 24, h.num_edges);
  put_le<std::uint32_t>(out + 32, h.flags);
  put_le<std::uint32_t>(out + 36, h.payload_crc32);
  put_le<std::uint32_t>(out + 60, crc32_update(0, out, 60));
}

}  // namespace

BinaryEdgeHeader parse_binary_edge_header(const unsigned char* b, std::size_t size, const std::string& path,
                                          std::uint64_t file_size) {
  if (size < BinaryEdgeHeader::kSize) throw_at_byte(path, size, "truncated header: expected 64 bytes");
  if (std::memcmp(b, BinaryEdgeHeader::kMagic, 8) != 0) throw_at_byte(path, 0, "not a Flotilla binary edge list (bad magic)");
  BinaryEdgeHeader h;
  h.version = get_le<std::uint32_t>(b + 8);
  h.id_bytes = get_le<std::uint32_t>(b + 12);
  h.num_nodes = get_le<std::uint64_t>(b + 16);
  h.num_edges = get_le<std::uint64_t>(b + 24);
  h.flags = get_le<std::uint32_t>(b + 32);
  h.payload_crc32 = get_le<std::uint32_t>(b + 36);
  if (get_le<std::uint32_t>(b + 60) != crc32_update(0, b, 60)) throw_at_byte(path, 60, "header checksum mismatch (corrupt header)");
  if (h.version != BinaryEdgeHeader::kVersion)
    throw_at_byte(path, 8, "unsupported format version " + std::to_string(h.version) + " (this build reads version 1)");
  if (h.id_bytes != 4 && h.id_bytes != 8) throw_at_byte(path, 12, "id width must be 4 or 8 bytes, found " + std::to_string(h.id_bytes));
  if (h.num_nodes >= kMaxVertices) throw_at_byte(path, 16, "num_nodes exceeds Flotilla's 32-bit vertex ids");
  const std::uint64_t pair = 2ull * h.id_bytes;
  if (h.num_edges > (file_size - BinaryEdgeHeader::kSize) / pair ||
      BinaryEdgeHeader::kSize + h.num_edges * pair != file_size)
    throw_at_byte(path, std::min<std::uint64_t>(file_size, BinaryEdgeHeader::kSize + h.num_edges * pair),
                  "file size " + std::to_string(file_size) + " does not match the header's " +
                      std::to_string(h.num_edges) + " edges (truncated or padded file)");
  return h;
}

// ---- writer -----------------------------------------------------------------------------
BinaryEdgeWriter::BinaryEdgeWriter(std::string path, std::uint64_t num_nodes, std::uint32_t id_bytes,
                                   bool each_edge_once)
    : path_(std::move(path)), tmp_path_(temp_path_for(path_)) {
  if (id_bytes != 4 && id_bytes != 8) throw std::invalid_argument("id_bytes must be 4 or 8");
  if (num_nodes >= kMaxVertices) throw std::invalid_argument("num_nodes exceeds 32-bit vertex ids");
  header_.id_bytes = id_bytes;
  header_.num_nodes = num_nodes;
  header_.flags = each_edge_once ? 1u : 0u;
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_file(tmp_path_, std::string("cannot create: ") + std::strerror(errno));
  try {
    unsigned char hdr[BinaryEdgeHeader::kSize];
    encode_header(header_, hdr);
    detail::write_all(fd_, hdr, sizeof hdr, tmp_path_);
    buf_.reserve(std::size_t{8} << 20);
  } catch (...) {
    // The destructor does not run for a throwing constructor: close and remove the temp file.
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
    throw;
  }
}

BinaryEdgeWriter::~BinaryEdgeWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink(tmp_path_.c_str());
}

void BinaryEdgeWriter::append(std::uint64_t src, std::uint64_t dst) {
  if (src >= header_.num_nodes || dst >= header_.num_nodes)
    throw std::out_of_range("edge (" + std::to_string(src) + ", " + std::to_string(dst) + ") outside 0.." +
                            std::to_string(header_.num_nodes) + " in " + path_);
  const std::size_t at = buf_.size();
  buf_.resize(at + 2 * header_.id_bytes);
  if (header_.id_bytes == 4) {
    put_le<std::uint32_t>(&buf_[at], static_cast<std::uint32_t>(src));
    put_le<std::uint32_t>(&buf_[at + 4], static_cast<std::uint32_t>(dst));
  } else {
    put_le<std::uint64_t>(&buf_[at], src);
    put_le<std::uint64_t>(&buf_[at + 8], dst);
  }
  ++num_edges_;
  if (buf_.size() >= (std::size_t{8} << 20)) flush();
}

void BinaryEdgeWriter::append(const EdgeChunk& chunk) {
  for (std::size_t i = 0; i < chunk.size(); ++i) append(chunk.src[i], chunk.dst[i]);
}

void BinaryEdgeWriter::flush() {
  crc_ = crc32_update(crc_, buf_.data(), buf_.size());
  detail::write_all(fd_, buf_.data(), buf_.size(), tmp_path_);
  buf_.clear();
}

void BinaryEdgeWriter::finish() {
  if (finished_) return;
  flush();
  header_.num_edges = num_edges_;
  header_.payload_crc32 = crc_;
  unsigned char hdr[BinaryEdgeHeader::kSize];
  encode_header(header_, hdr);
  if (::pwrite(fd_, hdr, sizeof hdr, 0) != static_cast<ssize_t>(sizeof hdr) || ::fsync(fd_) != 0)
    throw_file(tmp_path_, std::string("write failed: ") + std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    throw_file(path_, std::string("cannot rename temp file into place: ") + std::strerror(errno));
  finished_ = true;
}

// ---- stream -----------------------------------------------------------------------------
namespace detail {
namespace {

class BinaryEdgeStream final : public EdgeStream {
 public:
  BinaryEdgeStream(const std::string& path, GraphFormat fmt) : path_(path) {
    fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));  // a FIFO must not block open()
    if (!fd_.valid()) throw_file(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    ::fstat(fd_.get(), &st);
    if (!S_ISREG(st.st_mode)) throw_file(path, "is not a regular file (pipes and devices are not supported)");
    file_size_ = static_cast<std::uint64_t>(st.st_size);
    info_.format = fmt;
    info_.path = path;
    if (fmt == GraphFormat::Binary) {
      unsigned char hdr[BinaryEdgeHeader::kSize];
      const ssize_t got = ::pread(fd_.get(), hdr, sizeof hdr, 0);
      const BinaryEdgeHeader h = parse_binary_edge_header(hdr, got < 0 ? 0 : static_cast<std::size_t>(got), path, file_size_);
      id_bytes_ = h.id_bytes;
      payload_offset_ = BinaryEdgeHeader::kSize;
      num_edges_ = h.num_edges;
      expected_crc_ = h.payload_crc32;
      verify_crc_ = true;
      info_.num_nodes = h.num_nodes;
      info_.each_edge_once = (h.flags & 1u) != 0;
    } else {
      id_bytes_ = fmt == GraphFormat::RawBin32 ? 4 : 8;
      const std::uint64_t pair = 2ull * id_bytes_;
      if (file_size_ % pair != 0)
        throw_at_byte(path, file_size_ - file_size_ % pair,
                      "file size " + std::to_string(file_size_) + " is not a multiple of " + std::to_string(pair) +
                          " bytes (truncated pair?)");
      num_edges_ = file_size_ / pair;
      info_.num_nodes = scan_max_id();
    }
    info_.num_edges_hint = num_edges_;
    rewind();
  }

  void rewind() override {
    next_edge_ = 0;
    crc_ = 0;
  }

  bool next_chunk(EdgeChunk& chunk, std::size_t max_edges) override {
    chunk.clear();
    if (max_edges == 0) max_edges = 1;
    while (next_edge_ < num_edges_ && chunk.size() < max_edges) {
      const std::uint64_t want = std::min<std::uint64_t>(num_edges_ - next_edge_, max_edges - chunk.size());
      const std::uint64_t first = next_edge_;
      read_pairs(want);
      const std::size_t base = chunk.size();
      chunk.src.resize(base + want);
      chunk.dst.resize(base + want);
      std::size_t out = base;
      const std::uint64_t n = info_.num_nodes;
      for (std::uint64_t i = 0; i < want; ++i) {
        std::uint64_t u, v;
        if (id_bytes_ == 4) {
          u = get_le<std::uint32_t>(&buf_[8 * i]);
          v = get_le<std::uint32_t>(&buf_[8 * i + 4]);
        } else {
          u = get_le<std::uint64_t>(&buf_[16 * i]);
          v = get_le<std::uint64_t>(&buf_[16 * i + 8]);
        }
        if (u >= n || v >= n)
          throw_at_byte(path_, payload_offset_ + (first + i) * 2 * id_bytes_,
                        "node id " + std::to_string(std::max(u, v)) + " out of range 0.." + std::to_string(n - 1));
        chunk.src[out] = static_cast<VertexId>(u);
        chunk.dst[out] = static_cast<VertexId>(v);
        out += (u != v);  // self-loops dropped
      }
      chunk.src.resize(out);
      chunk.dst.resize(out);
    }
    if (verify_crc_ && next_edge_ == num_edges_ && crc_ != expected_crc_)
      throw_at_byte(path_, BinaryEdgeHeader::kSize,
                    "payload checksum mismatch: the edge data (bytes 64.." + std::to_string(file_size_) +
                        ") is corrupt (crc32 " + std::to_string(crc_) + ", header says " +
                        std::to_string(expected_crc_) + ")");
    report(payload_offset_ + next_edge_ * 2 * id_bytes_, file_size_);
    return chunk.size() > 0;
  }

 private:
  void read_pairs(std::uint64_t count) {
    const std::size_t bytes = static_cast<std::size_t>(count * 2 * id_bytes_);
    if (buf_.size() < bytes) buf_.resize(bytes);
    std::uint64_t off = payload_offset_ + next_edge_ * 2 * id_bytes_;
    std::size_t done = 0;
    while (done < bytes) {
      const ssize_t r = ::pread(fd_.get(), buf_.data() + done, bytes - done, static_cast<off_t>(off + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw_at_byte(path_, off + done, r == 0 ? "unexpected end of file" : std::strerror(errno));
      done += static_cast<std::size_t>(r);
    }
    if (verify_crc_) crc_ = crc32_update(crc_, buf_.data(), bytes);
    next_edge_ += count;
  }

  std::uint64_t scan_max_id() {
    std::uint64_t max_id = 0;
    bool any = false;
    const std::uint64_t step = std::uint64_t{1} << 22;
    while (next_edge_ < num_edges_) {
      const std::uint64_t c = std::min(step, num_edges_ - next_edge_);
      read_pairs(c);
      for (std::uint64_t i = 0; i < 2 * c; ++i) {
        const std::uint64_t x = id_bytes_ == 4 ? get_le<std::uint32_t>(&buf_[4 * i]) : get_le<std::uint64_t>(&buf_[8 * i]);
        max_id = std::max(max_id, x);
      }
      any = true;
    }
    if (any && max_id >= kMaxVertices)
      throw_at_byte(path_, 0, "node id " + std::to_string(max_id) + " exceeds Flotilla's 32-bit vertex ids");
    return any ? max_id + 1 : 0;
  }

  std::string path_;
  detail::OwnedFd fd_;  // owned, so a constructor that throws after open() does not leak it
  std::uint64_t file_size_ = 0;
  std::uint32_t id_bytes_ = 4;
  std::uint64_t payload_offset_ = 0;
  std::uint64_t num_edges_ = 0;
  std::uint64_t next_edge_ = 0;
  bool verify_crc_ = false;
  std::uint32_t crc_ = 0, expected_crc_ = 0;
  std::vector<unsigned char> buf_;
};

}  // namespace

std::unique_ptr<EdgeStream> open_binary_stream(const std::string& path, GraphFormat fmt) {
  return std::make_unique<BinaryEdgeStream>(path, fmt);
}

}  // namespace detail
}  // namespace flotilla
