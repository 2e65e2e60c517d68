// `flotilla-train`: the LibTorch- and MPI-linked half of the CLI. `flotilla train ...` and
// `flotilla version` exec this binary, so that the data tools (info, generate, convert,
// partition) never pay LibTorch's start-up time and memory (~0.9 s, ~150 MB).
#include <cstdio>
#include <exception>
#include <string>

#include "../commands.h"

int main(int argc, char** argv) {
  const std::string name = argc >= 2 ? argv[1] : "";
  try {
    if (name == "train") return flotilla::cli::cmd_train(argc - 1, argv + 1);
    if (name == "version") return flotilla::cli::cmd_version(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flotilla %s: error: %s\n", name.c_str(), e.what());
    return flotilla::cli::kExitFailure;
  }
  std::fprintf(stderr, "usage: flotilla-train train|version [options] (normally run as `flotilla train`)\n");
  return flotilla::cli::kExitUsage;
}
