// Crash safety of outputs: every output (a file, or a folder such as `flotilla partition`'s)
// is written under a temporary name beside it, "<out>.tmp-<PID>" (temp_path_for), fsynced and
// renamed into place, and the parent folder is fsynced after the rename, so a crash leaves
// either the previous state or a complete output. The PID makes the name unique among the
// processes running on the machine, so two runs writing the same output never share a temp
// file; the last rename wins with a complete file. Temp files and folders of killed runs are
// recognised by their exact name and a PID that no longer runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flotilla {

// "<out>.tmp-<PID of this process>": the temporary name of `out` while it is written (a file
// or a folder, in the same folder as `out`, so that the final rename is atomic).
std::string temp_path_for(const std::string& out);

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
// The same for temporary files (regular files, no symlinks) of a file output `out`.
std::vector<StaleTemp> find_stale_temp_files(const std::string& out);
std::vector<StaleTemp> remove_stale_temp_files(const std::string& out);

}  // namespace flotilla
