// The run folder (--out / --resume) belongs to one job at a time. Rank 0, which writes it,
// takes an exclusive flock on RUNDIR/.flotilla.lock for the job's life and checks the folder
// before any rank writes: a fresh run needs an absent or empty folder unless --overwrite is
// given (then the earlier run's files are deleted), --resume continues its own folder. The
// decision is shared with every rank, so a refused job ends on all of them at once.
// Torch-free.
#pragma once

#include <string>
#include <vector>

#include "flotilla/trainer/train_config.h"

namespace flotilla {

class Communicator;

// The lock file inside a run folder (ignored when deciding whether the folder is empty).
inline constexpr const char* kRunLockName = ".flotilla.lock";

// The files a run writes in its folder; --overwrite deletes these (and their temp files).
const std::vector<std::string>& run_file_names();

// An exclusive flock on DIR/.flotilla.lock, released when destroyed (or when the process
// ends, however it ends). Move-only; a default-constructed one holds nothing.
class RunFolderLock {
 public:
  RunFolderLock() = default;
  // Creates DIR (and parents) when absent, then takes the lock without waiting. Throws
  // std::runtime_error naming the folder when another process holds it (with the pid and host
  // it recorded) or the folder cannot be created.
  static RunFolderLock acquire(const std::string& dir);
  ~RunFolderLock();
  RunFolderLock(RunFolderLock&& o) noexcept;
  RunFolderLock& operator=(RunFolderLock&& o) noexcept;
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  void release();
  int fd_ = -1;
  std::string dir_;
  bool created_dir_ = false;  // made by acquire: removed again on release if nothing but the lock is in it
};

// One process: lock cfg.out and check it for this configuration (see the file comment).
// Throws std::runtime_error naming the folder.
RunFolderLock claim_run_folder_local(const TrainConfig& cfg);

// Every rank calls it: rank 0 runs claim_run_folder_local, the outcome is shared, and on a
// refusal every rank throws the same std::runtime_error (rank 0's message). Other ranks get a
// lock that holds nothing.
RunFolderLock claim_run_folder(const TrainConfig& cfg, const Communicator& world);

}  // namespace flotilla
