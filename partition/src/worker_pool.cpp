#include "worker_pool.h"

namespace flotilla::detail {

namespace {
// Steps follow each other within microseconds (one per batch of vertices): a worker spins
// briefly before it sleeps, so that a step does not pay a wake-up on every batch.
constexpr int kSpin = 2000;
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}
}  // namespace

WorkerPool::WorkerPool(unsigned threads) {
  for (unsigned t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    ++generation_;
    published_.store(generation_, std::memory_order_release);
  }
  start_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void WorkerPool::execute(unsigned id) {
  try {
    (*task_)(id);
  } catch (...) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!error_) error_ = std::current_exception();
  }
}

void WorkerPool::worker_loop(unsigned id) {
  std::uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpin && published_.load(std::memory_order_acquire) == seen; ++i) cpu_relax();
    if (published_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lk(mu_);
      start_cv_.wait(lk, [&] { return generation_ != seen; });
    }
    seen = published_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    execute(id);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lk(mu_);
      done_cv_.notify_one();
    }
  }
}

void WorkerPool::run(const std::function<void(unsigned)>& f) {
  if (workers_.empty()) {
    f(0);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    task_ = &f;
    pending_.store(static_cast<unsigned>(workers_.size()), std::memory_order_release);
    ++generation_;
    published_.store(generation_, std::memory_order_release);
  }
  start_cv_.notify_all();
  execute(0);
  for (int i = 0; i < kSpin && pending_.load(std::memory_order_acquire) != 0; ++i) cpu_relax();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  std::exception_ptr e;
  {
    std::lock_guard<std::mutex> lk(mu_);
    std::swap(e, error_);
  }
  if (e) std::rethrow_exception(e);
}

}  // namespace flotilla::detail
