// Subcommands of the `flotilla` executable. Each parses its own flags (cxxopts, --help)
// and returns the process exit code; errors about input are reported, not thrown.
#pragma once

#include <string>

namespace flotilla::cli {

int cmd_info(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_partition(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_predict(int argc, char** argv);
int cmd_version(int argc, char** argv);
// The software a training run used, as one JSON object (written to RUNDIR/versions.json).
std::string versions_json();

// Exit codes shared by all subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // bad input or a failed run
inline constexpr int kExitUsage = 2;     // bad flags
inline constexpr int kExitUnavailable = 3;  // feature not built yet / not in this build

}  // namespace flotilla::cli
