// Built when FLOTILLA_CUDA is OFF: the NCCL path is absent and callers fall back to MPI.
#include "flotilla/comm.h"

namespace flotilla {
bool nccl_compiled() { return false; }
}  // namespace flotilla
