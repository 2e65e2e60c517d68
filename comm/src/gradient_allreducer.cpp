#include <algorithm>
#include <cstring>

#include "flotilla/comm/communicator.h"

namespace flotilla {

GradientAllReducer::GradientAllReducer(Communicator comm, std::size_t bucket_bytes)
    : comm_(std::move(comm)), bucket_floats_(std::max<std::size_t>(1024, bucket_bytes / sizeof(float))) {}

void GradientAllReducer::allreduce(const std::vector<Span<float>>& buffers, float scale) {
  // Walk the buffers in order, filling the bucket; a buffer larger than the bucket is split
  // across several. Every rank passes the same buffer sizes in the same order, so the
  // buckets line up.
  std::size_t total = 0;
  for (const auto& b : buffers) total += b.size();
  bucket_.resize(std::min(bucket_floats_, total));
  std::size_t bi = 0, off = 0;  // position in buffers
  while (bi < buffers.size()) {
    std::size_t filled = 0;
    struct Piece { std::size_t buffer, offset, count; };
    std::vector<Piece> pieces;
    while (bi < buffers.size() && filled < bucket_.size()) {
      const std::size_t take = std::min(buffers[bi].size() - off, bucket_.size() - filled);
      if (take) std::memcpy(bucket_.data() + filled, buffers[bi].data() + off, take * sizeof(float));
      pieces.push_back({bi, off, take});
      filled += take;
      off += take;
      if (off == buffers[bi].size()) {
        ++bi;
        off = 0;
      }
    }
    if (filled == 0) break;
    comm_.allreduce_sum(bucket_.data(), filled);
    ++calls_;
    bytes_ += filled * sizeof(float);
    std::size_t at = 0;
    for (const Piece& p : pieces) {
      float* dst = buffers[p.buffer].data() + p.offset;
      for (std::size_t i = 0; i < p.count; ++i) dst[i] = bucket_[at + i] * scale;
      at += p.count;
    }
  }
}

}  // namespace flotilla
