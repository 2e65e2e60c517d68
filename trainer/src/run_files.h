// Internal: files of a run folder shared by the training tasks: atomic text files,
// checkpoints (parameters flat by name, optimizer state, progress), metrics truncation on
// resume. Includes LibTorch.
#pragma once

#include <torch/torch.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace flotilla {

// Writes `text` to path atomically (temp file + rename).
inline void write_text_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
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
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  root.save_to(tmp);
  std::filesystem::rename(tmp, path);  // atomic: a reader sees the old or the new checkpoint
}

inline Checkpoint load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& opt) {
  torch::serialize::InputArchive root, m, o;
  try {
    root.load_from(path);
    root.read("model", m);
    load_params(model, m, path);
    root.read("optimizer", o);
    opt.load(o);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a usable checkpoint for this model (" +
                             std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  // A fresh tensor per read: InputArchive::read set_()s into a defined tensor, which would
  // reinterpret a double as the previous read's int64.
  auto scalar = [&](const char* key) {
    torch::Tensor t;
    root.read(key, t);
    return t;
  };
  Checkpoint c;
  c.epoch = scalar("epoch").item<std::int64_t>();
  c.best_valid = scalar("best_valid").item<double>();
  c.test_at_best = scalar("test_at_best").item<double>();
  c.best_epoch = scalar("best_epoch").item<std::int64_t>();
  const torch::Tensor bm = scalar("best_metrics").contiguous();
  c.best_metrics.assign(bm.data_ptr<double>(), bm.data_ptr<double>() + bm.numel());
  return c;
}

// Keeps the metrics lines of epochs before `first_epoch` (resume), drops the rest.
inline void truncate_metrics(const std::string& path, std::int64_t first_epoch) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    const auto at = line.find("\"epoch\":");
    if (at == std::string::npos) continue;
    if (std::stoll(line.substr(at + 8)) < first_epoch) kept += line + "\n";
  }
  write_text_atomic(path, kept);
}

// The epoch a resumed run starts with: one after the checkpoint's last completed epoch.
inline std::uint32_t checkpoint_next_epoch(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no checkpoint to resume from");
  torch::serialize::InputArchive root;
  torch::Tensor t;
  try {
    root.load_from(path);
    root.read("epoch", t);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a Flotilla checkpoint (" + std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  return static_cast<std::uint32_t>(t.item<std::int64_t>() + 1);
}


}  // namespace flotilla
