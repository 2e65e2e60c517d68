// Fuzz inputs reach the readers through a real file: the readers are file-based (they must
// stream), so each input is written to a per-process temp file first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace flotilla::fuzz {
// Writes data to a per-process temp file with the given suffix and returns its path.
const std::string& input_file(const std::uint8_t* data, std::size_t size, const char* suffix);
}  // namespace flotilla::fuzz
