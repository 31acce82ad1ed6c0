// The machine's fp32 peak, measured rather than assumed: independent FMA chains on every pool
// thread at once, with the widest vector unit the CPU has. Benchmarks report GEMM rates as a
// fraction of it.
#pragma once
#include <cstddef>

namespace hy::cpu {

struct PeakResult {
  double gflops;   // all threads together
  size_t threads;
  const char* isa;  // "avx512", "avx2" or "sse"
};

PeakResult measurePeak();

}  // namespace hy::cpu
