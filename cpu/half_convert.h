// float32 <-> float16 over arrays on the CPU: portable loops, and the x86 conversion instructions
// where the running CPU has them, chosen once. Header-only so the native tests check every path
// against the reference conversions for all inputs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "../core/half.h"

namespace hy::cpu {

// The float32 <-> float16 casts (autocast's and every fp16 tensor's). The portable loops run the
// branch-free conversions of core/half.h, which vectorise; where the CPU has the conversion
// instructions (F16C, AVX-512) they do the same in one instruction per vector, bit for bit for
// every number. Only NaNs differ (the instructions keep and quiet the payload), so NaN lanes are
// redone on the portable path: every path gives the same bits for every input
// (test/native/half_test.cpp checks all of them).
inline void floatToHalfPortable(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = floatToHalfBits(in[i]);
}

inline void halfToFloatPortable(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = halfBitsToFloat(in[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
// NaN lanes get the portable path's bits.
inline void fixNans(const float* in, uint16_t* out, unsigned mask) {
  for (; mask != 0; mask &= mask - 1) {
    const int k = __builtin_ctz(mask);
    out[k] = floatToHalfBits(in[k]);
  }
}
inline void fixNans(const uint16_t* in, float* out, unsigned mask) {
  for (; mask != 0; mask &= mask - 1) {
    const int k = __builtin_ctz(mask);
    out[k] = halfBitsToFloat(in[k]);
  }
}

__attribute__((target("avx512f"))) inline void floatToHalf512(const float* in, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(in + i);
    // The maskz forms: the plain ones trip GCC 12's maybe-uninitialized warning.
    const __m256i h = _mm512_maskz_cvtps_ph(0xffff, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), h);
    fixNans(in + i, out + i, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
  }
  floatToHalfPortable(in + i, out + i, n - i);
}

__attribute__((target("avx512f"))) inline void halfToFloat512(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)));
    _mm512_storeu_ps(out + i, v);
    fixNans(in + i, out + i, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
  }
  halfToFloatPortable(in + i, out + i, n - i);
}

__attribute__((target("avx2,f16c"))) inline void floatToHalf256(const float* in, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(in + i);
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
    fixNans(in + i, out + i, static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))));
  }
  floatToHalfPortable(in + i, out + i, n - i);
}

__attribute__((target("avx2,f16c"))) inline void halfToFloat256(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)));
    _mm256_storeu_ps(out + i, v);
    fixNans(in + i, out + i, static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))));
  }
  halfToFloatPortable(in + i, out + i, n - i);
}
#endif

struct HalfConversions {
  void (*toHalf)(const float*, uint16_t*, size_t);
  void (*toFloat)(const uint16_t*, float*, size_t);
  const char* name;
};

// Every path the running CPU can take, widest first.
inline std::vector<HalfConversions> availableHalfConversions() {
  std::vector<HalfConversions> paths;
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f")) paths.push_back({floatToHalf512, halfToFloat512, "avx512"});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) {
    paths.push_back({floatToHalf256, halfToFloat256, "f16c"});
  }
#endif
  paths.push_back({floatToHalfPortable, halfToFloatPortable, "portable"});
  return paths;
}

// The widest, chosen once.
inline const HalfConversions& halfConversions() {
  static const HalfConversions chosen = availableHalfConversions().front();
  return chosen;
}


}  // namespace hy::cpu
