// NumPy .npy reading and writing, and the EdgeStream over an integer [m, 2] / [2, m] array.
#include "flotilla/datasets/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "flotilla/datasets/durable.h"
#include "flotilla/datasets/edge_stream.h"
#include "flotilla/datasets/error.h"
#include "posix_file.h"
#include "streams.h"

namespace flotilla {

namespace {

using detail::OwnedFd;
using detail::write_all;

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kMaxHeaderBytes = std::size_t{64} << 20;  // far beyond any real header
constexpr std::size_t kMaxRank = 64;
constexpr std::size_t kAlign = 64;          // numpy's ARRAY_ALIGN
constexpr std::size_t kGrowthDigits = 21;   // numpy's GROWTH_AXIS_MAX_DIGITS

struct DtypeEntry {
  const char* descr;
  NpyType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"<f4", NpyType::Float32}, {"<f8", NpyType::Float64}, {"<i4", NpyType::Int32},
    {"<i8", NpyType::Int64},   {"<u4", NpyType::UInt32},  {"<u8", NpyType::UInt64},
    {"|u1", NpyType::UInt8},   {"<u1", NpyType::UInt8},
};


int open_readonly(const std::string& path, std::uint64_t& size) {
  OwnedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw_file(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || S_ISDIR(st.st_mode))
    throw_file(path, "is a directory or cannot be read, expected a .npy file");
  size = static_cast<std::uint64_t>(st.st_size);
  return fd.release();
}

// Reads exactly n bytes at offset (or throws, naming the byte where the data ran out).
void pread_exact(int fd, void* out, std::size_t n, std::uint64_t offset, const std::string& path) {
  auto* p = static_cast<unsigned char*>(out);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_at_byte(path, offset + done, std::string("read error: ") + std::strerror(errno));
    if (r == 0) throw_at_byte(path, offset + done, "unexpected end of file (file changed while reading?)");
    done += static_cast<std::size_t>(r);
  }
}


// Reads the whole header of an open file and parses it.
NpyHeader read_header_fd(int fd, const std::string& path, std::uint64_t file_size) {
  if (file_size == 0) throw_at_byte(path, 0, "empty file: expected a .npy array (magic \\x93NUMPY)");
  unsigned char pre[12] = {0};
  const std::size_t pre_n = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, sizeof pre));
  pread_exact(fd, pre, pre_n, 0, path);
  if (pre_n < 10) {
    // Let the parser report the precise problem (magic or truncated preamble).
    return parse_npy_header(pre, pre_n, path, file_size);
  }
  std::uint64_t total = 0;
  if (std::memcmp(pre, kMagic, 6) == 0 && pre[6] == 1) {
    total = 10 + (static_cast<std::uint64_t>(pre[8]) | static_cast<std::uint64_t>(pre[9]) << 8);
  } else if (std::memcmp(pre, kMagic, 6) == 0 && (pre[6] == 2 || pre[6] == 3) && pre_n >= 12) {
    std::uint32_t len = 0;
    std::memcpy(&len, pre + 8, 4);
    total = 12 + static_cast<std::uint64_t>(len);
  } else {
    return parse_npy_header(pre, pre_n, path, file_size);
  }
  const std::uint64_t want = std::min<std::uint64_t>({total, file_size, kMaxHeaderBytes + 12});
  std::vector<unsigned char> buf(static_cast<std::size_t>(want));
  pread_exact(fd, buf.data(), buf.size(), 0, path);
  return parse_npy_header(buf.data(), buf.size(), path, file_size);
}

