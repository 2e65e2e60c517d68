// Subcommands whose implementation lands with later issues. They say so plainly and exit
// with kExitUnavailable rather than pretending to work.
#include <cstdio>

#include "commands.h"

namespace flotilla::cli {

int cmd_partition(int, char**) {
  std::fprintf(stderr, "flotilla partition: not available in this build yet (streaming GREM partitioner: issue #3)\n");
  return kExitUnavailable;
}

int cmd_train(int, char**) {
  std::fprintf(stderr, "flotilla train: not available in this build yet (node classification: issue #4; "
                       "forecasting: issue #6)\n");
  return kExitUnavailable;
}

}  // namespace flotilla::cli
