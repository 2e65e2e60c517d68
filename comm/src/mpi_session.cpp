#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <vector>

#include "flotilla/comm.h"

namespace flotilla {

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &thread_level_);
    owns_ = true;
  } else {
    MPI_Query_thread(&thread_level_);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  hostname_.assign(name, static_cast<std::size_t>(len));
}

MpiSession::~MpiSession() {
  if (owns_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
}

void allreduce_mean(float* data, std::size_t count) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // MPI counts are int: reduce in slices of at most INT_MAX elements.
  for (std::size_t off = 0; off < count;) {
    const int n = static_cast<int>(std::min<std::size_t>(count - off, INT_MAX));
    MPI_Allreduce(MPI_IN_PLACE, data + off, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    off += static_cast<std::size_t>(n);
  }
  const float inv = 1.0f / static_cast<float>(size);
  for (std::size_t i = 0; i < count; ++i) data[i] *= inv;
}

}  // namespace flotilla
