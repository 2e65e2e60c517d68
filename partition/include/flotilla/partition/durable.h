// Crash safety of `flotilla partition`'s output folder: files are fsynced before the folder
// DIR.tmp-PID is renamed to DIR, and DIR's parent is fsynced after the rename, so a crash
// leaves either the previous state or a complete folder. Temp folders of killed runs are
// recognised by their exact name and a PID that no longer runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flotilla {

// fsync of a file or folder by path. Throws InputError naming the path on failure.
void fsync_path(const std::string& path);

// Creates (truncates) `path`, writes `content`, fsyncs and closes it. Throws InputError.
void write_file_synced(const std::string& path, const std::string& content);

// Makes the complete folder `tmp` appear as `out`: fsyncs `tmp` (its entries), removes `out`
// when it is an empty folder, renames `tmp` to `out` and fsyncs the parent folder of `out`.
// The files inside `tmp` must already be fsynced. Throws InputError on failure.
void publish_dir(const std::string& tmp, const std::string& out);

struct StaleTemp {
  std::string path;
  std::uint64_t pid = 0;
};
// Folders beside `out` named exactly "<name of out>.tmp-<PID>" (PID: decimal digits, no
// leading zero) whose PID is not a running process (kill(PID, 0) fails with ESRCH, or PID is
// beyond the kernel's pid_max) and is not this process: the leftovers of killed runs.
std::vector<StaleTemp> find_stale_temp_dirs(const std::string& out);
// Removes them (recursively); returns what was removed.
std::vector<StaleTemp> remove_stale_temp_dirs(const std::string& out);

}  // namespace flotilla
