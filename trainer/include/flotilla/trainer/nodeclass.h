// Node-classification training job: every rank of the MPI job calls run_training; the role
// plan decides who trains, samples and loads. Torch-free header.
#pragma once

#include <cstdint>
#include <string>

#include "flotilla/trainer/train_config.h"

namespace flotilla {

class MpiSession;

// What the shards' labels hold, checked before training (check_shard_labels).
struct ShardLabelSummary {
  std::int64_t num_classes = 0;  // largest label + 1
  std::uint64_t train = 0, valid = 0, test = 0;                        // nodes per split
  std::uint64_t unlabeled_train = 0, unlabeled_valid = 0, unlabeled_test = 0;  // of those, label -1
};

// Most classes a node-classification run accepts (and never more than the graph has nodes):
// a label beyond that is damage or a wrong column, not a class (the output layer would need
// hidden x (label + 1) parameters).
inline constexpr std::int64_t kMaxClasses = 65536;

// Reads the label and split sections of every shard in DIR (by offset: 9 bytes per node, the
// features are not read). Throws InputError naming the shard file and the row (owned index and
// original node id) for a label below -1 or at or beyond min(kMaxClasses, nodes), and
// std::runtime_error naming DIR when the shards have no split, a split but no labels, no
// training node, or no training node with a label. Training, validation and test nodes without a label (-1) are counted; the
// trainer leaves them out of the loss and the accuracies. A shard whose checksum fails is
// reported as such (read_shard's error) rather than as a bad label.
ShardLabelSummary check_shard_labels(const std::string& dir);

// Returns the process exit code. Errors that leave other ranks waiting abort the job
// (MPI_Abort) after naming the rank and its role.
int run_training(const TrainConfig& cfg, MpiSession& mpi, const RunInfo& info);

}  // namespace flotilla
