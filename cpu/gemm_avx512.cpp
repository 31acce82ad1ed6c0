// The GEMM micro-kernels for AVX-512F: an 8 x 32 register tile (16 zmm accumulators, two B vectors
// and one broadcast A value of the 32 registers), and a 16 x 16 one for products at most 16 columns
// wide; fp16 through F16C. Built with -mavx512f -mfma -mf16c (CMakeLists.txt) and run only where
// the CPU has them (gemm.cpp checks at load time).
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "gemm_kernel.h"

namespace hy::cpu {

namespace {

inline float halfToFloat(uint16_t h) { return _cvtsh_ss(h); }
inline uint16_t floatToHalf(float f) { return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

// An MR x (16 * NV) register tile: MR * NV zmm accumulators, NV B vectors and one broadcast A
// value a k.
template <int64_t MR_, int NV, int64_t MC_, int64_t KC_, int64_t NC_>
struct Tile {
  static constexpr int64_t MR = MR_, NR = 16 * NV, MC = MC_, KC = KC_, NC = NC_;
  static_assert(MC % MR == 0 && NC % NR == 0, "blocks hold whole tiles");

  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict acc,
                  int64_t ldAcc) {
    __m512 c[MR][NV];
    for (int r = 0; r < MR; ++r) {
      for (int v = 0; v < NV; ++v) c[r][v] = _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < kc; ++k) {
      __m512 bv[NV];
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + k * NR + 16 * v);
      for (int r = 0; r < MR; ++r) {
        const __m512 av = _mm512_set1_ps(a[k * MR + r]);
        for (int v = 0; v < NV; ++v) c[r][v] = _mm512_fmadd_ps(av, bv[v], c[r][v]);
      }
    }
    for (int r = 0; r < MR; ++r) {
      float* row = acc + r * ldAcc;
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(row + 16 * v, _mm512_add_ps(_mm512_loadu_ps(row + 16 * v), c[r][v]));
    }
  }
};

// 8 x 32: a KC x NR B micro-panel (32 KiB) stays in L1 while the MC x KC A block (128 KiB) streams
// from L2; the KC x NC B block (512 KiB) and the MC x NC accumulators (256 KiB) live in L2. KC = 256
// rather than 128 halves the accumulator tile's loads and stores per multiply-add.
using Kernel = Tile<8, 2, 128, 256, 512>;
// 16 x 16, for products at most 16 columns wide: the 8 x 32 tile padded the seed network's
// 10-class layer (N = 10) to 32 columns, so two thirds of its multiply-adds were on zeros; here 10
// of 16 lanes work. gemm.cpp picks it by N.
using NarrowKernel = Tile<16, 1, 128, 256, 256>;

#include "gemm_blocked.inc"

}  // namespace

const GemmKernel kGemmAvx512{"avx512", Kernel::MR, Kernel::NR, Kernel::MC, Kernel::KC, Kernel::NC, &runBlocks<Kernel>};
const GemmKernel kGemmAvx512Narrow{"avx512 16x16", NarrowKernel::MR, NarrowKernel::NR, NarrowKernel::MC, NarrowKernel::KC,
                                   NarrowKernel::NC, &runBlocks<NarrowKernel>};

}  // namespace hy::cpu
#endif
