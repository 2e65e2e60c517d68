// `flotilla-train`: the LibTorch- and MPI-linked half of the CLI. `flotilla train ...`,
// `flotilla predict ...` and `flotilla version` exec this binary, so that the data tools (info, generate, convert,
// partition) never pay LibTorch's start-up time and memory (~0.9 s, ~150 MB).
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <string>

#include "../commands.h"

int main(int argc, char** argv) {
  // Batches allocate tens of MB per step (feature rows, messages). glibc serves such sizes
  // with fresh mmaps, so every step paid page faults and zeroing on first touch; keeping
  // them on the heap lets freed batch buffers be reused.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const std::string name = argc >= 2 ? argv[1] : "";
  try {
    if (name == "train") return flotilla::cli::cmd_train(argc - 1, argv + 1);
    if (name == "predict") return flotilla::cli::cmd_predict(argc - 1, argv + 1);
    if (name == "version") return flotilla::cli::cmd_version(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flotilla %s: error: %s\n", name.c_str(), e.what());
    return flotilla::cli::kExitFailure;
  }
  std::fprintf(stderr, "usage: flotilla-train train|predict|version [options] (normally run as `flotilla train`)\n");
  return flotilla::cli::kExitUsage;
}
