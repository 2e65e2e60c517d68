// NumPy .npy files: header parsing, whole-array reading, a streaming row reader for arrays
// larger than memory (a [T, N, F] traffic signal of many GB) and a streaming writer.
//
// Supported: format versions 1.0, 2.0 and 3.0; little-endian dtypes '<f4', '<f8', '<i4',
// '<i8', '<u4', '<u8' and '|u1' ('<u1' too); C order; any rank including scalars `()`.
// Rejected with an InputError naming the file and byte offset: bad magic, unknown version,
// header longer than the file, malformed header dict, Fortran order, other dtypes (big-endian,
// complex, structured, object), and a data section whose size is not exactly
// prod(shape) * itemsize (truncated or padded file). Nothing is allocated from header
// counts before they have been checked against the file size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

enum class NpyType { UInt8, Int32, Int64, UInt32, UInt64, Float32, Float64 };

const char* npy_descr(NpyType t);       // "<f4", "|u1", ...
std::size_t npy_itemsize(NpyType t);    // bytes per element
bool npy_is_integer(NpyType t);
// NpyType for a C++ element type (float, double, int32_t, int64_t, uint8_t, uint32_t, uint64_t).
template <typename T> constexpr NpyType npy_type_of();

struct NpyHeader {
  std::string dtype;                  // descr as written in the file, e.g. "<f4"
  NpyType type = NpyType::Float32;
  std::vector<std::uint64_t> shape;   // empty for a scalar
  std::uint64_t data_offset = 0;      // bytes before the data (preamble + header dict)
  std::size_t word_size = 0;          // itemsize in bytes
  int major_version = 1;

  std::uint64_t num_elements() const;  // prod(shape), 1 for a scalar
  // Leading dimension (1 for a scalar) and the elements in one row (prod(shape[1:])).
  std::uint64_t num_rows() const { return shape.empty() ? 1 : shape[0]; }
  std::uint64_t row_elements() const;
  std::uint64_t data_bytes() const { return num_elements() * word_size; }
};

// "(2, 3)"-style rendering, as Python prints the shape tuple.
std::string npy_shape_string(const std::vector<std::uint64_t>& shape);

// Parses the preamble and header dict from the first `size` bytes of a file of `file_size`
// bytes (pass at least the whole header; 64 KiB covers every version-1 header). Validates
// the data size against file_size. Throws InputError.
NpyHeader parse_npy_header(const unsigned char* bytes, std::size_t size, const std::string& path,
                           std::uint64_t file_size);
NpyHeader read_npy_header(const std::string& path);

// A whole array in memory. The data keeps the file's dtype; typed views and conversions.
class NpyArray {
 public:
  NpyArray() = default;
  NpyArray(NpyHeader header, std::vector<std::uint64_t> storage) : header_(std::move(header)), storage_(std::move(storage)) {}

  const NpyHeader& header() const { return header_; }
  NpyType type() const { return header_.type; }
  const std::vector<std::uint64_t>& shape() const { return header_.shape; }
  std::uint64_t size() const { return header_.num_elements(); }
  const void* raw() const { return storage_.data(); }

  // Typed view; throws std::invalid_argument when T is not the array's dtype.
  template <typename T>
  Span<const T> values() const;
  // Element i converted to double / int64 (integers keep their exact value; uint64 above
  // INT64_MAX and non-integral floats throw std::out_of_range in as_int64).
  double as_double(std::uint64_t i) const;
  std::int64_t as_int64(std::uint64_t i) const;
  std::vector<float> to_float() const;
  std::vector<std::int64_t> to_int64() const;

 private:
  NpyHeader header_;
  std::vector<std::uint64_t> storage_;  // 8-byte aligned backing store of data_bytes()
};

// Reads and validates the whole file. Throws InputError.
NpyArray read_npy(const std::string& path);

// Streams the rows of the leading dimension (rows of a [T, N, F] signal are time steps) in
// chunks, with pread: no more memory than the caller's buffer.
class NpyRowReader {
 public:
  explicit NpyRowReader(std::string path);
  ~NpyRowReader();
  NpyRowReader(const NpyRowReader&) = delete;
  NpyRowReader& operator=(const NpyRowReader&) = delete;

