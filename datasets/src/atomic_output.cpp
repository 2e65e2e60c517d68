#include "flotilla/datasets/atomic_output.h"

#include <filesystem>

namespace flotilla {

std::string normalise_out_dir(const std::string& arg) {
  namespace fs = std::filesystem;
  std::string p = arg;
  for (;;) {
    if (p.size() > 1 && p.back() == '/')
      p.pop_back();
    else if (p.size() >= 2 && p.compare(p.size() - 2, 2, "/.") == 0)
      p.pop_back();  // "out/." -> "out/"
    else
      break;
  }
  const std::string last = fs::path(p).filename().string();
  if (last == "." || last == "..") {
    p = fs::weakly_canonical(p).string();
    while (p.size() > 1 && p.back() == '/') p.pop_back();
  }
  return p;
}

TempPathGuard::~TempPathGuard() {
  if (committed_ || path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace flotilla
