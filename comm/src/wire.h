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
};

class Writer {
 public:
  template <typename T>
  Writer& put(T v) {
    const std::size_t at = out.size();
    out.resize(at + sizeof(T));
    put_le<T>(out.data() + at, v);
    return *this;
  }
  template <typename T>
  Writer& array(const T* data, std::size_t n) {
    put<std::uint64_t>(n);
    const std::size_t at = out.size();
    out.resize(at + n * sizeof(T));
    if (n) std::memcpy(out.data() + at, data, n * sizeof(T));  // little-endian hosts
    return *this;
  }
  template <typename T>
  Writer& array(const std::vector<T>& v) { return array(v.data(), v.size()); }
  Writer& id(const BatchId& b) {
    return put<std::uint32_t>(b.epoch).put<std::uint32_t>(static_cast<std::uint32_t>(b.phase)).put<std::uint64_t>(b.index);
  }
  std::vector<std::uint8_t> out;
};

class Reader {
 public:
  Reader(const std::vector<std::uint8_t>& b, std::string what) : p_(b.data()), left_(b.size()), what_(std::move(what)) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    const T v = get_le<T>(p_);
    p_ += sizeof(T);
    left_ -= sizeof(T);
    return v;
  }
  template <typename T>
  void array(std::vector<T>& v) {
    const std::uint64_t n = get<std::uint64_t>();
    if (n > left_ / sizeof(T)) fail("array count exceeds the message");
    v.resize(n);
    if (n) std::memcpy(v.data(), p_, n * sizeof(T));
    p_ += n * sizeof(T);
    left_ -= n * sizeof(T);
  }
  BatchId id() {
    BatchId b;
    b.epoch = get<std::uint32_t>();
    const std::uint32_t ph = get<std::uint32_t>();
    if (ph > 2) fail("bad batch phase");
    b.phase = static_cast<BatchPhase>(ph);
    b.index = get<std::uint64_t>();
    return b;
  }
  const std::uint8_t* data() const { return p_; }
  std::size_t left() const { return left_; }
  void done() {
    if (left_) fail("trailing bytes");
  }
  [[noreturn]] void fail(const std::string& m) const { throw std::runtime_error(what_ + ": malformed message: " + m); }

 private:
  void need(std::size_t n) {
    if (n > left_) fail("truncated");
  }
  const std::uint8_t* p_;
  std::size_t left_;
  std::string what_;
};

inline std::string from_rank(int r, const char* kind) { return std::string(kind) + " from rank " + std::to_string(r); }

}  // namespace flotilla::wire
