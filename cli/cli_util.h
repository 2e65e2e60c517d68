// Helpers shared by the subcommands: option parsing with uniform errors.
#pragma once

#include <cxxopts.hpp>
#include <cstdio>
#include <optional>

#include "commands.h"

namespace flotilla::cli {

// Parses argv; on --help prints help and returns kExitOk in *exit_code; on a bad flag or a
// stray argument (one no positional option took) prints the error and returns kExitUsage.
// Returns nullopt whenever the caller should return.
inline std::optional<cxxopts::ParseResult> parse_or_exit(cxxopts::Options& options, int argc, char** argv,
                                                         int* exit_code) {
  try {
    auto result = options.parse(argc, argv);
    if (result.count("help")) {
      std::printf("%s\n", options.help().c_str());
      *exit_code = kExitOk;
      return std::nullopt;
    }
    if (!result.unmatched().empty()) {
      std::fprintf(stderr, "%s: unexpected argument '%s'\n(see %s --help)\n", options.program().c_str(),
                   result.unmatched().front().c_str(), options.program().c_str());
      *exit_code = kExitUsage;
      return std::nullopt;
    }
    return result;
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "%s: %s\n(see %s --help)\n", options.program().c_str(), e.what(), options.program().c_str());
    *exit_code = kExitUsage;
    return std::nullopt;
  }
}

}  // namespace flotilla::cli
