// Mini-batches as samplers produce them: message-flow blocks (one bipartite CSR per GNN
// layer, local ids) over one node array, plus the byte encoding that crosses ranks.
// Value types; each owns its vectors. No LibTorch, no MPI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

// One GNN layer. Destinations are the first num_dst entries of MiniBatch::nodes, sources
// the first num_src (num_dst <= num_src): a destination is also a source, so a layer can use
// a node's own representation (DGL's block convention).
struct Block {
  std::uint32_t num_src = 0, num_dst = 0;
  std::vector<std::uint32_t> offsets;  // num_dst + 1, CSR by destination
  std::vector<std::uint32_t> indices;  // local source id of each edge (< num_src)
  std::uint64_t num_edges() const { return indices.size(); }
};

// What a batch is for: training steps, or evaluation on the valid/test nodes.
enum class BatchPhase : std::uint32_t { Train = 0, Valid = 1, Test = 2 };
const char* phase_name(BatchPhase p);

struct BatchId {
  std::uint32_t epoch = 0;
  BatchPhase phase = BatchPhase::Train;
  std::uint64_t index = 0;  // global batch index within the epoch and phase
  bool operator==(const BatchId& o) const { return epoch == o.epoch && phase == o.phase && index == o.index; }
};

struct MiniBatch {
  BatchId id;
  std::uint32_t num_seeds = 0;        // seeds = nodes[0, num_seeds) = last block's destinations
  std::vector<VertexId> nodes;        // global (relabelled) ids; blocks[0]'s sources
  std::vector<Block> blocks;          // input layer first
};

// Checks the block invariants (nesting, offsets, index ranges); throws std::runtime_error
// naming `what` and the broken field.
void validate(const MiniBatch& b, const std::string& what);

// Little-endian framing: "FLMB", u32 version, id, counts, arrays. encode appends to `out`.
void encode(const MiniBatch& b, std::vector<std::uint8_t>& out);
// Decodes and validates; throws std::runtime_error naming `what` on malformed bytes.
MiniBatch decode_minibatch(const std::uint8_t* data, std::size_t size, const std::string& what);

}  // namespace flotilla
