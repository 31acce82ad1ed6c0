// Large outputs of memory-bound ops (binary, scalar) written with non-temporal (streaming)
// stores. An ordinary store first reads the line it writes (a read for ownership), so an op over
// arrays larger than the last-level cache moves a third more memory than it needs. Measured on a
// 2-core AVX-512 machine (105 MiB L3) against ordinary stores: 8192 x 4096 float32 (128 MiB an
// array) add 12.5 -> 11.2 ms, broadcast add 10.6 -> 8.8 ms, multiply by a scalar 10.4 -> 8.3 ms; at
// 2048 x 2048, whose arrays fit in the cache, streaming gained nothing, and a chain of ops then
// reads its input back from memory. So an op streams only when what it reads and writes exceeds
// the last-level cache. Other ops write as before: staged, exp's and GELU's 8192 x 8192 outputs
// ran 10-20% slower (the computing and the copying no longer overlap), softmax's 4% and a float32
// to float16 cast's 5% slower.
//
// A kernel writes each piece into a small stage on its thread's stack (it stays in L1), which is
// then copied to the output with streaming stores; the kernels themselves are unchanged. Streaming
// stores are weakly ordered: each piece ends with a store fence, before the pool reports it done.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "parallel.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace hy::cpu {

constexpr size_t kStageBytes = size_t(16) << 10;  // one thread's stage: a third of a 48 KiB L1

// The footprint (bytes read and written) from which an op streams its output: the last-level
// cache's size (32 MiB where the system does not say), or what setStreamThreshold set.
size_t streamThreshold();
// Sets the threshold (0: back to the cache's size); for tests, which cannot make arrays the size of
// a server's cache in reasonable time.
void setStreamThreshold(size_t bytes);

inline bool streamsOutput(size_t footprintBytes) {
#if defined(__x86_64__)
  return footprintBytes >= streamThreshold();
#else
  return false;  // no streaming stores written for other architectures
#endif
}

// dst[0 .. bytes) = src[0 .. bytes), the whole 64-byte lines of dst with streaming stores
// (cpu/streaming.cpp).
void streamCopy(void* dst, const void* src, size_t bytes);

inline void streamFence() {
#if defined(__x86_64__)
  _mm_sfence();
#endif
}

// Runs write(begin, end, dst) over items [0, n) of `itemBytes` output bytes each (an element, or
// a row of a broadcast), split over the pool as parallelFor(n, grain, ...) does: dst is where
// items begin .. end go, the output itself (out + begin * itemBytes) or, where the op's footprint
// (the bytes it reads and writes) streams, a stage that is then copied out. Items larger than a
// stage are never staged.
template <typename Write>
void parallelForOutput(void* out, size_t itemBytes, size_t n, size_t grain, size_t footprint, const Write& write) {
  char* base = static_cast<char*>(out);
  if (!streamsOutput(footprint) || itemBytes == 0 || itemBytes > kStageBytes) {
    parallelFor(n, grain, [&](size_t b, size_t e) { write(b, e, base + b * itemBytes); });
    return;
  }
  parallelFor(n, grain, [&](size_t b, size_t e) {
    alignas(64) char stage[kStageBytes];  // on the stack: a thread_local in a shared library costs a call per use
    const size_t step = kStageBytes / itemBytes;
    for (size_t i = b; i < e; i += step) {
      const size_t j = std::min(e, i + step);
      write(i, j, stage);
      streamCopy(base + i * itemBytes, stage, (j - i) * itemBytes);
    }
    streamFence();
  });
}

}  // namespace hy::cpu
