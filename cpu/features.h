// What the running CPU's vector units support, checked once per call site at load time: the
// kernels built for AVX2 + FMA or AVX-512 (gemm_*.cpp, gelu_*.cpp) run only where these say so.
#pragma once

namespace hy::cpu {

#if defined(__x86_64__)
inline bool hasAvx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
inline bool hasAvx512() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("f16c"); }
#else
inline bool hasAvx2() { return false; }
inline bool hasAvx512() { return false; }
#endif

}  // namespace hy::cpu
