// Internal: files of a run folder shared by the training tasks: atomic text files,
// checkpoints (parameters flat by name, optimizer state, progress), metrics truncation on
// resume. Includes LibTorch.
#pragma once

#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "flotilla/datasets/bytes.h"

namespace flotilla {

// Writes `size` bytes to path atomically and durably: PATH.tmp-PID is written, fsynced and
// renamed over PATH, then the folder is fsynced. A failure (disk full, unwritable folder)
// throws std::runtime_error naming the file with the system's reason, removes the temp file
// and leaves an existing PATH as it was.
inline void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  auto fail = [&](const std::string& file, const char* what, int err) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(file + ": " + what + ": " + std::strerror(err));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(tmp + ": cannot create: " + std::strerror(errno));
  const char* p = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      ::close(fd);
      fail(tmp, "write failed", err);
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail(tmp, "fsync failed", err);
  }
  if (::close(fd) != 0) fail(tmp, "close failed", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail(path, "cannot rename the temp file into place", errno);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some file systems refuse fsync on folders
    ::close(dfd);
  }
}

// Writes `text` to path atomically (see write_file_atomic).
inline void write_text_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

// Appends `line` and a newline to path (metrics.jsonl) with one write, then fsyncs; throws
// naming the file and the reason (a full disk must not lose metrics silently). A partial
// line left by a failure is dropped by truncate_metrics on resume.
inline void append_line(const std::string& path, const std::string& line) {
  const std::string text = line + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot open for appending: " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : EIO;
      ::close(fd);
      throw std::runtime_error(path + ": write failed: " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 && errno != EINVAL) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error(path + ": fsync failed: " + std::strerror(e));
  }
  ::close(fd);
}

// Archive checksum. LibTorch's zip reader does not verify the records' CRCs, and its
// unpickler trusts the lengths in data.pkl: one flipped byte of a checkpoint loads as other
// parameters, or makes the reader allocate gigabytes before it fails. So the archives written
// here carry "flotilla-crc32:XXXXXXXX" as their zip comment: the CRC-32 of every byte before
// the end-of-central-directory record's comment-length field. Readers verify it before
// LibTorch parses anything; archives without it (written before) are read unverified.
constexpr char kArchiveCrcTag[] = "flotilla-crc32:";
constexpr std::size_t kZipEocdSize = 22;  // end-of-central-directory record without comment

inline void add_archive_crc(std::string& zip) {
  if (zip.size() < kZipEocdSize || zip.compare(zip.size() - kZipEocdSize, 4, "PK\x05\x06") != 0 ||
      zip[zip.size() - 2] != 0 || zip[zip.size() - 1] != 0)
    throw std::logic_error("add_archive_crc: the archive does not end in a comment-less zip directory record");
  const std::uint32_t crc = crc32_update(0, zip.data(), zip.size() - 2);
  char comment[32];
  const int n = std::snprintf(comment, sizeof comment, "%s%08x", kArchiveCrcTag, static_cast<unsigned>(crc));
  zip[zip.size() - 2] = static_cast<char>(n & 0xff);
  zip[zip.size() - 1] = static_cast<char>(n >> 8);
  zip.append(comment, static_cast<std::size_t>(n));
}

// Verifies the checksum of an archive written by save_archive_atomic; throws
// std::runtime_error naming the file when it does not match. Without the comment: nothing.
inline void verify_archive_crc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::uint64_t size = static_cast<std::uint64_t>(in.tellg());
  const std::size_t comment = sizeof kArchiveCrcTag - 1 + 8;
  if (size < kZipEocdSize + comment) return;
  std::string tail(kZipEocdSize + comment, '\0');
  in.seekg(static_cast<std::streamoff>(size - tail.size()));
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  if (!in || tail.compare(0, 4, "PK\x05\x06") != 0 ||
      static_cast<unsigned char>(tail[20]) + 256u * static_cast<unsigned char>(tail[21]) != comment ||
      tail.compare(kZipEocdSize, sizeof kArchiveCrcTag - 1, kArchiveCrcTag) != 0)
    return;  // no checksum comment
  const std::string hex = tail.substr(kZipEocdSize + sizeof kArchiveCrcTag - 1);
  char* end = nullptr;
  const unsigned long want = std::strtoul(hex.c_str(), &end, 16);
  std::uint32_t crc = 0;
  std::vector<char> buf(std::size_t{1} << 20);
  std::uint64_t left = size - comment - 2;  // up to the comment-length field
  in.seekg(0);
  while (left > 0 && in) {
    const std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
    in.read(buf.data(), static_cast<std::streamsize>(step));
    crc = crc32_update(crc, buf.data(), static_cast<std::size_t>(in.gcount()));
    left -= static_cast<std::uint64_t>(in.gcount());
  }
  if (left != 0 || end != hex.c_str() + 8 || want != crc)
    throw std::runtime_error(path + ": checksum mismatch: the file is damaged (changed or cut after it was written)");
}

