// Stalled-rank watchdog: heartbeats on a duplicate of MPI_COMM_WORLD, one thread per rank.
// Design and guarantees: comm/include/flotilla/comm/watchdog.h.
#include "flotilla/comm/watchdog.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "flotilla/comm/communicator.h"

namespace flotilla {

// ---- pure bookkeeping -----------------------------------------------------------------------
HeartbeatTable::HeartbeatTable(std::vector<int> watched, double now) {
  std::sort(watched.begin(), watched.end());
  watched.erase(std::unique(watched.begin(), watched.end()), watched.end());
  for (int r : watched) entries_.push_back({r, now, false});
}

void HeartbeatTable::heard(int rank, double now) {
  for (Entry& e : entries_)
    if (e.rank == rank) e.last = std::max(e.last, now);
}

void HeartbeatTable::gone(int rank) {
  for (Entry& e : entries_)
    if (e.rank == rank) e.gone = true;
}

std::vector<int> HeartbeatTable::silent(double now, double timeout) const {
  std::vector<int> out;
  for (const Entry& e : entries_)
    if (!e.gone && now - e.last >= timeout) out.push_back(e.rank);
  return out;
}

double HeartbeatTable::silent_for(int rank, double now) const {
  for (const Entry& e : entries_)
    if (e.rank == rank && !e.gone) return now - e.last;
  return 0;
}

bool HeartbeatTable::empty() const {
  return std::none_of(entries_.begin(), entries_.end(), [](const Entry& e) { return !e.gone; });
}

std::vector<int> watched_ranks(int me, int size) {
  std::vector<int> out;
  if (size <= 1) return out;
  if (me == 0) {
    for (int r = 1; r < size; ++r) out.push_back(r);
  } else {
    out.push_back(0);
  }
  return out;
}

bool reports_at_once(int me, const std::vector<int>& silent) {
  int lowest = 0;
  while (std::find(silent.begin(), silent.end(), lowest) != silent.end()) ++lowest;
  return me == lowest;
}

double heartbeat_interval(double timeout_s) { return std::clamp(timeout_s / 8.0, 0.05, 1.0); }

std::string stall_message(const std::vector<int>& silent, const std::vector<std::string>& who, double silent_s,
                          double timeout_s, int detected_by, const std::string& hint) {
  std::string ranks;
  for (std::size_t i = 0; i < silent.size(); ++i) {
    const int r = silent[i];
    const std::string d = r >= 0 && static_cast<std::size_t>(r) < who.size() ? who[static_cast<std::size_t>(r)] : "?";
    ranks += (i == 0 ? "" : i + 1 == silent.size() ? " and " : ", ") + std::to_string(r) + " (" + d + ")";
  }
  char secs[64];
  std::snprintf(secs, sizeof secs, "%.1f s (--rank-timeout %g)", silent_s, timeout_s);
  std::string m = "flotilla train: " + std::string(silent.size() == 1 ? "rank " : "ranks ") + ranks + " stopped responding: no heartbeat for " + secs +
                  "; stopped (SIGSTOP, Ctrl-Z, a debugger), frozen or unreachable. Ending the job (noticed by rank " +
                  std::to_string(detected_by) + ").";
  if (!hint.empty()) m += "\n" + hint;
  return m;
}

// ---- the thread -----------------------------------------------------------------------------
namespace {
constexpr int kHeartbeat = 1, kBye = 2;
std::mutex g_roles_mu;
std::vector<std::string> g_roles;  // by rank; empty until the role plan is known

std::vector<std::string> describe(const std::vector<std::string>& hosts) {
  std::lock_guard<std::mutex> lock(g_roles_mu);
  std::vector<std::string> out;
  for (std::size_t r = 0; r < hosts.size(); ++r) {
    const bool known = r < g_roles.size() && !g_roles[r].empty();
    out.push_back(known ? g_roles[r] + " on " + hosts[r] : "on " + hosts[r] + ", role not assigned yet");
  }
  return out;
}
}  // namespace

struct RankWatchdog::Mpi {
  MPI_Comm comm = MPI_COMM_NULL;
  std::vector<MPI_Request> pending;  // heartbeat sends in flight (0-byte: no buffer to own)
  void test() {
    for (std::size_t i = 0; i < pending.size();) {
      int done = 0;
      MPI_Test(&pending[i], &done, MPI_STATUS_IGNORE);
      if (done) {
        pending[i] = pending.back();
        pending.pop_back();
      } else {
        ++i;
      }
    }
  }
  void send(int dest, int tag) {
    MPI_Request r = MPI_REQUEST_NULL;
    if (MPI_Isend(nullptr, 0, MPI_BYTE, dest, tag, comm, &r) == MPI_SUCCESS) pending.push_back(r);
  }
};

void RankWatchdog::set_roles(const std::vector<std::string>& roles) {
  std::lock_guard<std::mutex> lock(g_roles_mu);
  g_roles = roles;
}

RankWatchdog::RankWatchdog(double timeout_s, const std::string& hostname, std::string hint)
    : timeout_(timeout_s), hint_(std::move(hint)) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised || timeout_s <= 0) return;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (size_ <= 1) return;
  int level = 0;
  MPI_Query_thread(&level);
  if (level < MPI_THREAD_MULTIPLE) {  // the same on every rank: no collective below on any
    if (rank_ == 0)
      std::fprintf(stderr,
                   "flotilla train: warning: MPI grants no MPI_THREAD_MULTIPLE; --rank-timeout is not enforced (a "
                   "stopped rank would hang the job)\n");
    return;
  }
  hosts_ = Communicator::world().allgather(hostname);
  mpi_ = std::make_unique<Mpi>();
  MPI_Comm_dup(MPI_COMM_WORLD, &mpi_->comm);
  thread_ = std::thread([this] { loop(); });
}

