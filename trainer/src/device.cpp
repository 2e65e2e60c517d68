#include <algorithm>
#include <stdexcept>

#include "flotilla/models.h"
#include "flotilla/trainer.h"

namespace flotilla {

std::string pick_device(const std::string& requested, int local_rank, bool* fell_back) {
  if (fell_back) *fell_back = false;
  if (requested == "cpu") return "cpu";
  if (requested != "auto" && requested.rfind("cuda", 0) != 0)
    throw std::invalid_argument("unknown device '" + requested + "' (expected auto, cpu, cuda or cuda:N)");
  const TorchRuntime rt = torch_runtime();
  if (!rt.cuda_available || rt.cuda_devices == 0) {
    if (fell_back) *fell_back = requested != "auto";
    return "cpu";
  }
  if (requested.rfind("cuda:", 0) == 0) return requested;
  return "cuda:" + std::to_string(local_rank % rt.cuda_devices);
}

int apply_torch_threads(int requested, int ranks_on_node) {
  int threads = requested;
  if (threads <= 0) {
    const int cores = torch_runtime().intra_op_threads;  // LibTorch's default: the cores it sees
    threads = ranks_on_node > 1 ? std::max(1, cores / ranks_on_node) : cores;
    if (ranks_on_node <= 1) return threads;  // leave LibTorch's own default alone
  }
  set_torch_threads(threads);
  return threads;
}

}  // namespace flotilla
