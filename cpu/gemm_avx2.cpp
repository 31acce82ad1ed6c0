// The GEMM micro-kernel for AVX2 + FMA: a 6 x 16 register tile (12 ymm accumulators, two B vectors
// and one broadcast A value of the 16 registers), fp16 through F16C. Built with -mavx2 -mfma -mf16c
// (CMakeLists.txt) and run only where the CPU has them (gemm.cpp checks at load time).
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "gemm_kernel.h"

namespace hy::cpu {

namespace {

inline float halfToFloat(uint16_t h) { return _cvtsh_ss(h); }
inline uint16_t floatToHalf(float f) { return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

struct Kernel {
  static constexpr int64_t MR = 6, NR = 16;
  // A KC x NR B micro-panel (8 KiB) stays in L1 while the MC x KC A block (48 KiB) streams from L2.
  static constexpr int64_t MC = 96, KC = 128, NC = 512;

  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict acc,
                  int64_t ldAcc) {
    __m256 c[MR][2];
    for (int r = 0; r < MR; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const __m256 b0 = _mm256_loadu_ps(b + k * NR);
      const __m256 b1 = _mm256_loadu_ps(b + k * NR + 8);
      for (int r = 0; r < MR; ++r) {
        const __m256 av = _mm256_broadcast_ss(a + k * MR + r);
        c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
        c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
      }
    }
    for (int r = 0; r < MR; ++r) {
      float* row = acc + r * ldAcc;
      _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), c[r][0]));
      _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), c[r][1]));
    }
  }
};
static_assert(Kernel::MC % Kernel::MR == 0 && Kernel::NC % Kernel::NR == 0, "blocks hold whole tiles");

#include "gemm_blocked.inc"

}  // namespace

const GemmKernel kGemmAvx2{"avx2", Kernel::MR, Kernel::NR, Kernel::MC, Kernel::KC, Kernel::NC, &runBlocks<Kernel>};

}  // namespace hy::cpu
#endif
