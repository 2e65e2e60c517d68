#include "input_file.h"

#include <unistd.h>

#include <cstdio>
#include <map>

namespace flotilla::fuzz {

const std::string& input_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
  static std::map<std::string, std::string> paths;
  std::string& path = paths[suffix];
  if (path.empty()) path = "/tmp/flotilla-fuzz-" + std::to_string(::getpid()) + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f) {
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}

}  // namespace flotilla::fuzz
