// Internal: a fixed set of worker threads that run one parallel step at a time, for GREM's
// semi-external engine (--threads). The calling thread is worker 0, so a pool of one thread
// starts none. Owns its threads: they are joined on destruction. An exception thrown by a
// task is rethrown in the caller once every worker has finished the step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace flotilla::detail {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Runs f(t) for every t in [0, size()), each on its own thread; returns when all are done.
  void run(const std::function<void(unsigned)>& f);

  // Splits [0, n) into size() contiguous ranges: f(t, begin, end) for each (empty ones too).
  template <typename F>
  void for_ranges(std::uint64_t n, F&& f) {
    const unsigned t = size();
    if (t == 1) {
      f(0u, std::uint64_t{0}, n);
      return;
    }
    run([&](unsigned w) { f(w, n * w / t, n * (w + 1) / t); });
  }

 private:
  void worker_loop(unsigned id);
  void execute(unsigned id);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(unsigned)>* task_ = nullptr;
  std::uint64_t generation_ = 0;
  std::atomic<std::uint64_t> published_{0};  // generation_, readable without the lock (spinning)
  std::atomic<unsigned> pending_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

}  // namespace flotilla::detail
