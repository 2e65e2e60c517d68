#include "flotilla/trainer/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "flotilla/comm/communicator.h"

namespace flotilla {

namespace fs = std::filesystem;

const std::vector<std::string>& run_file_names() {
  static const std::vector<std::string> names = {"config.yaml", "command.txt", "versions.json", "metrics.jsonl",
                                                 "summary.json", "checkpoint.pt", "best_model.pt",
                                                 ".eval-activations"};  // full evaluation's spill folder
  return names;
}

namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

// "pid 123 on node01" as recorded by the holder, or "" when unreadable.
std::string holder_of(int fd) {
  char buf[200] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace

RunFolderLock RunFolderLock::acquire(const std::string& dir) {
  RunFolderLock l;
  l.dir_ = dir;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error(dir + ": cannot create the run folder: " + ec.message());
    l.created_dir_ = true;
  } else if (!fs::is_directory(dir, ec)) {
    throw std::runtime_error(dir + ": exists and is not a folder (--out names the run folder)");
  }
  const std::string path = dir + "/" + kRunLockName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    l.release();
    throw std::runtime_error(path + ": cannot open the run folder's lock file: " + std::strerror(err));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string who = holder_of(fd);
    ::close(fd);
    l.created_dir_ = false;  // someone else's folder now
    if (err == EWOULDBLOCK)
      throw std::runtime_error(dir + ": run folder in use by another flotilla train job (" +
                               (who.empty() ? std::string("lock ") + kRunLockName + " held"
                                            : who + " holds " + kRunLockName) +
                               "); wait for it to end or choose another --out");
    throw std::runtime_error(path + ": cannot lock the run folder: " + std::strerror(err));
  }
  l.fd_ = fd;
  // Who holds it, for the message a second job prints.
  const std::string me = "pid " + std::to_string(::getpid()) + " on " + host_name() + "\n";
  if (::ftruncate(fd, 0) == 0) {
    const ssize_t w = ::pwrite(fd, me.data(), me.size(), 0);
    (void)w;  // best effort: only the message uses it
  }
  return l;
}

void RunFolderLock::release() {
  if (fd_ >= 0) {
    if (created_dir_) {
      // A job that failed before writing anything leaves no folder behind.
      std::error_code ec;
      bool only_lock = true;
      for (const auto& e : fs::directory_iterator(dir_, ec))
        if (e.path().filename() != kRunLockName) only_lock = false;
      if (!ec && only_lock) {
        fs::remove(fs::path(dir_) / kRunLockName, ec);
        fs::remove(dir_, ec);
      }
    }
    ::close(fd_);  // releases the flock
  } else if (created_dir_) {
    std::error_code ec;
    fs::remove(dir_, ec);  // empty: only acquire created it
  }
  fd_ = -1;
  created_dir_ = false;
}

RunFolderLock::~RunFolderLock() { release(); }

RunFolderLock::RunFolderLock(RunFolderLock&& o) noexcept : fd_(o.fd_), dir_(std::move(o.dir_)), created_dir_(o.created_dir_) {
  o.fd_ = -1;
  o.created_dir_ = false;
}

RunFolderLock& RunFolderLock::operator=(RunFolderLock&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = o.fd_;
    dir_ = std::move(o.dir_);
    created_dir_ = o.created_dir_;
    o.fd_ = -1;
    o.created_dir_ = false;
  }
  return *this;
}

RunFolderLock claim_run_folder_local(const TrainConfig& cfg) {
  const std::string& dir = cfg.out;
  if (dir.empty()) throw std::runtime_error("no run folder (--out RUNDIR)");
  RunFolderLock lock = RunFolderLock::acquire(dir);
  if (!cfg.resume.empty()) return lock;  // continues its own run (config.yaml checked by the CLI)
  // Under the lock: nobody else writes here now.
  std::vector<std::string> present;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name != kRunLockName) present.push_back(name);
  }
  if (ec) throw std::runtime_error(dir + ": cannot list the run folder: " + ec.message());
  if (present.empty()) return lock;
  if (!cfg.overwrite) {
    const bool is_run = fs::exists(fs::path(dir) / "config.yaml");
    std::string some;
    for (std::size_t i = 0; i < present.size() && i < 3; ++i) some += (i ? ", " : "") + present[i];
    if (present.size() > 3) some += ", ...";
    throw std::runtime_error(dir + ": " + (is_run ? "holds an earlier run" : "is not empty") + " (" + some +
                             "); pass --overwrite to replace " + (is_run ? "that run" : "the run files in it") +
                             (is_run ? ", --resume " + dir + " to continue it," : ",") +
                             " or choose another --out");
  }
  // --overwrite: the earlier run's files go (so a failed start cannot mix old and new ones);
  // anything else in the folder is left alone.
  for (const std::string& name : present) {
    bool ours = false;
    for (const std::string& f : run_file_names())
      if (name == f || name.rfind(f + ".tmp-", 0) == 0) ours = true;
    if (!ours) continue;
    fs::remove_all(fs::path(dir) / name, ec);
    if (ec) throw std::runtime_error(dir + "/" + name + ": cannot delete (--overwrite): " + ec.message());
  }
  return lock;
}

RunFolderLock claim_run_folder(const TrainConfig& cfg, const Communicator& world) {
  RunFolderLock lock;
  std::string error;
  if (world.rank() == 0) {
    try {
      lock = claim_run_folder_local(cfg);
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = cfg.out + ": cannot use the run folder";
    }
  }
  // Every rank waits here for rank 0's decision: a refused job ends everywhere, none hangs.
  const std::string decided = world.size() > 1 ? world.allgather(world.rank() == 0 ? error : std::string())[0] : error;
  if (!decided.empty()) throw std::runtime_error(decided);
  return lock;
}

}  // namespace flotilla
