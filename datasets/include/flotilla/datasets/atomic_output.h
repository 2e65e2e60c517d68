// Outputs appear atomically: written under a temporary name (FILE.tmp-PID, DIR.tmp-PID: see
// durable.h) and renamed into place at the end, so an interrupted run leaves nothing that looks complete.
#pragma once

#include <string>

namespace flotilla {

// The output folder as given, normalised so that DIR.tmp-PID lands beside the target rather
// than inside it: "out/", "out//" and "out/." all name the folder "out". A path ending in
// "." or ".." has no name of its own, so it is resolved to the folder it names first.
std::string normalise_out_dir(const std::string& arg);

// Removes a temporary file or folder when it goes out of scope, unless commit() was called
// (after the rename). Owns nothing else.
class TempPathGuard {
 public:
  explicit TempPathGuard(std::string path) : path_(std::move(path)) {}
  ~TempPathGuard();
  TempPathGuard(const TempPathGuard&) = delete;
  TempPathGuard& operator=(const TempPathGuard&) = delete;
  const std::string& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  bool committed_ = false;
};

}  // namespace flotilla
