#include <sched.h>

#include <algorithm>
#include <thread>
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
    // The CPUs this process may run on (affinity: Slurm's --cpus-per-task, taskset, cgroups).
    // Not LibTorch's default, which counts physical cores through cpuinfo and can see fewer
    // than there are (1 on the 2-vCPU VMs here).
    int cpus = static_cast<int>(std::thread::hardware_concurrency());
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
    threads = std::max(1, cpus / std::max(1, ranks_on_node));
  }
  set_torch_threads(threads);
  return threads;
}

}  // namespace flotilla
