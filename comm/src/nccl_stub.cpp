// Built when FLOTILLA_CUDA is OFF: the NCCL path is absent and callers fall back to MPI.
#include <stdexcept>

#include "flotilla/comm.h"

namespace flotilla {
bool nccl_compiled() { return false; }

NcclGradientReducer::NcclGradientReducer(const Communicator&) {
  throw std::runtime_error("this build has no NCCL (configure with -DFLOTILLA_CUDA=ON)");
}
NcclGradientReducer::~NcclGradientReducer() = default;
void NcclGradientReducer::allreduce(float*, std::size_t, float) {
  throw std::runtime_error("this build has no NCCL (configure with -DFLOTILLA_CUDA=ON)");
}
}  // namespace flotilla
