#include "flotilla/comm/communicator.h"

#include <mpi.h>

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <climits>
#include <cstdio>
#include <stdexcept>

namespace flotilla {

struct Communicator::Handle {
  MPI_Comm comm = MPI_COMM_NULL;
  bool owned = false;
  ~Handle() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owned && !finalized && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

namespace {
void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw std::runtime_error(std::string(what) + ": " + std::string(msg, static_cast<std::size_t>(len)));
  }
}
template <typename T>
void allreduce_slices(T* data, std::size_t count, MPI_Datatype type, MPI_Comm comm) {
  for (std::size_t off = 0; off < count;) {
    const int n = static_cast<int>(std::min<std::size_t>(count - off, INT_MAX));
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, n, type, MPI_SUM, comm), "MPI_Allreduce");
    off += static_cast<std::size_t>(n);
  }
}
}  // namespace

#define FLOTILLA_COMM (handle_ ? handle_->comm : MPI_COMM_NULL)

Communicator Communicator::world() {
  Communicator c;
  c.handle_ = std::make_shared<Handle>();
  c.handle_->comm = MPI_COMM_WORLD;
  return c;
}

int Communicator::rank() const {
  int r = -1;
  check(MPI_Comm_rank(FLOTILLA_COMM, &r), "MPI_Comm_rank");
  return r;
}

int Communicator::size() const {
  int s = 0;
  check(MPI_Comm_size(FLOTILLA_COMM, &s), "MPI_Comm_size");
  return s;
}

Communicator Communicator::split(int color, int key) const {
  MPI_Comm out = MPI_COMM_NULL;
  check(MPI_Comm_split(FLOTILLA_COMM, color < 0 ? MPI_UNDEFINED : color, key, &out), "MPI_Comm_split");
  Communicator c;
  if (out != MPI_COMM_NULL) {
    c.handle_ = std::make_shared<Handle>();
    c.handle_->comm = out;
    c.handle_->owned = true;
  }
  return c;
}

void Communicator::barrier() const { check(MPI_Barrier(FLOTILLA_COMM), "MPI_Barrier"); }

std::vector<std::string> Communicator::allgather(const std::string& mine) const {
  const int n = size();
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(static_cast<std::size_t>(n)), displs(static_cast<std::size_t>(n), 0);
  check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, FLOTILLA_COMM), "MPI_Allgather");
  for (int i = 1; i < n; ++i) displs[static_cast<std::size_t>(i)] = displs[static_cast<std::size_t>(i - 1)] + lens[static_cast<std::size_t>(i - 1)];
  std::string all(static_cast<std::size_t>(displs.back() + lens.back()), '\0');
  check(MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, FLOTILLA_COMM),
        "MPI_Allgatherv");
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(all.substr(static_cast<std::size_t>(displs[static_cast<std::size_t>(i)]), static_cast<std::size_t>(lens[static_cast<std::size_t>(i)])));
  return out;
}

std::vector<VertexId> Communicator::allgatherv(const std::vector<VertexId>& mine) const {
  const int n = size();
  if (mine.size() > static_cast<std::size_t>(INT_MAX)) throw std::runtime_error("allgatherv: more than INT_MAX ids");
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(static_cast<std::size_t>(n)), displs(static_cast<std::size_t>(n), 0);
  check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, FLOTILLA_COMM), "MPI_Allgather");
  long long total = 0;
  for (int i = 0; i < n; ++i) {
    displs[static_cast<std::size_t>(i)] = static_cast<int>(total);
    total += lens[static_cast<std::size_t>(i)];
    if (total > INT_MAX) throw std::runtime_error("allgatherv: more than INT_MAX ids in total");
  }
  std::vector<VertexId> out(static_cast<std::size_t>(total));
  check(MPI_Allgatherv(mine.data(), len, MPI_UINT32_T, out.data(), lens.data(), displs.data(), MPI_UINT32_T, FLOTILLA_COMM),
        "MPI_Allgatherv");
  return out;
}

