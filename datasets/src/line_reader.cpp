#include "flotilla/datasets/line_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "flotilla/datasets/error.h"

namespace flotilla {

LineReader::LineReader(std::string path, std::size_t buffer_bytes) : path_(std::move(path)) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw_file(path_, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    if (S_ISDIR(st.st_mode)) { ::close(fd_); throw_file(path_, "is a directory, expected a file"); }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw_file(path_, "is not a regular file (pipes and devices are not supported: readers make several passes)");
    }
    file_bytes_ = static_cast<std::uint64_t>(st.st_size);
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  unsigned char magic[2] = {0, 0};
  const ssize_t got = ::pread(fd_, magic, 2, 0);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    const int dupfd = ::dup(fd_);
    gz_ = gzdopen(dupfd, "rb");
    if (!gz_) { ::close(dupfd); ::close(fd_); throw_file(path_, "cannot open gzip stream"); }
    gzbuffer(static_cast<gzFile>(gz_), 1 << 20);
  }
  cap_ = buffer_bytes < 64 ? 64 : buffer_bytes;
  // Small plain files need no multi-megabyte buffer (the buffer still grows for long lines).
  if (!gz_ && file_bytes_ + 1 < cap_) cap_ = std::max<std::size_t>(4096, static_cast<std::size_t>(file_bytes_) + 1);
  buf_.reset(new char[cap_]);
}

LineReader::~LineReader() {
  if (gz_) gzclose(static_cast<gzFile>(gz_));
  if (fd_ >= 0) ::close(fd_);
}

void LineReader::rewind() {
  const bool ok = gz_ ? gzrewind(static_cast<gzFile>(gz_)) == 0 : ::lseek(fd_, 0, SEEK_SET) == 0;
  if (!ok) throw_file(path_, "cannot rewind for another pass");
  begin_ = end_ = 0;
  eof_ = false;
  line_ = 0;
  raw_consumed_ = 0;
}

std::uint64_t LineReader::bytes_consumed() const {
  if (gz_) {
    const z_off_t off = gzoffset(static_cast<gzFile>(gz_));
    return off < 0 ? 0 : static_cast<std::uint64_t>(off);
  }
  return raw_consumed_;
}

