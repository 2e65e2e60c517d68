// Internal: little-endian framing for the job's messages (see docs/architecture.md).
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "flotilla/datasets/bytes.h"
#include "flotilla/sampler/minibatch.h"

namespace flotilla::wire {

// Message tags. One tag per message kind; MPI keeps order per (source, tag).
enum Tag : int {
  kHello = 11,        // sampler -> trainer: dataset facts and batch counts
  kCredit = 12,       // trainer -> home sampler: u32 more batches it can take
  kBatch = 13,        // sampler -> trainer: global seed count, loader message count, blocks
  kGather = 14,       // sampler -> loader: trainer, batch id, seed count, positions, node ids
  kRows = 15,         // loader -> trainer: batch id, positions, labels of seeds, feature rows
  kNbrRequest = 16,   // sampler -> sampler: nodes to sample at one layer of one batch
  kNbrReply = 17,     // sampler -> sampler: counts and neighbours
  kDone = 18,         // trainer -> every server: finished, no more requests from it
  kStop = 19,         // trainer -> home sampler: stopping early (no payload); the sampler sends
                      // no more batches and answers with an empty kBatch after those in flight
};

// Message framing: ByteWriter/ByteReader (flotilla/datasets/bytes.h) plus batch ids.
class Writer : public ByteWriter {
 public:
  template <typename T>
  Writer& put(T v) {
    ByteWriter::put<T>(v);
    return *this;
  }
  template <typename T>
  Writer& array(const std::vector<T>& v) {
    ByteWriter::array(v);
    return *this;
  }
  Writer& id(const BatchId& b) {
    return put<std::uint32_t>(b.epoch).put<std::uint32_t>(static_cast<std::uint32_t>(b.phase)).put<std::uint64_t>(b.index);
  }
};

class Reader : public ByteReader {
 public:
  Reader(const std::vector<std::uint8_t>& b, std::string what) : ByteReader(b.data(), b.size(), std::move(what)) {}
  BatchId id() {
    BatchId b;
    b.epoch = get<std::uint32_t>();
    const std::uint32_t ph = get<std::uint32_t>();
    if (ph > 2) fail("bad batch phase");
    b.phase = static_cast<BatchPhase>(ph);
    b.index = get<std::uint64_t>();
    return b;
  }
};

inline std::string from_rank(int r, const char* kind) { return std::string(kind) + " from rank " + std::to_string(r); }

}  // namespace flotilla::wire
