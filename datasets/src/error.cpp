#include "flotilla/datasets/error.h"

namespace flotilla {
namespace {
std::string format(const std::string& file, InputError::Where where, std::uint64_t pos,
                   const std::string& what) {
  switch (where) {
    case InputError::Where::Line: return file + ":" + std::to_string(pos) + ": " + what;
    case InputError::Where::Byte: return file + ": byte " + std::to_string(pos) + ": " + what;
    case InputError::Where::None: break;
  }
  return file + ": " + what;
}
}  // namespace

InputError::InputError(std::string file, std::string what)
    : std::runtime_error(format(file, Where::None, 0, what)), file_(std::move(file)) {}

InputError::InputError(std::string file, Where where, std::uint64_t position, std::string what)
    : std::runtime_error(format(file, where, position, what)),
      file_(std::move(file)), where_(where), position_(position) {}

void throw_at_line(const std::string& file, std::uint64_t line, const std::string& what) {
  throw InputError(file, InputError::Where::Line, line, what);
}
void throw_at_byte(const std::string& file, std::uint64_t offset, const std::string& what) {
  throw InputError(file, InputError::Where::Byte, offset, what);
}
void throw_file(const std::string& file, const std::string& what) { throw InputError(file, what); }

}  // namespace flotilla