// Saves a LibTorch archive to path atomically, with the checksum comment. The archive is
// serialised in memory first: LibTorch's own file writer neither names the file nor gives the
// reason when a write fails, and does not fsync.
inline void save_archive_atomic(torch::serialize::OutputArchive& archive, const std::string& path) {
  std::string b;
  archive.save_to([&b](const void* data, std::size_t n) -> std::size_t {
    b.append(static_cast<const char*>(data), n);
    return n;
  });
  add_archive_crc(b);
  write_file_atomic(path, b.data(), b.size());
}

struct Checkpoint {
  std::int64_t epoch = -1;  // last completed epoch
  double best_valid = -1, test_at_best = -1;
  std::int64_t best_epoch = -1;
  std::vector<double> best_metrics;  // task-specific figures at the best epoch (may be empty)
};

// Parameters flat under their full names ("layers.0.self.weight"), so tools can list and
// compare them without knowing the model's structure.
inline void save_params(const torch::nn::Module& model, torch::serialize::OutputArchive& a) {
  for (const auto& p : model.named_parameters()) a.write(p.key(), p.value());
}
inline void load_params(torch::nn::Module& model, torch::serialize::InputArchive& a, const std::string& path) {
  torch::NoGradGuard ng;
  for (auto& p : model.named_parameters()) {
    torch::Tensor t;
    a.read(p.key(), t);
    if (!t.sizes().equals(p.value().sizes()))
      throw std::runtime_error(path + ": parameter " + p.key() + " has another shape (a different model or dataset?)");
    p.value().copy_(t);
  }
}

inline void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& opt, const Checkpoint& c) {
  torch::serialize::OutputArchive root, m, o;
  save_params(model, m);
  opt.save(o);
  root.write("model", m);
  root.write("optimizer", o);
  root.write("epoch", torch::tensor(c.epoch));
  root.write("best_valid", torch::tensor(c.best_valid, torch::kDouble));
  root.write("test_at_best", torch::tensor(c.test_at_best, torch::kDouble));
  root.write("best_epoch", torch::tensor(c.best_epoch));
  root.write("best_metrics", torch::tensor(c.best_metrics, torch::kDouble));
  save_archive_atomic(root, path);  // a reader sees the old or the new checkpoint
}

// Adam's per-parameter state must have its parameter's shape (a checkpoint of another model,
// or a damaged one, would otherwise fail at the first step with a LibTorch size error).
inline void check_optimizer_state(torch::optim::Optimizer& opt, const std::string& path) {
  for (const auto& group : opt.param_groups())
    for (const auto& p : group.params()) {
      const auto it = opt.state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
      if (it == opt.state().end()) continue;
      const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(it->second.get());
      if (!adam) continue;
      for (const torch::Tensor& t : {adam->exp_avg(), adam->exp_avg_sq(), adam->max_exp_avg_sq()})
        if (t.defined() && (!t.sizes().equals(p.sizes()) || t.scalar_type() != p.scalar_type()))
          throw std::runtime_error(path + ": optimizer state of another shape or type than its parameter "
                                          "(a different model, or a damaged checkpoint)");
    }
}