// ---- header dict parser ---------------------------------------------------------------------
class DictParser {
 public:
  DictParser(const char* text, std::size_t size, std::uint64_t base, const std::string& path)
      : s_(text), n_(size), base_(base), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw_at_byte(path_, base_ + i_, "malformed .npy header: " + what + " (header: " + excerpt() + ")");
  }

  // An error about a well-formed value (unsupported dtype): no "malformed" prefix.
  [[noreturn]] void reject(const std::string& what) const { throw_at_byte(path_, base_ + i_, what); }

  void ws() {
    while (i_ < n_ && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool peek(char c) {
    ws();
    return i_ < n_ && s_[i_] == c;
  }
  void expect(char c, const char* what) {
    ws();
    if (i_ >= n_ || s_[i_] != c) fail(std::string("expected ") + what);
    ++i_;
  }
  std::string quoted() {
    ws();
    if (i_ >= n_ || (s_[i_] != '\'' && s_[i_] != '"')) fail("expected a quoted string");
    const char q = s_[i_++];
    const std::size_t start = i_;
    while (i_ < n_ && s_[i_] != q) {
      if (s_[i_] == '\\') fail("escape sequences are not supported in header strings");
      ++i_;
    }
    if (i_ >= n_) fail("unterminated string");
    std::string out(s_ + start, i_ - start);
    ++i_;
    return out;
  }
  bool boolean() {
    ws();
    if (n_ - i_ >= 4 && std::memcmp(s_ + i_, "True", 4) == 0) { i_ += 4; return true; }
    if (n_ - i_ >= 5 && std::memcmp(s_ + i_, "False", 5) == 0) { i_ += 5; return false; }
    fail("expected True or False for 'fortran_order'");
  }
  std::vector<std::uint64_t> tuple() {
    expect('(', "'(' starting the shape tuple");
    std::vector<std::uint64_t> dims;
    for (;;) {
      if (peek(')')) { ++i_; break; }
      ws();
      if (i_ >= n_ || s_[i_] < '0' || s_[i_] > '9') fail("expected a non-negative integer dimension in the shape");
      std::uint64_t v = 0;
      while (i_ < n_ && s_[i_] >= '0' && s_[i_] <= '9') {
        const std::uint64_t d = static_cast<std::uint64_t>(s_[i_] - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) fail("shape dimension overflows 64 bits");
        v = v * 10 + d;
        ++i_;
      }
      if (i_ < n_ && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;  // Python 2 long suffix
      dims.push_back(v);
      if (dims.size() > kMaxRank) fail("more than " + std::to_string(kMaxRank) + " dimensions");
      if (peek(',')) { ++i_; continue; }
      if (peek(')')) { ++i_; break; }
      fail("expected ',' or ')' in the shape tuple");
    }
    return dims;
  }
  bool at_end() { ws(); return i_ >= n_; }
  std::size_t pos() const { return i_; }
  void set_pos(std::size_t p) { i_ = p; }

 private:
  std::string excerpt() const {
    std::string e(s_, std::min<std::size_t>(n_, 120));
    while (!e.empty() && (e.back() == ' ' || e.back() == '\n')) e.pop_back();
    for (char& c : e)
      if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126) c = '?';
    return "\"" + e + "\"";
  }
  const char* s_;
  std::size_t n_;
  std::size_t i_ = 0;
  std::uint64_t base_;
  const std::string& path_;
};

std::string supported_list() {
  return "'<f4', '<f8', '<i4', '<i8', '<u4', '<u8', '|u1'";
}

std::uint64_t checked_product(const std::vector<std::uint64_t>& shape, std::uint64_t itemsize, bool& overflow) {
  overflow = false;
  std::uint64_t p = 1;
  bool zero = false;
  for (std::uint64_t d : shape) zero |= d == 0;
  if (zero) return 0;
  for (std::uint64_t d : shape) {
    if (p > std::numeric_limits<std::uint64_t>::max() / d) { overflow = true; return 0; }
    p *= d;
  }
  if (p > std::numeric_limits<std::uint64_t>::max() / itemsize) overflow = true;
  return p;
}

template <typename T>
T load(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

double element_as_double(NpyType t, const unsigned char* p) {
  switch (t) {
    case NpyType::UInt8: return *p;
    case NpyType::Int32: return load<std::int32_t>(p);
    case NpyType::Int64: return static_cast<double>(load<std::int64_t>(p));
    case NpyType::UInt32: return load<std::uint32_t>(p);
    case NpyType::UInt64: return static_cast<double>(load<std::uint64_t>(p));
    case NpyType::Float32: return load<float>(p);
    case NpyType::Float64: return load<double>(p);
  }
  return 0;
}

void convert_to_float(NpyType t, const unsigned char* in, float* out, std::uint64_t count) {
  const std::size_t w = npy_itemsize(t);
  if (t == NpyType::Float32) {
    if (count) std::memcpy(out, in, count * sizeof(float));  // out may be null when empty
    return;
  }
  for (std::uint64_t i = 0; i < count; ++i) out[i] = static_cast<float>(element_as_double(t, in + i * w));
}

}  // namespace

// ---- dtype helpers --------------------------------------------------------------------------
const char* npy_descr(NpyType t) {
  switch (t) {
    case NpyType::UInt8: return "|u1";
    case NpyType::Int32: return "<i4";
    case NpyType::Int64: return "<i8";
    case NpyType::UInt32: return "<u4";
    case NpyType::UInt64: return "<u8";
    case NpyType::Float32: return "<f4";
    case NpyType::Float64: return "<f8";
  }
  return "?";
}

std::size_t npy_itemsize(NpyType t) {
  switch (t) {
    case NpyType::UInt8: return 1;
    case NpyType::Int32:
    case NpyType::UInt32:
    case NpyType::Float32: return 4;
    case NpyType::Int64:
    case NpyType::UInt64:
    case NpyType::Float64: return 8;
  }
  return 0;
}

bool npy_is_integer(NpyType t) { return t != NpyType::Float32 && t != NpyType::Float64; }

namespace detail {
void npy_type_mismatch(NpyType have, NpyType want) {
  throw std::invalid_argument(std::string("npy array holds ") + npy_descr(have) + ", requested as " + npy_descr(want));
}
}  // namespace detail

std::uint64_t NpyHeader::num_elements() const {
  std::uint64_t p = 1;
  for (std::uint64_t d : shape) p *= d;  // validated against overflow when parsed
  return p;
}

std::uint64_t NpyHeader::row_elements() const {
  std::uint64_t p = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) p *= shape[i];
  return p;
}

