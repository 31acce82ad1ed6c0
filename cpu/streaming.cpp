#include "streaming.h"

#include <unistd.h>

#include <atomic>
#include <cstring>

#include "features.h"

namespace hy::cpu {

namespace {
std::atomic<size_t> thresholdOverride{0};
size_t cacheBytes() {
#if defined(_SC_LEVEL3_CACHE_SIZE)
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0) return static_cast<size_t>(l3);
#endif
  return size_t(32) << 20;
}
}  // namespace

size_t streamThreshold() {
  static const size_t cache = cacheBytes();
  const size_t set = thresholdOverride.load(std::memory_order_relaxed);
  return set != 0 ? set : cache;
}

void setStreamThreshold(size_t bytes) { thresholdOverride.store(bytes, std::memory_order_relaxed); }

#if defined(__x86_64__)
namespace {

// The widest streaming store the CPU has: one whole 64-byte line per store where AVX-512 has it,
// so a line's write-combining buffer fills in one store instead of four.
__attribute__((target("avx512f"))) void copyLines512(char* d, const char* s, size_t lines) {
  for (size_t i = 0; i < lines; ++i) _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 64 * i), _mm512_loadu_si512(s + 64 * i));
}
__attribute__((target("avx"))) void copyLines256(char* d, const char* s, size_t lines) {
  for (size_t i = 0; i < 2 * lines; ++i) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 32 * i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32 * i)));
  }
}
void copyLines128(char* d, const char* s, size_t lines) {
  for (size_t i = 0; i < 4 * lines; ++i) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16 * i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16 * i)));
  }
}

}  // namespace

void streamCopy(void* dst, const void* src, size_t bytes) {
  static void (*const copyLines)(char*, const char*, size_t) =
      hasAvx512() ? copyLines512 : __builtin_cpu_supports("avx") ? copyLines256 : copyLines128;
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  const size_t head = std::min(bytes, (64 - reinterpret_cast<uintptr_t>(d) % 64) % 64);
  std::memcpy(d, s, head);
  const size_t lines = (bytes - head) / 64;
  copyLines(d + head, s + head, lines);
  const size_t done = head + 64 * lines;
  std::memcpy(d + done, s + done, bytes - done);
}
#else
void streamCopy(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
#endif

}  // namespace hy::cpu
