// Public header of the trainer library: device placement now; the training loops of
// issues #4 (node classification) and #6 (forecasting) land here.
#pragma once

#include <string>

namespace flotilla {

// The device a trainer with this node-local rank uses: "cuda:<local_rank mod gpus>" when
// LibTorch sees GPUs, else "cpu". `requested` = "auto", "cpu" or "cuda[:i]"; asking for CUDA
// on a machine without it falls back to "cpu" and sets *fell_back.
std::string pick_device(const std::string& requested, int local_rank, bool* fell_back = nullptr);

}  // namespace flotilla
