// Fuzz inputs reach the readers through real files: the readers are file-based (they must
// stream), so each input is written to per-process temp files first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::fuzz {
// Writes data to a per-process temp file with the given suffix and returns its path.
const std::string& input_file(const std::uint8_t* data, std::size_t size, const char* suffix);
// Splits data at NUL bytes into pieces (at most names.size(); missing pieces are empty) and
// writes piece i to DIR/names[i] in a per-process temp folder named after `tag`; fixed files
// (name, content) are written too. Returns DIR.
std::string input_dir(const std::uint8_t* data, std::size_t size, const char* tag, const std::vector<std::string>& names,
                      const std::vector<std::pair<std::string, std::string>>& fixed = {});
}  // namespace flotilla::fuzz