std::string npy_shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// ---- header ---------------------------------------------------------------------------------
NpyHeader parse_npy_header(const unsigned char* b, std::size_t size, const std::string& path, std::uint64_t file_size) {
  if (file_size == 0 || size == 0) throw_at_byte(path, 0, "empty file: expected a .npy array (magic \\x93NUMPY)");
  if (std::memcmp(b, kMagic, std::min<std::size_t>(size, 6)) != 0)
    throw_at_byte(path, 0, "not a .npy file: bad magic (expected \\x93NUMPY)");
  if (size < 10) throw_at_byte(path, size, "truncated .npy preamble: expected at least 10 bytes");
  NpyHeader h;
  const unsigned major = b[6], minor = b[7];
  std::uint64_t prefix = 0, hlen = 0;
  if (major == 1) {
    prefix = 10;
    hlen = static_cast<std::uint64_t>(b[8]) | static_cast<std::uint64_t>(b[9]) << 8;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw_at_byte(path, size, "truncated .npy preamble: expected 12 bytes for format version 2/3");
    prefix = 12;
    std::uint32_t len = 0;
    std::memcpy(&len, b + 8, 4);
    hlen = len;
  } else {
    throw_at_byte(path, 6, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                               " (this build reads 1.0, 2.0 and 3.0)");
  }
  if (minor != 0)
    throw_at_byte(path, 7, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
  h.major_version = static_cast<int>(major);
  if (prefix + hlen > file_size)
    throw_at_byte(path, 8, "header length " + std::to_string(hlen) + " runs past the end of the file (" +
                               std::to_string(file_size) + " bytes; truncated file?)");
  if (hlen > kMaxHeaderBytes) throw_at_byte(path, 8, "header length " + std::to_string(hlen) + " is implausibly large");
  if (prefix + hlen > size) throw_at_byte(path, size, "header not fully read (internal: pass the whole header)");
  h.data_offset = prefix + hlen;

  DictParser p(reinterpret_cast<const char*>(b + prefix), static_cast<std::size_t>(hlen), prefix, path);
  bool have_descr = false, have_fortran = false, have_shape = false, fortran = false;
  std::size_t descr_pos = 0;
  p.expect('{', "'{' starting the header dict");
  for (;;) {
    if (p.peek('}')) { p.set_pos(p.pos() + 1); break; }
    const std::size_t key_pos = p.pos();
    const std::string key = p.quoted();
    p.expect(':', "':' after a header key");
    if (key == "descr") {
      if (have_descr) { p.set_pos(key_pos); p.fail("duplicate key 'descr'"); }
      have_descr = true;
      p.ws();
      descr_pos = p.pos();
      if (p.peek('[')) p.reject("structured dtypes are not supported (expected one of " + supported_list() + ")");
      h.dtype = p.quoted();
    } else if (key == "fortran_order") {
      if (have_fortran) { p.set_pos(key_pos); p.fail("duplicate key 'fortran_order'"); }
      have_fortran = true;
      fortran = p.boolean();
    } else if (key == "shape") {
      if (have_shape) { p.set_pos(key_pos); p.fail("duplicate key 'shape'"); }
      have_shape = true;
      h.shape = p.tuple();
    } else {
      p.set_pos(key_pos);
      p.fail("unexpected key '" + key + "' (expected 'descr', 'fortran_order', 'shape')");
    }
    if (p.peek(',')) { p.set_pos(p.pos() + 1); continue; }
    if (p.peek('}')) { p.set_pos(p.pos() + 1); break; }
    p.fail("expected ',' or '}' after a header value");
  }
  if (!p.at_end()) p.fail("unexpected text after the header dict");
  if (!have_descr || !have_fortran || !have_shape)
    p.fail(std::string("missing key '") + (!have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape") + "'");

  bool known = false;
  for (const auto& d : kDtypes)
    if (h.dtype == d.descr) { h.type = d.type; known = true; }
  if (!known) {
    p.set_pos(descr_pos);
    if (!h.dtype.empty() && h.dtype[0] == '>')
      p.reject("big-endian dtype '" + h.dtype + "' is not supported (save with arr.astype('<" + h.dtype.substr(1) + "'))");
    p.reject("unsupported dtype '" + h.dtype + "' (supported: " + supported_list() + ")");
  }
  h.word_size = npy_itemsize(h.type);
  if (fortran && h.shape.size() > 1)
    throw_at_byte(path, prefix, "Fortran-order (column-major) arrays are not supported; save with "
                                "np.ascontiguousarray(arr) (shape " + npy_shape_string(h.shape) + ")");

  bool overflow = false;
  const std::uint64_t elems = checked_product(h.shape, h.word_size, overflow);
  if (overflow)
    throw_at_byte(path, prefix, "shape " + npy_shape_string(h.shape) + " has more elements than fit in 64 bits");
  const std::uint64_t need = elems * h.word_size;
  const std::uint64_t have = file_size - h.data_offset;
  if (have < need)
    throw_at_byte(path, file_size, "truncated data: shape " + npy_shape_string(h.shape) + " of " + h.dtype + " needs " +
                                       std::to_string(need) + " bytes after the header (which ends at byte " +
                                       std::to_string(h.data_offset) + "), the file has " + std::to_string(have));
  if (have > need)
    throw_at_byte(path, h.data_offset + need, std::to_string(have - need) + " unexpected bytes after the data of shape " +
                                                  npy_shape_string(h.shape) + " " + h.dtype +
                                                  " (file size " + std::to_string(file_size) + ", expected " +
                                                  std::to_string(h.data_offset + need) + ")");
  return h;
}

NpyHeader read_npy_header(const std::string& path) {
  std::uint64_t size = 0;
  const OwnedFd fd(open_readonly(path, size));
  return read_header_fd(fd.get(), path, size);
}

std::string encode_npy_header(NpyType type, const std::vector<std::uint64_t>& shape) {
  std::string dict = std::string("{'descr': '") + npy_descr(type) + "', 'fortran_order': False, 'shape': " +
                     npy_shape_string(shape) + ", }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthDigits) dict.append(kGrowthDigits - digits, ' ');
  }
  std::size_t prefix = 10;
  std::size_t hlen = dict.size() + 1;
  std::size_t pad = kAlign - (prefix + hlen) % kAlign;
  int version = 1;
  if (hlen + pad > 65535) {
    version = 2;
    prefix = 12;
    pad = kAlign - (prefix + hlen) % kAlign;
  }
  std::string out(reinterpret_cast<const char*>(kMagic), 6);
  out.push_back(static_cast<char>(version));
  out.push_back(0);
  const std::uint64_t len = hlen + pad;
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>((len >> 8) & 0xff));
  if (version == 2) {
    out.push_back(static_cast<char>((len >> 16) & 0xff));
    out.push_back(static_cast<char>((len >> 24) & 0xff));
  }
  out += dict;
  out.append(pad, ' ');
  out.push_back('\n');
  return out;
}

// ---- NpyArray -------------------------------------------------------------------------------
double NpyArray::as_double(std::uint64_t i) const {
  if (i >= size()) throw std::out_of_range("npy element index out of range");
  return element_as_double(header_.type, reinterpret_cast<const unsigned char*>(storage_.data()) + i * header_.word_size);
}

std::int64_t NpyArray::as_int64(std::uint64_t i) const {
  if (i >= size()) throw std::out_of_range("npy element index out of range");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(storage_.data()) + i * header_.word_size;
  switch (header_.type) {
    case NpyType::UInt8: return *p;
    case NpyType::Int32: return load<std::int32_t>(p);
    case NpyType::Int64: return load<std::int64_t>(p);
    case NpyType::UInt32: return load<std::uint32_t>(p);
    case NpyType::UInt64: {
      const auto v = load<std::uint64_t>(p);
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw std::out_of_range("uint64 value " + std::to_string(v) + " does not fit in int64");
      return static_cast<std::int64_t>(v);
    }
    case NpyType::Float32:
    case NpyType::Float64: {
      const double d = element_as_double(header_.type, p);
      if (!(d == std::floor(d)) || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18)
        throw std::out_of_range("float value " + std::to_string(d) + " is not an int64 integer");
      return static_cast<std::int64_t>(d);
    }
  }
  return 0;
}

std::vector<float> NpyArray::to_float() const {
  std::vector<float> out(static_cast<std::size_t>(size()));
  convert_to_float(header_.type, reinterpret_cast<const unsigned char*>(storage_.data()), out.data(), size());
  return out;
}

std::vector<std::int64_t> NpyArray::to_int64() const {
  std::vector<std::int64_t> out(static_cast<std::size_t>(size()));
  for (std::uint64_t i = 0; i < size(); ++i) out[i] = as_int64(i);
  return out;
}

NpyArray read_npy(const std::string& path) {
  std::uint64_t size = 0;
  const OwnedFd fd(open_readonly(path, size));
  NpyHeader h = read_header_fd(fd.get(), path, size);  // data size checked against the file size
  const std::uint64_t bytes = h.data_bytes();
  std::vector<std::uint64_t> storage(static_cast<std::size_t>((bytes + 7) / 8));
  std::uint64_t done = 0;
  while (done < bytes) {  // pread in pieces: a single call transfers at most ~2 GiB
    const std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(bytes - done, std::uint64_t{1} << 30));
    pread_exact(fd.get(), reinterpret_cast<unsigned char*>(storage.data()) + done, step, h.data_offset + done, path);
    done += step;
  }
  return NpyArray(std::move(h), std::move(storage));
}

