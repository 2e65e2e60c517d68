// Built when FLOTILLA_CUDA is ON: averaging of device buffers through NCCL. The scale
// kernel runs on the same stream, after the all-reduce sum.
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

#include "flotilla/comm.h"
#include "flotilla/comm/communicator.h"

namespace flotilla {

bool nccl_compiled() { return true; }

namespace {
__global__ void scale_kernel(float* data, std::size_t count, float factor) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < count) data[i] *= factor;
}
void check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw std::runtime_error(std::string(what) + ": " + ncclGetErrorString(r));
}
void check(cudaError_t r, const char* what) {
  if (r != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(r));
}
}  // namespace

// Averages `count` device floats across the communicator's ranks on `stream`.
void nccl_allreduce_mean(void* comm, void* stream, float* device_data, std::size_t count, int world) {
  auto nc = static_cast<ncclComm_t>(comm);
  auto st = static_cast<cudaStream_t>(stream);
  check(ncclAllReduce(device_data, device_data, count, ncclFloat, ncclSum, nc, st), "ncclAllReduce");
  const unsigned threads = 256;
  const unsigned blocks = static_cast<unsigned>((count + threads - 1) / threads);
  if (blocks) scale_kernel<<<blocks, threads, 0, st>>>(device_data, count, 1.0f / static_cast<float>(world));
  check(cudaGetLastError(), "scale_kernel launch");
}

NcclGradientReducer::NcclGradientReducer(const Communicator& comm) {
  const MPI_Comm mc = MPI_Comm_f2c(comm.fortran_handle());
  int rank = 0, size = 1;
  MPI_Comm_rank(mc, &rank);
  MPI_Comm_size(mc, &size);
  ncclUniqueId id;
  if (rank == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, mc);
  ncclComm_t nc = nullptr;
  check(ncclCommInitRank(&nc, size, id, rank), "ncclCommInitRank");
  comm_ = nc;
}

NcclGradientReducer::~NcclGradientReducer() {
  if (comm_) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
}

void NcclGradientReducer::allreduce(float* data, std::size_t count, float scale) {
  auto nc = static_cast<ncclComm_t>(comm_);
  check(ncclAllReduce(data, data, count, ncclFloat, ncclSum, nc, cudaStreamLegacy), "ncclAllReduce");
  if (scale != 1.0f) {
    const unsigned threads = 256;
    const unsigned blocks = static_cast<unsigned>((count + threads - 1) / threads);
    if (blocks) scale_kernel<<<blocks, threads, 0, cudaStreamLegacy>>>(data, count, scale);
    check(cudaGetLastError(), "scale_kernel launch");
  }
}

}  // namespace flotilla
