// Subcommands whose implementation lands with later issues. They say so plainly and exit
// with kExitUnavailable rather than pretending to work (--help exits 0 with the same note).
#include <cstdio>
#include <cstring>

#include "../commands.h"

namespace flotilla::cli {

int cmd_train(int argc, char** argv) {
  const char* note =
      "flotilla train: not available in this build yet (node classification: issue #4; forecasting: issue #6)\n";
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("%s", note);
      return kExitOk;
    }
  std::fprintf(stderr, "%s", note);
  return kExitUnavailable;
}

}  // namespace flotilla::cli
