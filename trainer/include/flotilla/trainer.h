// Public header of the trainer library: device placement now; the training loops of
// issues #4 (node classification) and #6 (forecasting) land here.
#pragma once

#include <string>

namespace flotilla {

// The device a trainer with this node-local rank uses: "cuda:<local_rank mod gpus>" when
// LibTorch sees GPUs, else "cpu". `requested` = "auto", "cpu" or "cuda[:i]"; asking for CUDA
// on a machine without it falls back to "cpu" and sets *fell_back.
std::string pick_device(const std::string& requested, int local_rank, bool* fell_back = nullptr);

// LibTorch's intra- and inter-op threads for a trainer: `requested` when > 0 (--threads),
// else the CPUs this process may use (its affinity mask) divided among the `ranks_on_node`
// processes on this node (at least 1), so that mpirun's ranks on one node share its cores
// instead of oversubscribing them (as torchrun sets OMP_NUM_THREADS). Returns the number set.
int apply_torch_threads(int requested, int ranks_on_node);

}  // namespace flotilla
