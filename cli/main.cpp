// `flotilla SUBCOMMAND [flags]`: one executable for the whole pipeline.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"info", flotilla::cli::cmd_info, "describe a graph, OGB folder, traffic folder or .npy file"},
    {"generate", flotilla::cli::cmd_generate, "write synthetic data: rmat, sbm, traffic"},
    {"convert", flotilla::cli::cmd_convert, "convert a graph to a binary edge list, text edge list or METIS file"},
    {"partition", flotilla::cli::cmd_partition, "partition a graph into shards (streaming GREM, baselines)"},
    {"train", flotilla::cli::cmd_train, "train a GNN or a spatiotemporal model (mpirun for several ranks)"},
    {"version", flotilla::cli::cmd_version, "print versions of Flotilla and its libraries"},
};

void usage(std::FILE* out) {
  std::fprintf(out, "usage: flotilla <command> [options]   (flotilla <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return flotilla::cli::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(stdout);
    return 0;
  }
  if (name == "--version") return flotilla::cli::cmd_version(argc - 1, argv + 1);
  for (const auto& c : kCommands) {
    if (name == c.name) {
      try {
        return c.run(argc - 1, argv + 1);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "flotilla %s: error: %s\n", c.name, e.what());
        return flotilla::cli::kExitFailure;
      }
    }
  }
  std::fprintf(stderr, "flotilla: unknown command '%s'\n", name.c_str());
  usage(stderr);
  return flotilla::cli::kExitUsage;
}
