// Public header of the models library (GNN and spatiotemporal models, issues #4 and #6).
// Kept free of LibTorch includes so that callers compile fast; model classes get their own
// headers under flotilla/models/.
#pragma once

#include <string>

namespace flotilla {

struct TorchRuntime {
  std::string version;     // LibTorch version the binary was built against
  bool cuda_available = false;
  int cuda_devices = 0;
  int intra_op_threads = 0;
};
TorchRuntime torch_runtime();

// Sets LibTorch's intra-op and inter-op thread counts (0 = leave the default).
void set_torch_threads(int threads);

}  // namespace flotilla
