// Where tests find data: ../shared/data beside the repository, the project's own test
// inputs, and a fresh scratch folder per test.
#pragma once

#include <string>

#include "flotilla/datasets/error.h"

namespace flotilla::test {

std::string shared_data(const std::string& rel);  // ../shared/data/<rel>
std::string test_data(const std::string& rel);    // tests/data/<rel>
// Empty folder unique to the running test (under the build tree); created on call.
std::string scratch_dir();
// Writes `content` to scratch_dir()/name and returns the path.
std::string write_file(const std::string& name, const std::string& content);
// Gzip-compresses `content` into scratch_dir()/name.
std::string write_gz(const std::string& name, const std::string& content);

// The message of the InputError that f() throws, or "<no InputError thrown>".
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no InputError thrown>";
}

}  // namespace flotilla::test
