// The CPU kernels' thread pool, sized to the machine (HAYATE_CPU_THREADS overrides). Kernels call
// parallelFor from inside the CPU queue's task; the queue's thread takes a share of the chunks
// itself, so a pool of n threads uses n - 1 helpers.
#pragma once
#include <cstddef>
#include <functional>

namespace hy::cpu {

size_t threadCount();

// Runs fn(begin, end) over [0, n) in chunks of at least `grain` items, spread over the pool, and
// returns when all have run. Inline (no threads) when n <= grain or the pool has one thread.
// fn must not throw.
void parallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

}  // namespace hy::cpu
