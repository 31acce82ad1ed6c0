#include "peak.h"

#include <algorithm>
#include <chrono>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "parallel.h"

namespace hy::cpu {

namespace {

// Independent accumulators: more than FMA latency x FMA ports, and with the two constants within
// the register file. AVX-512 has 32 vector registers; AVX2 and SSE have 16, where 16 chains spilled
// and the loop ran at half the real peak (one FMA a cycle on a two-FMA core).
constexpr long kIterations = 4'000'000;
constexpr int kWideChains = 16;    // AVX-512: 16 + 2 of 32 registers
constexpr int kNarrowChains = 12;  // AVX2, SSE: 12 + 2 of 16 registers

// Returns a value that depends on every chain, so the loop cannot be dropped.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) float chainsAvx512() {
  __m512 a[kWideChains];
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < kWideChains; ++i) a[i] = _mm512_set1_ps(static_cast<float>(i));
  for (long k = 0; k < kIterations; ++k) {
#pragma GCC unroll 16
    for (int i = 0; i < kWideChains; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  }
  float s = 0;
  for (int i = 0; i < kWideChains; ++i) {
    alignas(64) float v[16];
    _mm512_store_ps(v, a[i]);
    for (float x : v) s += x;
  }
  return s;
}

__attribute__((target("avx2,fma"))) float chainsAvx2() {
  __m256 a[kNarrowChains];
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < kNarrowChains; ++i) a[i] = _mm256_set1_ps(static_cast<float>(i));
  for (long k = 0; k < kIterations; ++k) {
#pragma GCC unroll 16
    for (int i = 0; i < kNarrowChains; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  }
  float s = 0;
  for (int i = 0; i < kNarrowChains; ++i) {
    alignas(32) float v[8];
    _mm256_store_ps(v, a[i]);
    for (float x : v) s += x;
  }
  return s;
}
#endif

// The baseline: 4-wide multiply and add (no FMA before AVX2).
float chainsScalar() {
  float a[kNarrowChains][4];
  for (int i = 0; i < kNarrowChains; ++i) {
    for (int j = 0; j < 4; ++j) a[i][j] = static_cast<float>(i + j);
  }
  for (long k = 0; k < kIterations; ++k) {
    for (int i = 0; i < kNarrowChains; ++i) {
      for (int j = 0; j < 4; ++j) a[i][j] = a[i][j] * 0.999999f + 1e-7f;
    }
  }
  float s = 0;
  for (int i = 0; i < kNarrowChains; ++i) {
    for (int j = 0; j < 4; ++j) s += a[i][j];
  }
  return s;
}

}  // namespace

PeakResult measurePeak() {
  const char* isa = "sse";
  int lanes = 4, chains = kNarrowChains;
  float (*runOnce)() = &chainsScalar;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) {
    isa = "avx512";
    lanes = 16;
    chains = kWideChains;
    runOnce = &chainsAvx512;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    isa = "avx2";
    lanes = 8;
    runOnce = &chainsAvx2;
  }
#endif
  // The best of three runs of about 20 ms each: another process taking a core for part of one run
  // reads as a lower peak, never a higher one.
  const size_t threads = threadCount();
  std::vector<float> sink(threads);
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    parallelFor(threads, 1, [&](size_t begin, size_t end) {
      for (size_t t = begin; t < end; ++t) sink[t] = run == 0 ? runOnce() : runOnce() + sink[t];
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double flops = static_cast<double>(threads) * kIterations * chains * lanes * 2.0;  // an FMA is two
    best = std::max(best, flops / seconds / 1e9);
  }
  volatile float keep = 0;
  for (float s : sink) keep = keep + s;
  return {best, threads, isa};
}

}  // namespace hy::cpu
