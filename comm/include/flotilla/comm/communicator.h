// MPI point-to-point and collectives behind small value types, so that headers stay free of
// mpi.h. A Communicator wraps an MPI communicator handle (as its Fortran integer handle);
// one made by split() owns it and frees it when the last copy goes (before MPI_Finalize:
// keep them inside the MpiSession's lifetime).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

class Communicator {
 public:
  static Communicator world();
  int rank() const;
  int size() const;
  // MPI_Comm_split; ranks with the same color share the result (color < 0: MPI_UNDEFINED,
  // the result is invalid()).
  Communicator split(int color, int key) const;
  bool valid() const { return handle_ != nullptr; }
  void barrier() const;
  // Every rank's string, in rank order (all-gather of lengths then bytes).
  std::vector<std::string> allgather(const std::string& mine) const;
  // Sums in place (slices of INT_MAX elements).
  void allreduce_sum(float* data, std::size_t count) const;
  void allreduce_sum(double* data, std::size_t count) const;
  void allreduce_sum(std::uint64_t* data, std::size_t count) const;
  // Concatenation of every rank's vector, in rank order.
  std::vector<VertexId> allgatherv(const std::vector<VertexId>& mine) const;
  std::int64_t allreduce_max(std::int64_t v) const;
  int fortran_handle() const;  // for code that includes mpi.h (MPI_Comm_f2c)

 private:
  struct Handle;
  std::shared_ptr<Handle> handle_;
};

// Aborts the whole job (MPI_Abort on MPI_COMM_WORLD) after printing `message` to stderr:
// used when a rank cannot go on, so that no other rank waits forever for it.
[[noreturn]] void abort_job(const std::string& message, int code = 1);

// One received message.
struct Message {
  int source = -1;
  int tag = -1;
  std::vector<std::uint8_t> bytes;
};

// Non-blocking sends that own their buffers until MPI completes them (RAII: the destructor
// waits for what is still in flight), and probe-based receives of any size.
class MessageEndpoint {
 public:
  explicit MessageEndpoint(Communicator comm);
  ~MessageEndpoint();
  MessageEndpoint(const MessageEndpoint&) = delete;
  MessageEndpoint& operator=(const MessageEndpoint&) = delete;

  void send(int dest, int tag, std::vector<std::uint8_t> bytes);
  // A message from `source` (-1 = any) with `tag` (-1 = any) if one is waiting.
  bool try_receive(Message& out, int source = -1, int tag = -1);
  // Blocks until such a message arrives; completes finished sends meanwhile.
  Message receive(int source = -1, int tag = -1);
  // Completes finished sends; returns how many are still in flight.
  std::size_t progress();
  void flush();  // waits for every send
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  const Communicator& comm() const { return comm_; }

 private:
  struct Pending;
  Communicator comm_;
  std::vector<std::unique_ptr<Pending>> pending_;
  std::uint64_t bytes_sent_ = 0, bytes_received_ = 0;
};

// Averages gradients across trainers: packs the given float buffers into flat buckets of at
// most `bucket_bytes` and runs one MPI_Allreduce (sum) per bucket, then scales. One bucket
// buffer is owned and reused.
class GradientAllReducer {
 public:
  explicit GradientAllReducer(Communicator comm, std::size_t bucket_bytes = std::size_t{16} << 20);
  void allreduce(const std::vector<Span<float>>& buffers, float scale);
  std::uint64_t bytes_reduced() const { return bytes_; }
  std::uint64_t calls() const { return calls_; }

 private:
  Communicator comm_;
  std::size_t bucket_floats_;
  std::vector<float> bucket_;
  std::uint64_t bytes_ = 0, calls_ = 0;
};

}  // namespace flotilla
