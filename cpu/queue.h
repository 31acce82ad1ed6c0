// The CPU's stream: one in-order queue of tasks run by a native thread, so JavaScript returns from
// every CPU op at once and the event loop never waits on compute. Reads and synchronisations wait
// for the queue to reach them; an exception a task throws is kept, later tasks still run (as
// kernels after a failed CUDA kernel do), and the next synchronize() or takeError() raises it.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>

namespace hy::cpu {

class Queue {
 public:
  // Runs task after everything enqueued before it. Blocks only when kMaxPending tasks are already
  // waiting (a producer that never waits would otherwise queue without bound).
  void enqueue(std::function<void()> task);
  // The same without the bound: for callers that must not block (under another lock a task may
  // need), with work that cannot itself queue more.
  void enqueueUnbounded(std::function<void()> task);
  // The ticket of the last task enqueued so far; waitFor(t) returns once it and all before it ran.
  uint64_t lastTicket();
  void waitFor(uint64_t ticket);
  void waitIdle();
  bool idle();
  // Waits for everything enqueued so far, then rethrows (and clears) the first error a task raised.
  void synchronize();
  // The first error a task raised since the last take, cleared; null when none.
  std::exception_ptr takeError();
  // Keeps e as a task's error (for work run outside the queue in its place, see runOp's inline
  // path), unless an earlier one is pending.
  void recordError(std::exception_ptr e);

  static constexpr size_t kMaxPending = 4096;

 private:
  friend Queue& queue();
  Queue() = default;
  void loop();
  void push(std::function<void()> task, bool bounded);
  struct State;
  State* state_ = nullptr;
};

// The process's CPU queue (one, like a device's default stream), started on first use.
Queue& queue();

}  // namespace hy::cpu
