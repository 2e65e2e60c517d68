#include "input_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

namespace flotilla::fuzz {

namespace {
void write(const std::string& path, const char* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
}
}  // namespace

const std::string& input_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
  static std::map<std::string, std::string> paths;
  std::string& path = paths[suffix];
  if (path.empty()) path = "/tmp/flotilla-fuzz-" + std::to_string(::getpid()) + suffix;
  write(path, reinterpret_cast<const char*>(data), size);
  return path;
}

std::string input_dir(const std::uint8_t* data, std::size_t size, const char* tag, const std::vector<std::string>& names,
                      const std::vector<std::pair<std::string, std::string>>& fixed) {
  const std::string dir = "/tmp/flotilla-fuzz-" + std::to_string(::getpid()) + "-" + tag;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const char* p = reinterpret_cast<const char*>(data);
  const char* end = p + size;
  for (const auto& name : names) {
    const char* q = p;
    while (q < end && *q != '\0') ++q;
    const std::string path = dir + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    write(path, p, static_cast<std::size_t>(q - p));
    p = q < end ? q + 1 : end;
  }
  for (const auto& [name, content] : fixed) {
    const std::string path = dir + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    write(path, content.data(), content.size());
  }
  return dir;
}

}  // namespace flotilla::fuzz
