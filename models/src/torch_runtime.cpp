#include <torch/torch.h>
#include <torch/version.h>

#include "flotilla/models.h"

namespace flotilla {

TorchRuntime torch_runtime() {
  TorchRuntime r;
  r.version = TORCH_VERSION;
  r.cuda_available = torch::cuda::is_available();
  r.cuda_devices = r.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  r.intra_op_threads = at::get_num_threads();
  return r;
}

void set_torch_threads(int threads) {
  if (threads <= 0) return;
  at::set_num_threads(threads);
  // The inter-op pool can be sized only once, before first use.
  static bool inter_set = false;
  if (!inter_set) {
    at::set_num_interop_threads(threads);
    inter_set = true;
  }
}

}  // namespace flotilla
