// Placeholder: generators land in this session (helper-owned file).
#include <cstdio>

#include "commands.h"

namespace flotilla::cli {
int cmd_generate(int, char**) {
  std::fprintf(stderr, "flotilla generate: not available yet\n");
  return kExitUnavailable;
}
}  // namespace flotilla::cli