void Communicator::allreduce_sum(float* data, std::size_t count) const { allreduce_slices(data, count, MPI_FLOAT, FLOTILLA_COMM); }
void Communicator::allreduce_sum(double* data, std::size_t count) const { allreduce_slices(data, count, MPI_DOUBLE, FLOTILLA_COMM); }
void Communicator::allreduce_sum(std::uint64_t* data, std::size_t count) const {
  allreduce_slices(data, count, MPI_UINT64_T, FLOTILLA_COMM);
}

std::int64_t Communicator::allreduce_max(std::int64_t v) const {
  std::int64_t out = v;
  check(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MAX, FLOTILLA_COMM), "MPI_Allreduce");
  return out;
}

int Communicator::fortran_handle() const { return static_cast<int>(MPI_Comm_c2f(FLOTILLA_COMM)); }

void abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  int initialised = 0, finalized = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalized);
  if (initialised && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

// ---- MessageEndpoint ------------------------------------------------------------------------
struct MessageEndpoint::Pending {
  std::vector<std::uint8_t> bytes;
  MPI_Request request = MPI_REQUEST_NULL;
};

MessageEndpoint::MessageEndpoint(Communicator comm) : comm_(std::move(comm)) {}

MessageEndpoint::~MessageEndpoint() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) {
    try {
      flush();
    } catch (...) {
    }
  }
}

#define FLOTILLA_EP_COMM (MPI_Comm_f2c(comm_.fortran_handle()))

void MessageEndpoint::send(int dest, int tag, std::vector<std::uint8_t> bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX))
    throw std::runtime_error("message of " + std::to_string(bytes.size()) + " bytes exceeds MPI's int count; use smaller batches");
  auto p = std::make_unique<Pending>();
  p->bytes = std::move(bytes);
  bytes_sent_ += p->bytes.size();
  check(MPI_Isend(p->bytes.data(), static_cast<int>(p->bytes.size()), MPI_BYTE, dest, tag, FLOTILLA_EP_COMM, &p->request),
        "MPI_Isend");
  pending_.push_back(std::move(p));
}

std::size_t MessageEndpoint::progress() {
  for (std::size_t i = 0; i < pending_.size();) {
    int done = 0;
    check(MPI_Test(&pending_[i]->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) {
      pending_[i] = std::move(pending_.back());
      pending_.pop_back();
    } else {
      ++i;
    }
  }
  return pending_.size();
}

void MessageEndpoint::flush() {
  for (auto& p : pending_) check(MPI_Wait(&p->request, MPI_STATUS_IGNORE), "MPI_Wait");
  pending_.clear();
}

bool MessageEndpoint::try_receive(Message& out, int source, int tag) {
  int flag = 0;
  MPI_Status st;
  const MPI_Comm c = FLOTILLA_EP_COMM;
  check(MPI_Iprobe(source < 0 ? MPI_ANY_SOURCE : source, tag < 0 ? MPI_ANY_TAG : tag, c, &flag, &st), "MPI_Iprobe");
  if (!flag) return false;
  int count = 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  out.source = st.MPI_SOURCE;
  out.tag = st.MPI_TAG;
  out.bytes.resize(static_cast<std::size_t>(count));
  check(MPI_Recv(out.bytes.data(), count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, c, MPI_STATUS_IGNORE), "MPI_Recv");
  bytes_received_ += static_cast<std::uint64_t>(count);
  return true;
}

Message MessageEndpoint::receive(int source, int tag) {
  Message m;
  // Poll so that our own sends keep completing while we wait (no blocking MPI_Probe).
  // Yield, then sleep briefly: ranks are often oversubscribed on a node's cores.
  unsigned spins = 0;
  while (!try_receive(m, source, tag)) {
    progress();
    if (++spins < 1000) {
      sched_yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  return m;
}

}  // namespace flotilla
