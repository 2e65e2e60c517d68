// checkpoint_diff A B [TOL]: compares the model parameters of two Flotilla checkpoints
// (checkpoint.pt or best_model.pt). Prints the largest absolute difference; exit 0 when the
// parameter names and shapes match and every difference is <= TOL (default 1e-5), 1 if not,
// 2 on unreadable input.
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <string>

namespace {
std::map<std::string, torch::Tensor> params(const std::string& path) {
  torch::serialize::InputArchive root, m;
  root.load_from(path);
  std::map<std::string, torch::Tensor> out;
  torch::serialize::InputArchive* src = &root;
  const std::vector<std::string> top = root.keys();
  if (std::find(top.begin(), top.end(), std::string("model")) != top.end()) {  // checkpoint.pt
    root.read("model", m);
    src = &m;
  }
  for (const std::string& k : src->keys()) {
    torch::Tensor t;
    src->read(k, t);
    out[k] = t;
  }
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: checkpoint_diff A B [TOL]\n");
    return 2;
  }
  const double tol = argc > 3 ? std::atof(argv[3]) : 1e-5;
  std::map<std::string, torch::Tensor> a, b;
  try {
    a = params(argv[1]);
    b = params(argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_diff: %s\n", std::string(e.what()).substr(0, std::string(e.what()).find("\nException raised")).c_str());
    return 2;
  }
  if (a.empty()) {
    std::fprintf(stderr, "checkpoint_diff: %s has no parameters\n", argv[1]);
    return 2;
  }
  double worst = 0;
  std::string worst_key;
  for (const auto& [k, t] : a) {
    auto it = b.find(k);
    if (it == b.end() || !it->second.sizes().equals(t.sizes())) {
      std::printf("parameter %s missing or of another shape in %s\n", k.c_str(), argv[2]);
      return 1;
    }
    const double d = (t - it->second).abs().max().item<double>();
    if (d > worst) {
      worst = d;
      worst_key = k;
    }
  }
  if (b.size() != a.size()) {
    std::printf("%s has %zu parameters, %s has %zu\n", argv[1], a.size(), argv[2], b.size());
    return 1;
  }
  std::printf("%zu parameters; max |difference| %.3g%s%s\n", a.size(), worst, worst_key.empty() ? "" : " in ",
              worst_key.c_str());
  return worst <= tol ? 0 : 1;
}