// One scalar of the given dtype under `key` (a fresh tensor per read: InputArchive::read
// set_()s into a defined tensor, which would reinterpret a double as the previous read's
// int64). Throws c10::Error when the key is missing, std::runtime_error when it is not such a
// scalar.
inline torch::Tensor checkpoint_scalar(torch::serialize::InputArchive& root, const char* key, torch::ScalarType type,
                                       const std::string& path) {
  torch::Tensor t;
  root.read(key, t);
  if (t.numel() != 1 || t.scalar_type() != type)
    throw std::runtime_error(path + ": checkpoint entry '" + key + "' is not a single " + c10::toString(type));
  return t;
}

// Epoch numbers a checkpoint may hold: -1 (none) up to 2^31-1.
inline void check_checkpoint_epoch(std::int64_t e, const char* what, const std::string& path) {
  if (e < -1 || e > std::int64_t{0x7fffffff})
    throw std::runtime_error(path + ": checkpoint " + what + " " + std::to_string(e) + " is out of range (damaged file?)");
}

inline Checkpoint load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& opt) {
  torch::serialize::InputArchive root, m, o;
  Checkpoint c;
  verify_archive_crc(path);
  try {
    root.load_from(path);
    root.read("model", m);
    load_params(model, m, path);
    root.read("optimizer", o);
    opt.load(o);
    check_optimizer_state(opt, path);
    c.epoch = checkpoint_scalar(root, "epoch", torch::kLong, path).item<std::int64_t>();
    c.best_valid = checkpoint_scalar(root, "best_valid", torch::kDouble, path).item<double>();
    c.test_at_best = checkpoint_scalar(root, "test_at_best", torch::kDouble, path).item<double>();
    c.best_epoch = checkpoint_scalar(root, "best_epoch", torch::kLong, path).item<std::int64_t>();
    torch::Tensor bm;
    root.read("best_metrics", bm);
    if (bm.dim() != 1 || bm.scalar_type() != torch::kDouble)
      throw std::runtime_error(path + ": checkpoint entry 'best_metrics' is not a 1-d double tensor");
    bm = bm.contiguous();
    c.best_metrics.assign(bm.data_ptr<double>(), bm.data_ptr<double>() + bm.numel());
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a usable checkpoint for this model (" +
                             std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  } catch (const std::exception& e) {  // TorchScript's unpickler reports damage with its own types
    if (std::string(e.what()).rfind(path + ": ", 0) == 0) throw;  // ours
    throw std::runtime_error(path + ": not a usable checkpoint for this model (" + std::string(e.what()).substr(0, 200) + ")");
  }
  check_checkpoint_epoch(c.epoch, "epoch", path);
  check_checkpoint_epoch(c.best_epoch, "best epoch", path);
  if (c.best_epoch > c.epoch)
    throw std::runtime_error(path + ": checkpoint best epoch " + std::to_string(c.best_epoch) + " is after its epoch " +
                             std::to_string(c.epoch) + " (damaged file?)");
  return c;
}

// Keeps the metrics lines of epochs before `first_epoch` (resume), drops the rest. A line
// cut short by a killed run (no epoch number, or no closing brace) is dropped too.
inline void truncate_metrics(const std::string& path, std::int64_t first_epoch) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    const auto at = line.find("\"epoch\":");
    if (at == std::string::npos || line.back() != '}') continue;
    const char* s = line.c_str() + at + 8;
    char* end = nullptr;
    errno = 0;
    const long long e = std::strtoll(s, &end, 10);
    if (end == s || errno == ERANGE) continue;
    if (e < first_epoch) kept += line + "\n";
  }
  write_text_atomic(path, kept);
}

// The epoch a resumed run starts with: one after the checkpoint's last completed epoch.
inline std::uint32_t checkpoint_next_epoch(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no checkpoint to resume from");
  torch::serialize::InputArchive root;
  std::int64_t epoch = 0;
  verify_archive_crc(path);
  try {
    root.load_from(path);
    epoch = checkpoint_scalar(root, "epoch", torch::kLong, path).item<std::int64_t>();
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a Flotilla checkpoint (" + std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  } catch (const std::exception& e) {
    if (std::string(e.what()).rfind(path + ": ", 0) == 0) throw;
    throw std::runtime_error(path + ": not a Flotilla checkpoint (" + std::string(e.what()).substr(0, 200) + ")");
  }
  check_checkpoint_epoch(epoch, "epoch", path);
  return static_cast<std::uint32_t>(epoch + 1);
}


}  // namespace flotilla
