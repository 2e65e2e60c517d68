// Buffered line-by-line reading of text files, plain or gzip-compressed (detected from the
// magic bytes, not the name), plus a tokenizer for the numeric fields on a line.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace flotilla {

// Owns its file handle and buffer. Lines are returned as views into the buffer, valid until
// the next call to next(). A line longer than the buffer grows the buffer (a METIS line of a
// hub vertex can be megabytes).
class LineReader {
 public:
  explicit LineReader(std::string path, std::size_t buffer_bytes = std::size_t{4} << 20);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Next line without its '\n' (and without a trailing '\r'; line 1 also without a leading
  // UTF-8 byte order mark). False at end of file.
  bool next(std::string_view& line);
  void rewind();

  const std::string& path() const { return path_; }
  std::uint64_t line_number() const { return line_; }          // 1-based, of the last line
  std::uint64_t bytes_consumed() const;                        // of the file on disk
  std::uint64_t file_bytes() const { return file_bytes_; }     // size on disk
  bool compressed() const { return gz_ != nullptr; }

  [[noreturn]] void fail(const std::string& what) const;       // InputError at path:line

 private:
  std::size_t fill();  // reads more bytes after the unconsumed tail; returns bytes read
  std::string_view strip_bom(std::string_view line) const;  // of line 1 (before line_ counts it)

  std::string path_;
  int fd_ = -1;
  void* gz_ = nullptr;  // gzFile when the file is gzip-compressed
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0, begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::uint64_t line_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t raw_consumed_ = 0;
};

// Cursor over the fields of one line. Separators are spaces, tabs and commas, so it reads
// whitespace-separated (SNAP, METIS) and comma-separated (OGB CSV) files alike.
class FieldCursor {
 public:
  explicit FieldCursor(std::string_view line) : p_(line.data()), end_(line.data() + line.size()) {}

  bool at_end() { skip_separators(); return p_ == end_; }
  // Each parse_* skips leading separators; false when the line has no more fields.
  // A field that is present but malformed makes them throw via `reader.fail`.
  bool parse_u64(std::uint64_t& out, const LineReader& reader, const char* what);
  bool parse_i64(std::int64_t& out, const LineReader& reader, const char* what);
  bool parse_double(double& out, const LineReader& reader, const char* what);
  // parse_float also fails on a value that is not finite after conversion to float32 (NaN,
  // inf, or a finite double beyond float32's range such as 1e39), naming the column.
  bool parse_float(float& out, const LineReader& reader, const char* what);
  std::string_view next_token();  // raw token, empty at end of line
  // 1-based column of the field parsed last (fields parsed or skipped so far on this line).
  std::size_t column() const { return fields_; }

 private:
  void skip_separators() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == ',')) ++p_;
  }
  std::string_view token_for_error();
  const char* p_;
  const char* end_;
  std::size_t fields_ = 0;
};

}  // namespace flotilla