// ---- NpyRowReader ---------------------------------------------------------------------------
NpyRowReader::NpyRowReader(std::string path) : path_(std::move(path)) {
  std::uint64_t size = 0;
  OwnedFd fd(open_readonly(path_, size));  // closed if the header is rejected
  header_ = read_header_fd(fd.get(), path_, size);
  fd_ = fd.release();
}

NpyRowReader::~NpyRowReader() {
  if (fd_ >= 0) ::close(fd_);
}

void NpyRowReader::seek_row(std::uint64_t row) {
  if (row > num_rows()) throw std::out_of_range("seek past the last row of " + path_);
  row_ = row;
}

std::uint64_t NpyRowReader::read_rows(void* out, std::uint64_t max_rows) {
  const std::uint64_t rows = std::min(max_rows, num_rows() - row_);
  const std::uint64_t rb = row_bytes();
  auto* p = static_cast<unsigned char*>(out);
  std::uint64_t done = 0;
  const std::uint64_t bytes = rows * rb;
  const std::uint64_t off = header_.data_offset + row_ * rb;
  while (done < bytes) {
    const std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(bytes - done, std::uint64_t{1} << 30));
    pread_exact(fd_, p + done, step, off + done, path_);
    done += step;
  }
  row_ += rows;
  return rows;
}