RankWatchdog::~RankWatchdog() {
  if (!mpi_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  // Goodbye: the ranks watching this one stop (this rank may now wait in MPI_Finalize for
  // the others for as long as they need). Sends of 0 bytes complete at once, unless the peer
  // is gone: give up on them after a second.
  mpi_->test();
  for (int r : watched_ranks(rank_, size_)) mpi_->send(r, kBye);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!mpi_->pending.empty() && std::chrono::steady_clock::now() < until) {
    mpi_->test();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (MPI_Request& r : mpi_->pending) MPI_Request_free(&r);
  MPI_Comm_free(&mpi_->comm);
}

void RankWatchdog::loop() {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto now = [&t0] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  const std::vector<int> peers = watched_ranks(rank_, size_);
  HeartbeatTable table(peers, now());
  const double interval = heartbeat_interval(timeout_);
  const double grace = std::max(5.0, timeout_ / 2);  // for the reporter's abort to end us first
  const auto poll = std::chrono::duration<double>(std::min(interval / 2, 0.25));
  double next_send = 0, first_silent = -1;
  std::vector<int> gone;
  for (;;) {
    const double t = now();
    if (t >= next_send) {
      for (int r : peers)
        if (std::find(gone.begin(), gone.end(), r) == gone.end()) mpi_->send(r, kHeartbeat);
      next_send = t + interval;
    }
    for (;;) {  // everything that arrived
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, mpi_->comm, &flag, &st);
      if (!flag) break;
      MPI_Recv(nullptr, 0, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, mpi_->comm, MPI_STATUS_IGNORE);
      if (st.MPI_TAG == kBye) {
        table.gone(st.MPI_SOURCE);
        gone.push_back(st.MPI_SOURCE);
      } else {
        table.heard(st.MPI_SOURCE, now());
      }
    }
    mpi_->test();
    const double t2 = now();
    const std::vector<int> silent = table.silent(t2, timeout_);
    if (!silent.empty()) {
      if (first_silent < 0) first_silent = t2;
      if (reports_at_once(rank_, silent) || t2 - first_silent >= grace) {
        double longest = 0;
        for (int r : silent) longest = std::max(longest, table.silent_for(r, t2));
        abort_job(stall_message(silent, describe(hosts_), longest, timeout_, rank_, hint_));
      }
    } else {
      first_silent = -1;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, poll, [this] { return stop_.load(); })) return;
  }
}

}  // namespace flotilla
