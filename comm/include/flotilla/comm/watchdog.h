// Stalled-rank watchdog (issue 16.9). A rank killed from outside is noticed by mpirun at
// once; a rank that stops without exiting (SIGSTOP, Ctrl-Z, a frozen node, a network
// partition) would leave every other rank waiting forever in a receive or a collective.
//
// Each rank runs one watchdog thread that sends a small heartbeat every `interval` seconds on
// its own duplicate of MPI_COMM_WORLD (never seen by the training traffic) and reads the
// heartbeats it gets. Rank 0 watches every other rank; every other rank watches rank 0. A
// process that is stopped sends nothing, so the stall is noticed on the waiting side, and the
// silent rank is named exactly. A rank that is busy (a long first epoch, a checkpoint write,
// a full evaluation, loading a large shard) keeps sending from its thread: the clock measures
// silence, never the length of a phase. A watched rank silent for `timeout` seconds ends the
// job: one message naming the rank, its role and host, then MPI_Abort (exit 1).
//
// The bookkeeping (HeartbeatTable, watched_ranks, reports_at_once, stall_message) is pure and
// unit-tested without MPI (tests/unit/comm_watchdog_test.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace flotilla {

// Last heartbeat time of each watched rank (seconds on a monotonic clock, given by the caller).
class HeartbeatTable {
 public:
  HeartbeatTable(std::vector<int> watched, double now);
  void heard(int rank, double now);  // a heartbeat from `rank` (ranks not watched are ignored)
  void gone(int rank);               // `rank` ended normally: no longer watched
  // Watched ranks silent for at least `timeout` seconds, ascending.
  std::vector<int> silent(double now, double timeout) const;
  double silent_for(int rank, double now) const;  // 0 for a rank not watched
  bool empty() const;                             // nothing left to watch

 private:
  struct Entry {
    int rank;
    double last;
    bool gone;
  };
  std::vector<Entry> entries_;
};

// Star topology: rank 0 watches ranks 1..size-1; every other rank watches rank 0.
// Heartbeats go the same way (a rank sends to the ranks it watches).
std::vector<int> watched_ranks(int me, int size);

// Whether `me`, having found `silent` ranks, reports at once: the lowest rank not among them
// does; the others wait a grace period first, so that the job prints the message once.
bool reports_at_once(int me, const std::vector<int>& silent);

// Heartbeat interval for a timeout: timeout / 8, between 0.05 s and 1 s.
double heartbeat_interval(double timeout_s);

// "flotilla train: rank 2 (sampler 0 on node01) stopped responding: ..." (one line, then the
// fix). `who[r]` describes rank r ("sampler 0 on node01"); `hint`, when not empty, is
// appended as the next step (e.g. how to resume).
std::string stall_message(const std::vector<int>& silent, const std::vector<std::string>& who, double silent_s,
                          double timeout_s, int detected_by, const std::string& hint);

class RankWatchdog {
 public:
  // Collective over MPI_COMM_WORLD (duplicates it and all-gathers the host names); starts the
  // thread. With one rank, or timeout_s <= 0, it does nothing. `hint` goes into the message.
  RankWatchdog(double timeout_s, const std::string& hostname, std::string hint);
  // Tells the ranks watching this one that it ends normally (they stop watching it), then
  // stops the thread. Not collective.
  ~RankWatchdog();
  RankWatchdog(const RankWatchdog&) = delete;
  RankWatchdog& operator=(const RankWatchdog&) = delete;

  // Role of every rank for the messages ("sampler 0"), by rank, once the role plan is known.
  // Until then a rank is described by its host alone. Thread-safe; callable without a watchdog.
  static void set_roles(const std::vector<std::string>& roles);

 private:
  void loop();
  struct Mpi;
  std::unique_ptr<Mpi> mpi_;
  double timeout_ = 0;
  std::string hint_;
  std::vector<std::string> hosts_;
  int rank_ = 0, size_ = 1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace flotilla