std::uint64_t NpyRowReader::read_rows_float(float* out, std::uint64_t max_rows) {
  if (header_.type == NpyType::Float32) return read_rows(out, max_rows);
  const std::uint64_t rows = std::min(max_rows, num_rows() - row_);
  const std::uint64_t re = row_elements();
  // Convert through a bounded scratch buffer (about 4 MiB of file data at a time).
  const std::uint64_t per = std::max<std::uint64_t>(1, (std::uint64_t{4} << 20) / std::max<std::uint64_t>(1, row_bytes()));
  std::uint64_t done = 0;
  while (done < rows) {
    const std::uint64_t step = std::min(per, rows - done);
    scratch_.resize(static_cast<std::size_t>(step * row_bytes()));
    read_rows(scratch_.data(), step);
    convert_to_float(header_.type, scratch_.data(), out + done * re, step * re);
    done += step;
  }
  return rows;
}

// ---- NpyWriter ------------------------------------------------------------------------------
NpyWriter::NpyWriter(std::string path, NpyType type, std::vector<std::uint64_t> shape)
    : path_(std::move(path)), tmp_path_(temp_path_for(path_)), type_(type) {
  bool overflow = false;
  total_ = checked_product(shape, npy_itemsize(type), overflow);
  if (overflow) throw std::invalid_argument("npy shape " + npy_shape_string(shape) + " overflows 64 bits");
  if (shape.size() > kMaxRank) throw std::invalid_argument("npy rank above 64");
  for (std::size_t i = 1; i < shape.size(); ++i) row_elements_ *= shape[i];
  const std::string header = encode_npy_header(type, shape);
  data_offset_ = header.size();
  OwnedFd fd(::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) throw_file(tmp_path_, std::string("cannot create: ") + std::strerror(errno));
  try {
    buf_.reserve(std::size_t{4} << 20);
    buf_.assign(header.begin(), header.end());
  } catch (...) {
    fd.reset();  // the destructor does not run for a throwing constructor: close and remove here
    ::unlink(tmp_path_.c_str());
    throw;
  }
  fd_ = fd.release();
}

