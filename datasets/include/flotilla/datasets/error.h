// Errors about bad input. Every reader throws InputError with the file and the line (text
// formats) or byte offset (binary formats) where the problem is, and what was expected.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace flotilla {

class InputError : public std::runtime_error {
 public:
  enum class Where { None, Line, Byte };

  InputError(std::string file, std::string what);
  InputError(std::string file, Where where, std::uint64_t position, std::string what);

  const std::string& file() const { return file_; }
  Where where() const { return where_; }
  std::uint64_t position() const { return position_; }  // 1-based line or 0-based byte offset

 private:
  std::string file_;
  Where where_ = Where::None;
  std::uint64_t position_ = 0;
};

[[noreturn]] void throw_at_line(const std::string& file, std::uint64_t line, const std::string& what);
[[noreturn]] void throw_at_byte(const std::string& file, std::uint64_t offset, const std::string& what);
[[noreturn]] void throw_file(const std::string& file, const std::string& what);

}  // namespace flotilla
