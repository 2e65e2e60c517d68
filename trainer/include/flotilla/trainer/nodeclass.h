// Node-classification training job: every rank of the MPI job calls run_training; the role
// plan decides who trains, samples and loads. Torch-free header.
#pragma once

#include <string>

#include "flotilla/trainer/train_config.h"

namespace flotilla {

class MpiSession;

// Returns the process exit code. Errors that leave other ranks waiting abort the job
// (MPI_Abort) after naming the rank and its role.
int run_training(const TrainConfig& cfg, MpiSession& mpi, const RunInfo& info);

}  // namespace flotilla
