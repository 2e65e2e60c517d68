// Feature-loader ranks for layer-wise inference (`flotilla predict --loaders L`), the
// disaggregated layout of training applied to inference: the last L ranks of the job are
// loaders, each holding the feature rows of its parts (part p: loader p mod L) and, after
// every layer, that layer's rows of its parts' nodes; the other ranks are trainers, which
// hold only the topology, compute blocks of destinations (layerwise_inference.h), gather
// the blocks' source rows from the loaders and send the rows they computed to the loaders
// that own them. A loader keeps a layer's rows in memory while its share of the layer's
// input and output tables fits memory_budget, otherwise as an activation shard on disk:
// SCRATCH/layer-<t>.loader-<j>.f32 (float32, its owned rows in part order, row-major).
// Message protocol: docs/architecture.md ("Full-graph (layer-wise) inference"). Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "flotilla/trainer/layerwise_inference.h"

namespace flotilla {

class Communicator;
struct ShardSetInfo;

struct LoaderLayout {
  int trainers = 0, loaders = 0;  // world ranks [0, trainers) compute, [trainers, trainers + loaders) serve
  std::uint32_t num_parts = 0;
  int loader_rank_of_part(std::uint32_t part) const { return trainers + static_cast<int>(part % static_cast<std::uint32_t>(loaders)); }
};

// Throws std::invalid_argument naming --loaders when the counts do not fit: no trainer left
// (loaders >= ranks) or more loaders than parts.
LoaderLayout plan_loaders(int world_size, int loaders, std::uint32_t num_parts);

// Trainer side: rows from and to the loaders over `world` (MPI_COMM_WORLD). `trainers` is
// the trainers' own communicator.
std::unique_ptr<LayerRowTransport> make_loader_row_transport(const LoaderLayout& layout, const ShardSetInfo& info,
                                                             const Communicator& world, const Communicator& trainers);

struct LoaderServeStats {
  std::uint64_t rows_served = 0, rows_stored = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  bool on_disk = false;  // some layer's rows went to an activation shard on disk
};

// Loader side: serves until every trainer has finished. Throws naming the rank on a request
// for a node it does not hold or a malformed message.
LoaderServeStats serve_layer_rows(const LoaderLayout& layout, const std::string& shards_dir, const Communicator& world,
                                  std::uint64_t memory_budget, const std::string& scratch_dir);

}  // namespace flotilla