  const NpyHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  std::uint64_t num_rows() const { return header_.num_rows(); }
  std::uint64_t row_elements() const { return header_.row_elements(); }
  std::uint64_t row_bytes() const { return header_.row_elements() * header_.word_size; }
  std::uint64_t position() const { return row_; }  // next row to be read
  void seek_row(std::uint64_t row);                // row <= num_rows()

  // Reads up to max_rows rows from the current position, in the file's dtype, into `out`
  // (room for max_rows * row_bytes()). Returns rows read (0 at the end).
  std::uint64_t read_rows(void* out, std::uint64_t max_rows);
  // Same, converted to float (for float/int arrays; values keep their C conversion).
  std::uint64_t read_rows_float(float* out, std::uint64_t max_rows);

 private:
  std::string path_;
  int fd_ = -1;
  NpyHeader header_;
  std::uint64_t row_ = 0;
  std::vector<unsigned char> scratch_;
};

// Streams an array to disk. The header (with the final shape) is written up front; data is
// appended in C order; finish() checks that exactly prod(shape) elements were written,
// flushes, and renames PATH.tmp-PID to PATH. Without finish() the temp file is removed.
// The bytes are identical to numpy.save() of the same array (header layout included).
class NpyWriter {
 public:
  NpyWriter(std::string path, NpyType type, std::vector<std::uint64_t> shape);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;

  // Appends `count` elements of the writer's dtype (raw little-endian bytes).
  void write(const void* data, std::uint64_t count);
  // Typed variant: checks that T matches the dtype (std::invalid_argument otherwise).
  template <typename T>
  void write_values(const T* data, std::uint64_t count) {
    check_type(npy_type_of<T>());
    write(static_cast<const void*>(data), count);
  }
  void write_rows(const void* data, std::uint64_t rows) { write(data, rows * row_elements_); }
  std::uint64_t elements_written() const { return written_; }
  std::uint64_t bytes_total() const { return data_offset_ + total_ * npy_itemsize(type_); }
  void finish();

 private:
  void check_type(NpyType t) const;
  void flush();
  std::string path_, tmp_path_;
  NpyType type_;
  int fd_ = -1;
  std::uint64_t total_ = 0, row_elements_ = 1, written_ = 0, data_offset_ = 0;
  std::vector<unsigned char> buf_;
  bool finished_ = false;
};

// Encodes the preamble + header dict exactly as numpy.save does (version 1.0 when it fits,
// else 2.0; padded with spaces to a multiple of 64 bytes, newline-terminated).
std::string encode_npy_header(NpyType type, const std::vector<std::uint64_t>& shape);

// Writes a whole array in one call.
void write_npy(const std::string& path, NpyType type, const std::vector<std::uint64_t>& shape, const void* data);
template <typename T>
void write_npy(const std::string& path, const std::vector<std::uint64_t>& shape, const std::vector<T>& data) {
  write_npy(path, npy_type_of<T>(), shape, data.data());
}

// ---- template definitions -----------------------------------------------------------------
template <> constexpr NpyType npy_type_of<std::uint8_t>() { return NpyType::UInt8; }
template <> constexpr NpyType npy_type_of<std::int32_t>() { return NpyType::Int32; }
template <> constexpr NpyType npy_type_of<std::int64_t>() { return NpyType::Int64; }
template <> constexpr NpyType npy_type_of<std::uint32_t>() { return NpyType::UInt32; }
template <> constexpr NpyType npy_type_of<std::uint64_t>() { return NpyType::UInt64; }
template <> constexpr NpyType npy_type_of<float>() { return NpyType::Float32; }
template <> constexpr NpyType npy_type_of<double>() { return NpyType::Float64; }

namespace detail {
[[noreturn]] void npy_type_mismatch(NpyType have, NpyType want);
}

template <typename T>
Span<const T> NpyArray::values() const {
  if (npy_type_of<T>() != header_.type) detail::npy_type_mismatch(header_.type, npy_type_of<T>());
  return {reinterpret_cast<const T*>(storage_.data()), static_cast<std::size_t>(size())};
}

}  // namespace flotilla
