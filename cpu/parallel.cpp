#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace hy::cpu {

namespace {

class Pool {
 public:
  explicit Pool(size_t threads) : threads_(threads) {
    for (size_t i = 1; i < threads_; ++i) std::thread([this] { work(); }).detach();
  }
  size_t threads() const { return threads_; }

  void run(size_t chunks, const std::function<void(size_t)>& fn) {
    std::lock_guard<std::mutex> one(submit_);  // one job at a time
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      chunks_ = chunks;
      next_.store(0);
      done_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    drain(fn);
    std::unique_lock<std::mutex> lock(mutex_);
    // Helpers still inside drain() hold a pointer to fn: wait for them to leave as well.
    finished_.wait(lock, [&] { return done_ == chunks_ && active_ == 0; });
    job_ = nullptr;
  }

 private:
  void drain(const std::function<void(size_t)>& fn) {
    size_t mine = 0;
    for (size_t c; (c = next_.fetch_add(1)) < chunks_;) {
      fn(c);
      ++mine;
    }
    if (mine > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ += mine;
      if (done_ == chunks_) finished_.notify_all();
    }
  }

  void work() {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(size_t)>* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen && job_ != nullptr; });
        seen = generation_;
        job = job_;
        ++active_;
      }
      drain(*job);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --active_;
      }
      finished_.notify_all();
    }
  }

  const size_t threads_;
  std::mutex submit_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t chunks_ = 0;
  std::atomic<size_t> next_{0};
  size_t done_ = 0;
  size_t active_ = 0;  // helpers inside drain()
  uint64_t generation_ = 0;
};

Pool& pool() {
  static Pool* p = [] {
    size_t n = std::max(1u, std::thread::hardware_concurrency());
    if (const char* env = std::getenv("HAYATE_CPU_THREADS")) {
      const long v = std::strtol(env, nullptr, 10);
      if (v >= 1 && v <= 1024) n = static_cast<size_t>(v);
    }
    return new Pool(n);  // never destroyed: its threads outlive static destruction
  }();
  return *p;
}

}  // namespace

size_t threadCount() { return pool().threads(); }

void parallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  const size_t threads = pool().threads();
  if (threads == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  // A few chunks per thread balance uneven chunks without making them tiny.
  const size_t chunks = std::min((n + grain - 1) / grain, threads * 4);
  const size_t per = (n + chunks - 1) / chunks;
  const size_t count = (n + per - 1) / per;
  pool().run(count, [&](size_t c) { fn(c * per, std::min(n, (c + 1) * per)); });
}

}  // namespace hy::cpu
