// `flotilla SUBCOMMAND [flags]`: one executable for the whole pipeline.
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>

#include <unistd.h>

#include "commands.h"

namespace {

// `train`, `predict` and `version` live in flotilla-train (LibTorch + MPI), installed next to this
// executable: replace this process with it (same pid, so mpirun/srun keep tracking it).
int exec_train_binary(int argc, char** argv) {
  std::string self(4096, '\0');
  const ssize_t len = readlink("/proc/self/exe", self.data(), self.size() - 1);
  std::string dir = ".";
  if (len > 0) {
    self.resize(static_cast<std::size_t>(len));
    if (const auto slash = self.rfind('/'); slash != std::string::npos) dir = self.substr(0, slash);
  }
  const std::string target = dir + "/flotilla-train";
  argv[0] = const_cast<char*>(target.c_str());
  (void)argc;
  execv(target.c_str(), argv);
  std::fprintf(stderr, "flotilla %s: cannot run %s: %s (it is built with flotilla; rebuild or reinstall)\n",
               argc > 1 ? argv[1] : "", target.c_str(), std::strerror(errno));
  return flotilla::cli::kExitUnavailable;
}

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"info", flotilla::cli::cmd_info, "describe a graph, OGB folder, traffic folder or .npy file"},
    {"generate", flotilla::cli::cmd_generate, "write synthetic data: rmat, rgg, sbm, traffic"},
    {"convert", flotilla::cli::cmd_convert, "convert a graph to a binary edge list, text edge list or METIS file"},
    {"partition", flotilla::cli::cmd_partition, "partition a graph into shards (streaming GREM, baselines)"},
    {"train", nullptr, "train a GNN or a spatiotemporal model (mpirun for several ranks)"},
    {"predict", nullptr, "predict every node's class with a trained run (layer-wise full-graph inference)"},
    {"version", nullptr, "print versions of Flotilla and its libraries"},
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
  if (name == "--version") {
    argv[1] = const_cast<char*>("version");
    return exec_train_binary(argc, argv);
  }
  for (const auto& c : kCommands) {
    if (name == c.name) {
      if (!c.run) return exec_train_binary(argc, argv);
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
