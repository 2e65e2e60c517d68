#include "test_paths.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

namespace flotilla::test {

std::string shared_data(const std::string& rel) { return std::string(FLOTILLA_SHARED_DATA) + "/" + rel; }
std::string test_data(const std::string& rel) { return std::string(FLOTILLA_TEST_DATA) + "/" + rel; }

std::string scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "global";
  const std::filesystem::path dir = std::filesystem::path(FLOTILLA_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string write_file(const std::string& name, const std::string& content) {
  const std::string path = scratch_dir() + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string write_gz(const std::string& name, const std::string& content) {
  const std::string path = scratch_dir() + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
  return path;
}

}  // namespace flotilla::test
