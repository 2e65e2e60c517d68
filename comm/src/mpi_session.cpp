#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "flotilla/comm.h"

// LeakSanitizer (Sanitize build) and OpenMPI: see the constructor and destructor.
#if defined(__SANITIZE_ADDRESS__)
#define FLOTILLA_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOTILLA_LSAN 1
#endif
#endif
#ifdef FLOTILLA_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace flotilla {

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
#ifdef FLOTILLA_LSAN
    // What OpenMPI allocates on this thread while initialising and never frees is not ours:
    // LeakSanitizer ignores it (it would report it from plugins MPI_Init has already unloaded,
    // "<unknown module>", which no suppression can name).
    __lsan_disable();
#endif
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &thread_level_);
#ifdef FLOTILLA_LSAN
    __lsan_enable();
#endif
    owns_ = true;
  } else {
    MPI_Query_thread(&thread_level_);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  hostname_.assign(name, static_cast<std::size_t>(len));
  // FLOTILLA_HOSTNAME overrides the host name (tests fake several nodes on one machine;
  // containers on different machines may all be called the same). Collective: when any
  // rank has it, every rank groups by name instead of by shared memory.
  const char* forced = std::getenv("FLOTILLA_HOSTNAME");
  int any_forced = forced && *forced ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &any_forced, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (!any_forced) {
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
    return;
  }
  if (forced && *forced) hostname_ = std::string(forced).substr(0, MPI_MAX_PROCESSOR_NAME - 1);
  // All names, fixed-width (MPI_MAX_PROCESSOR_NAME bytes each); local rank = position among
  // the ranks of the same name, by rank (what MPI_COMM_TYPE_SHARED gives on real nodes).
  std::string mine(hostname_);
  mine.resize(MPI_MAX_PROCESSOR_NAME, '\0');
  std::vector<char> all(static_cast<std::size_t>(size_) * MPI_MAX_PROCESSOR_NAME);
  MPI_Allgather(mine.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                MPI_COMM_WORLD);
  local_rank_ = 0;
  local_size_ = 0;
  for (int r = 0; r < size_; ++r) {
    if (std::strncmp(all.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME, mine.c_str(),
                     MPI_MAX_PROCESSOR_NAME) != 0)
      continue;
    if (r < rank_) ++local_rank_;
    ++local_size_;
  }
}

MpiSession::~MpiSession() {
  if (owns_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
#ifdef FLOTILLA_LSAN
      // The leak check now, while OpenMPI's plugins are loaded: MPI_Finalize unloads them,
      // after which memory only they pointed to reads as leaked, with unsymbolizable stacks.
      // Exits (failing the job) on a leak; the check at exit is then skipped.
      __lsan_do_leak_check();
#endif
      MPI_Finalize();
    }
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