NpyWriter::~NpyWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink(tmp_path_.c_str());
}

void NpyWriter::check_type(NpyType t) const {
  if (t != type_) detail::npy_type_mismatch(type_, t);
}

void NpyWriter::flush() {
  write_all(fd_, buf_.data(), buf_.size(), tmp_path_);
  buf_.clear();
}

void NpyWriter::write(const void* data, std::uint64_t count) {
  if (finished_) throw std::logic_error("NpyWriter::write after finish() on " + path_);
  if (count > total_ - written_)
    throw std::out_of_range("NpyWriter: writing " + std::to_string(count) + " more elements exceeds the shape's " +
                            std::to_string(total_) + " (" + path_ + ")");
  const std::size_t bytes = static_cast<std::size_t>(count * npy_itemsize(type_));
  if (buf_.size() + bytes <= buf_.capacity()) {
    buf_.insert(buf_.end(), static_cast<const unsigned char*>(data), static_cast<const unsigned char*>(data) + bytes);
  } else {
    flush();
    write_all(fd_, data, bytes, tmp_path_);
  }
  written_ += count;
}

void NpyWriter::finish() {
  if (finished_) return;
  if (written_ != total_)
    throw std::logic_error("NpyWriter: " + std::to_string(written_) + " of " + std::to_string(total_) +
                           " elements written to " + path_ + " before finish()");
  flush();
  if (::fsync(fd_) != 0) throw_file(tmp_path_, std::string("fsync failed: ") + std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    throw_file(path_, std::string("cannot rename temp file into place: ") + std::strerror(errno));
  finished_ = true;
}

void write_npy(const std::string& path, NpyType type, const std::vector<std::uint64_t>& shape, const void* data) {
  NpyWriter w(path, type, shape);
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) n *= d;
  w.write(data, n);
  w.finish();
}