std::size_t LineReader::fill() {
  // Move the unconsumed tail to the front, grow when a single line fills the buffer.
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_) {
    std::unique_ptr<char[]> bigger(new char[cap_ * 2]);
    std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    cap_ *= 2;
  }
  std::size_t got = 0;
  if (gz_) {
    const int n = gzread(static_cast<gzFile>(gz_), buf_.get() + end_, static_cast<unsigned>(std::min<std::size_t>(cap_ - end_, 1u << 30)));
    if (n < 0) {
      int errnum = 0;
      std::string msg = gzerror(static_cast<gzFile>(gz_), &errnum);
      if (const auto colon = msg.find(": "); msg.rfind("<fd:", 0) == 0 && colon != std::string::npos) msg.erase(0, colon + 2);
      throw_at_byte(path_, bytes_consumed(), "corrupt gzip data after line " + std::to_string(line_) + ": " + msg);
    }
    got = static_cast<std::size_t>(n);
    if (got == 0) {
      // zlib reports a truncated stream only through gzerror after a short read.
      int errnum = 0;
      gzerror(static_cast<gzFile>(gz_), &errnum);
      if (errnum != Z_OK && errnum != Z_STREAM_END)
        throw_at_byte(path_, bytes_consumed(), "truncated or corrupt gzip data after line " + std::to_string(line_));
    }
  } else {
    ssize_t n;
    do {
      n = ::read(fd_, buf_.get() + end_, cap_ - end_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw_file(path_, std::string("read error: ") + std::strerror(errno));
    got = static_cast<std::size_t>(n);
    raw_consumed_ += got;
  }
  end_ += got;
  if (got == 0) eof_ = true;
  return got;
}

// A UTF-8 byte order mark (EF BB BF) that some editors and Excel put at the start of a CSV
// is not part of the first field: it is dropped from line 1, for every text format.
std::string_view LineReader::strip_bom(std::string_view line) const {
  if (line_ == 0 && line.size() >= 3 && static_cast<unsigned char>(line[0]) == 0xEF &&
      static_cast<unsigned char>(line[1]) == 0xBB && static_cast<unsigned char>(line[2]) == 0xBF)
    line.remove_prefix(3);
  return line;
}

bool LineReader::next(std::string_view& line) {
  for (;;) {
    const char* start = buf_.get() + begin_;
    const std::size_t avail = end_ - begin_;
    const void* nl = avail ? std::memchr(start, '\n', avail) : nullptr;
    if (nl) {
      const char* e = static_cast<const char*>(nl);
      std::size_t len = static_cast<std::size_t>(e - start);
      begin_ += len + 1;
      if (len && start[len - 1] == '\r') --len;
      line = strip_bom(std::string_view(start, len));
      ++line_;
      return true;
    }
    if (eof_) {
      if (avail == 0) return false;
      // Last line without a trailing newline.
      std::size_t len = avail;
      if (start[len - 1] == '\r') --len;
      line = strip_bom(std::string_view(start, len));
      begin_ = end_;
      ++line_;
      return true;
    }
    fill();
  }
}

void LineReader::fail(const std::string& what) const { throw_at_line(path_, line_, what); }

std::string_view FieldCursor::next_token() {
  skip_separators();
  const char* s = p_;
  while (p_ != end_ && *p_ != ' ' && *p_ != '\t' && *p_ != ',') ++p_;
  if (p_ != s) ++fields_;
  return std::string_view(s, static_cast<std::size_t>(p_ - s));
}

std::string_view FieldCursor::token_for_error() {
  const char* s = p_;
  const char* e = p_;
  while (e != end_ && *e != ' ' && *e != '\t' && *e != ',' && e - s < 40) ++e;
  return std::string_view(s, static_cast<std::size_t>(e - s));
}

namespace {
[[noreturn]] void bad_field(const LineReader& reader, const char* what, std::string_view tok) {
  reader.fail(std::string("expected ") + what + ", found '" + std::string(tok) + "'");
}
bool is_sep(char c) { return c == ' ' || c == '\t' || c == ','; }
}  // namespace

bool FieldCursor::parse_u64(std::uint64_t& out, const LineReader& reader, const char* what) {
  skip_separators();
  if (p_ == end_) return false;
  const char* s = p_;
  std::uint64_t v = 0;
  while (p_ != end_ && static_cast<unsigned char>(*p_ - '0') < 10) {
    const std::uint64_t d = static_cast<std::uint64_t>(*p_ - '0');
    if (v > (UINT64_MAX - d) / 10) { p_ = s; bad_field(reader, what, token_for_error()); }
    v = v * 10 + d;
    ++p_;
  }
  if (p_ == s || (p_ != end_ && !is_sep(*p_))) { p_ = s; bad_field(reader, what, token_for_error()); }
  out = v;
  ++fields_;
  return true;
}

bool FieldCursor::parse_i64(std::int64_t& out, const LineReader& reader, const char* what) {
  skip_separators();
  if (p_ == end_) return false;
  const char* s = p_;
  const auto res = std::from_chars(p_, end_, out);
  if (res.ec == std::errc::result_out_of_range && (res.ptr == end_ || is_sep(*res.ptr)))
    reader.fail(std::string(what) + " out of range: '" + std::string(token_for_error()) + "'");
  if (res.ec != std::errc() || (res.ptr != end_ && !is_sep(*res.ptr))) bad_field(reader, what, token_for_error());
  p_ = res.ptr;
  (void)s;
  ++fields_;
  return true;
}

bool FieldCursor::parse_double(double& out, const LineReader& reader, const char* what) {
  skip_separators();
  if (p_ == end_) return false;
  const char* s = p_;
  if (*s == '+') ++s;  // from_chars rejects a leading '+', CSV writers emit it
  const auto res = std::from_chars(s, end_, out);
  if (res.ec == std::errc::result_out_of_range) {
    reader.fail(std::string(what) + " out of range: '" + std::string(token_for_error()) + "'");
  }
  if (res.ec != std::errc() || (res.ptr != end_ && !is_sep(*res.ptr))) bad_field(reader, what, token_for_error());
  p_ = res.ptr;
  ++fields_;
  return true;
}

bool FieldCursor::parse_float(float& out, const LineReader& reader, const char* what) {
  const char* s = p_;
  double d = 0;
  if (!parse_double(d, reader, what)) return false;
  // Checked after narrowing: 1e39 is a finite double but overflows float32 to inf.
  out = static_cast<float>(d);
  if (!std::isfinite(out)) {
    const char* e = p_;
    p_ = s;
    skip_separators();
    const std::string tok(p_, static_cast<std::size_t>(std::min<std::ptrdiff_t>(e - p_, 40)));
    p_ = e;
    reader.fail(std::string(what) + " '" + tok + "' in column " + std::to_string(fields_) +
                " is not a finite float32 value (NaN, inf, or beyond +-3.4e38)");
  }
  return true;
}

}  // namespace flotilla
