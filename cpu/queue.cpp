#include "queue.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace hy::cpu {

struct Queue::State {
  std::mutex mutex;
  std::condition_variable wake;      // the worker: a task arrived
  std::condition_variable progress;  // waiters: a task finished or room was made
  std::deque<std::function<void()>> tasks;
  uint64_t enqueued = 0;
  uint64_t completed = 0;
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
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      s.wake.wait(lock, [&] { return !s.tasks.empty(); });
      task = std::move(s.tasks.front());
      s.tasks.pop_front();
    }
    s.progress.notify_all();  // room in the queue
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
    }
    s.progress.notify_all();
  }
}

void Queue::enqueue(std::function<void()> task) {
  State& s = *state_;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.progress.wait(lock, [&] { return s.tasks.size() < kMaxPending; });
    s.tasks.push_back(std::move(task));
    ++s.enqueued;
  }
  s.wake.notify_one();
}

uint64_t Queue::lastTicket() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->enqueued;
}

void Queue::waitFor(uint64_t ticket) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  s.progress.wait(lock, [&] { return s.completed >= ticket; });
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

std::exception_ptr Queue::takeError() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::exception_ptr e = state_->error;
  state_->error = nullptr;
  return e;
}

}  // namespace hy::cpu