// ---- EdgeStream over an integer [m, 2] or [2, m] array --------------------------------------
namespace detail {
namespace {

class NpyEdgeStream final : public EdgeStream {
 public:
  explicit NpyEdgeStream(const std::string& path) : reader_(path) {
    const NpyHeader& h = reader_.header();
    if (!npy_is_integer(h.type))
      throw_file(path, "an edge array must have an integer dtype (<i4, <i8, <u4, <u8), found " + h.dtype +
                           " with shape " + npy_shape_string(h.shape));
    if (h.shape.size() != 2 || (h.shape[1] != 2 && h.shape[0] != 2))
      throw_file(path, "an edge array must have shape [m, 2] (one edge per row) or [2, m] (PyG edge_index), found " +
                           npy_shape_string(h.shape));
    // [m, 2] wins when both fit (a 2 x 2 array is read as two edges given as rows).
    columns_ = h.shape[1] == 2;
    num_edges_ = columns_ ? h.shape[0] : h.shape[1];
    info_.format = GraphFormat::Npy;
    info_.path = path;
    info_.num_edges_hint = num_edges_;
    info_.has_edge_weights = false;
    info_.each_edge_once = false;
    // Pre-pass: validate ids (non-negative, within 32-bit vertex ids) and find the maximum.
    std::uint64_t max_id = 0;
    bool any = false;
    std::vector<std::uint64_t> a, b;
    while (next_edge_ < num_edges_) {
      const std::uint64_t got = fetch(a, b, kBatch);
      for (std::uint64_t i = 0; i < got; ++i) max_id = std::max({max_id, a[i], b[i]});
      any = any || got > 0;
    }
    info_.num_nodes = any ? max_id + 1 : 0;
    if (info_.num_nodes >= kMaxVertices)
      throw_file(path, "needs " + std::to_string(info_.num_nodes) + " vertex ids, beyond Flotilla's 32-bit vertex ids");
    rewind();
  }

  void rewind() override { next_edge_ = 0; }

  bool next_chunk(EdgeChunk& chunk, std::size_t max_edges) override {
    chunk.clear();
    if (max_edges == 0) max_edges = 1;
    while (next_edge_ < num_edges_ && chunk.size() < max_edges) {
      const std::uint64_t got = fetch(a_, b_, std::min<std::uint64_t>(kBatch, max_edges - chunk.size()));
      for (std::uint64_t i = 0; i < got; ++i) {
        if (a_[i] == b_[i]) continue;
        chunk.src.push_back(static_cast<VertexId>(a_[i]));
        chunk.dst.push_back(static_cast<VertexId>(b_[i]));
      }
    }
    const std::uint64_t item = reader_.header().word_size;
    report(reader_.header().data_offset + next_edge_ * 2 * item,
           reader_.header().data_offset + num_edges_ * 2 * item);
    return chunk.size() > 0;
  }

