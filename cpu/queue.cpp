#include "queue.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace hy::cpu {

namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// After a task, the worker polls for this long before it sleeps: a training step enqueues ops a few
// microseconds apart, and a sleeping worker costs each of them a wake-up. Bounded by time, not by
// iterations, since a pause instruction takes from 10 to 140 cycles depending on the CPU.
constexpr auto kSpin = std::chrono::microseconds(50);

}  // namespace

struct Queue::State {
  std::mutex mutex;
  std::condition_variable wake;      // the worker: a task arrived
  std::condition_variable progress;  // waiters: a task finished or room was made
  std::deque<std::function<void()>> tasks;
  std::atomic<size_t> queued{0};     // tasks.size(), readable without the lock
  uint64_t enqueued = 0;
  uint64_t completed = 0;
  bool sleeping = false;  // the worker waits on `wake`
  int waiting = 0;        // threads waiting on `progress`
  std::exception_ptr error;
};

Queue& queue() {
  // Never destroyed: the worker may still be running a task while the process exits.
  static Queue* q = [] {
    auto* created = new Queue();
    created->state_ = new Queue::State();
    std::thread([created] { created->loop(); }).detach();
    return created;
  }();
  return *q;
}

void Queue::loop() {
  State& s = *state_;
  for (;;) {
    if (s.queued.load(std::memory_order_acquire) == 0) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int i = 1; s.queued.load(std::memory_order_acquire) == 0; ++i) {
        cpuRelax();
        if (i % 32 == 0 && std::chrono::steady_clock::now() >= until) break;
      }
    }
    std::function<void()> task;
    bool notify = false;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      if (s.tasks.empty()) {
        s.sleeping = true;
        s.wake.wait(lock, [&] { return !s.tasks.empty(); });
        s.sleeping = false;
      }
      task = std::move(s.tasks.front());
      s.tasks.pop_front();
      s.queued.store(s.tasks.size(), std::memory_order_release);
      notify = s.waiting > 0;  // a producer may be waiting for room
    }
    if (notify) s.progress.notify_all();
    try {
      task();
    } catch (...) {
      std::lock_guard<std::mutex> lock(s.mutex);
      if (!s.error) s.error = std::current_exception();
    }
    // Destroyed before the task counts as done, so the storages it held are back in the pool by
    // the time a waiter looks.
    task = nullptr;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      ++s.completed;
      notify = s.waiting > 0;
    }
    if (notify) s.progress.notify_all();
  }
}

void Queue::enqueue(std::function<void()> task) { push(std::move(task), true); }

void Queue::enqueueUnbounded(std::function<void()> task) { push(std::move(task), false); }

void Queue::push(std::function<void()> task, bool bounded) {
  State& s = *state_;
  bool wake = false;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    if (bounded && s.tasks.size() >= kMaxPending) {
      ++s.waiting;
      s.progress.wait(lock, [&] { return s.tasks.size() < kMaxPending; });
      --s.waiting;
    }
    s.tasks.push_back(std::move(task));
    s.queued.store(s.tasks.size(), std::memory_order_release);
    ++s.enqueued;
    wake = s.sleeping;
  }
  if (wake) s.wake.notify_one();
}

uint64_t Queue::lastTicket() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->enqueued;
}

void Queue::waitFor(uint64_t ticket) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  if (s.completed >= ticket) return;
  ++s.waiting;
  s.progress.wait(lock, [&] { return s.completed >= ticket; });
  --s.waiting;
}

void Queue::waitIdle() { waitFor(lastTicket()); }

bool Queue::idle() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->completed == state_->enqueued;
}

void Queue::synchronize() {
  waitIdle();
  if (std::exception_ptr e = takeError()) std::rethrow_exception(e);
}

void Queue::recordError(std::exception_ptr e) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (!state_->error) state_->error = std::move(e);
}

std::exception_ptr Queue::takeError() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::exception_ptr e = state_->error;
  state_->error = nullptr;
  return e;
}

}  // namespace hy::cpu
