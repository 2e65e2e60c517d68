#include "flotilla/datasets/durable.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "flotilla/datasets/error.h"

namespace flotilla {

namespace fs = std::filesystem;

std::string temp_path_for(const std::string& out) { return out + ".tmp-" + std::to_string(::getpid()); }

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_file(path, std::string("cannot open for fsync: ") + std::strerror(errno));
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  // Some file systems do not support fsync on folders (EINVAL): nothing more can be done.
  if (rc != 0 && err != EINVAL) throw_file(path, std::string("fsync failed: ") + std::strerror(err));
}

void write_file_synced(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_file(path, std::string("cannot create: ") + std::strerror(errno));
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      throw_file(path, std::string("write failed: ") + std::strerror(err));
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    throw_file(path, std::string("fsync failed: ") + std::strerror(err));
  }
  if (::close(fd) != 0) throw_file(path, std::string("close failed: ") + std::strerror(errno));
}

namespace {
std::string parent_of(const std::string& path) {
  const fs::path p = fs::path(path).parent_path();
  return p.empty() ? std::string(".") : p.string();
}
}  // namespace

void publish_dir(const std::string& tmp, const std::string& out) {
  fsync_path(tmp);
  std::error_code ec;
  if (fs::is_directory(out, ec) && fs::is_empty(out, ec)) fs::remove(out, ec);  // an empty folder is replaced
  if (std::rename(tmp.c_str(), out.c_str()) != 0)
    throw_file(out, "cannot move " + tmp + " into place: " + std::strerror(errno));
  fsync_path(parent_of(out));
}

namespace {
// True when `pid` cannot name a running process.
bool pid_not_running(std::uint64_t pid) {
  std::uint64_t pid_max = 4194304;  // Linux's PID_MAX_LIMIT
  {
    std::ifstream in("/proc/sys/kernel/pid_max");
    std::uint64_t v = 0;
    if (in >> v && v > 0) pid_max = v;
  }
  if (pid >= pid_max) return true;  // PIDs are below pid_max
  if (pid == static_cast<std::uint64_t>(::getpid())) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}
}  // namespace

namespace {
std::vector<StaleTemp> find_stale_temps(const std::string& out, bool dirs) {
  std::vector<StaleTemp> found;
  const fs::path target(out);
  const std::string prefix = target.filename().string() + ".tmp-";
  std::error_code ec;
  fs::directory_iterator it(parent_of(out), ec), end;
  if (ec) return found;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits[0] == '0' || digits.size() > 19 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::error_code sec;
    const fs::file_status st = fs::symlink_status(it->path(), sec);  // no symlinks
    if (dirs ? !fs::is_directory(st) : !fs::is_regular_file(st)) continue;
    const std::uint64_t pid = std::stoull(digits);
    if (!pid_not_running(pid)) continue;
    const fs::path parent = target.parent_path();
    found.push_back({(parent.empty() ? fs::path(name) : parent / name).string(), pid});
  }
  return found;
}

std::vector<StaleTemp> remove_stale(std::vector<StaleTemp> found, const char* what) {
  std::vector<StaleTemp> removed;
  for (auto& s : found) {
    std::error_code ec;
    fs::remove_all(s.path, ec);
    if (ec) throw_file(s.path, std::string("cannot remove stale temporary ") + what + ": " + ec.message());
    removed.push_back(std::move(s));
  }
  return removed;
}
}  // namespace

std::vector<StaleTemp> find_stale_temp_dirs(const std::string& out) { return find_stale_temps(out, true); }
std::vector<StaleTemp> find_stale_temp_files(const std::string& out) { return find_stale_temps(out, false); }
std::vector<StaleTemp> remove_stale_temp_dirs(const std::string& out) {
  return remove_stale(find_stale_temp_dirs(out), "folder");
}
std::vector<StaleTemp> remove_stale_temp_files(const std::string& out) {
  return remove_stale(find_stale_temp_files(out), "file");
}

}  // namespace flotilla