 private:
  static constexpr std::uint64_t kBatch = std::uint64_t{1} << 20;

  // Reads up to `want` edges from next_edge_ into a (sources) and b (targets), validating ids.
  std::uint64_t fetch(std::vector<std::uint64_t>& a, std::vector<std::uint64_t>& b, std::uint64_t want) {
    const NpyHeader& h = reader_.header();
    const std::uint64_t n = std::min(want, num_edges_ - next_edge_);
    const std::size_t w = h.word_size;
    a.resize(static_cast<std::size_t>(n));
    b.resize(static_cast<std::size_t>(n));
    if (columns_) {
      raw_.resize(static_cast<std::size_t>(n * 2 * w));
      reader_.seek_row(next_edge_);
      reader_.read_rows(raw_.data(), n);
      for (std::uint64_t i = 0; i < n; ++i) {
        a[i] = id_at(raw_.data() + (2 * i) * w, h.data_offset + (next_edge_ + i) * 2 * w);
        b[i] = id_at(raw_.data() + (2 * i + 1) * w, h.data_offset + ((next_edge_ + i) * 2 + 1) * w);
      }
    } else {
      // Two cursors into the rows of sources (row 0) and targets (row 1).
      raw_.resize(static_cast<std::size_t>(n * w));
      for (int r = 0; r < 2; ++r) {
        const std::uint64_t off = h.data_offset + (static_cast<std::uint64_t>(r) * num_edges_ + next_edge_) * w;
        read_at(raw_.data(), n * w, off);
        auto& dst = r == 0 ? a : b;
        for (std::uint64_t i = 0; i < n; ++i) dst[i] = id_at(raw_.data() + i * w, off + i * w);
      }
    }
    next_edge_ += n;
    return n;
  }

  void read_at(unsigned char* out, std::uint64_t bytes, std::uint64_t off) {
    // NpyRowReader reads whole rows; for [2, m] we need slices of a row, so read directly.
    if (!fd_.valid()) {
      fd_.reset(::open(reader_.path().c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd_.valid()) throw_file(reader_.path(), std::string("cannot open: ") + std::strerror(errno));
    }
    pread_exact(fd_.get(), out, static_cast<std::size_t>(bytes), off, reader_.path());
  }

  std::uint64_t id_at(const unsigned char* p, std::uint64_t byte_offset) const {
    const NpyType t = reader_.header().type;
    std::uint64_t v = 0;
    switch (t) {
      case NpyType::UInt8: v = *p; break;
      case NpyType::UInt32: v = load<std::uint32_t>(p); break;
      case NpyType::UInt64: v = load<std::uint64_t>(p); break;
      case NpyType::Int32: {
        const auto s = load<std::int32_t>(p);
        if (s < 0) throw_at_byte(reader_.path(), byte_offset, "negative node id " + std::to_string(s));
        v = static_cast<std::uint64_t>(s);
        break;
      }
      case NpyType::Int64: {
        const auto s = load<std::int64_t>(p);
        if (s < 0) throw_at_byte(reader_.path(), byte_offset, "negative node id " + std::to_string(s));
        v = static_cast<std::uint64_t>(s);
        break;
      }
      case NpyType::Float32:
      case NpyType::Float64: break;  // rejected in the constructor
    }
    if (v >= kMaxVertices)
      throw_at_byte(reader_.path(), byte_offset, "node id " + std::to_string(v) + " exceeds Flotilla's 32-bit vertex ids");
    return v;
  }

  NpyRowReader reader_;
  OwnedFd fd_;  // for [2, m] slices; a member object, so it is closed even when the constructor throws
  bool columns_ = true;
  std::uint64_t num_edges_ = 0;
  std::uint64_t next_edge_ = 0;
  std::vector<unsigned char> raw_;
  std::vector<std::uint64_t> a_, b_;
};

}  // namespace

std::unique_ptr<EdgeStream> open_npy_stream(const std::string& path) {
  return std::make_unique<NpyEdgeStream>(path);
}

}  // namespace detail
}  // namespace flotilla
