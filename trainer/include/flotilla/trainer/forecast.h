// Traffic forecasting job (DCRNN, dcrnn1, T-GCN) with index-batching; under mpirun every rank
// is a trainer holding the signal, and start indices are sharded per epoch
// (distributed-index-batching). Torch-free header.
#pragma once

#include <string>

#include "flotilla/trainer/train_config.h"

namespace flotilla {

class MpiSession;

// Returns the process exit code.
int run_forecast(const TrainConfig& cfg, MpiSession& mpi, const RunInfo& info);

}  // namespace flotilla
