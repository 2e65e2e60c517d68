// Public header of the comm library: MPI session and collective helpers. mpi.h stays out
// of this header so that libraries using comm need not see MPI's headers.
#pragma once

#include <cstddef>
#include <string>

namespace flotilla {

// RAII for MPI_Init_thread / MPI_Finalize. One per process; owns nothing else. When MPI is
// already initialised (embedding), it neither initialises nor finalises.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank and size within this node (MPI_COMM_TYPE_SHARED), e.g. to pick a GPU.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  // MPI_Get_processor_name, or the environment variable FLOTILLA_HOSTNAME when set: an
  // override for testing (tests/tools/fake-rsh.sh fakes several nodes on one machine) and
  // for machines that share a name. When any rank has FLOTILLA_HOSTNAME, local rank and
  // size group the ranks by host name instead of by shared memory.
  const std::string& hostname() const { return hostname_; }
  // Highest thread level MPI granted (MPI_THREAD_* value).
  int thread_level() const { return thread_level_; }

 private:
  bool owns_ = false;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1, thread_level_ = 0;
  std::string hostname_;
};

// Averages `count` floats in place across all ranks of MPI_COMM_WORLD (sum, then divide).
void allreduce_mean(float* data, std::size_t count);

// True when this build has the NCCL path (FLOTILLA_CUDA=ON).
bool nccl_compiled();

class Communicator;

// Sums device buffers across the ranks of a communicator with NCCL (trainers on GPUs), then
// scales them. Built with FLOTILLA_CUDA=ON; otherwise constructing one throws. The NCCL
// communicator is made once (rank 0's ncclUniqueId broadcast over MPI) and owned here.
// Work is enqueued on the legacy default CUDA stream, which LibTorch's kernels also use
// unless a caller changed streams.
class NcclGradientReducer {
 public:
  explicit NcclGradientReducer(const Communicator& comm);
  ~NcclGradientReducer();
  NcclGradientReducer(const NcclGradientReducer&) = delete;
  NcclGradientReducer& operator=(const NcclGradientReducer&) = delete;
  // data: device pointer to `count` floats.
  void allreduce(float* data, std::size_t count, float scale);

 private:
  void* comm_ = nullptr;  // ncclComm_t
};

}  // namespace flotilla
