// The CPU GEMM's micro-kernels, one per instruction set (gemm.cpp: the x86-64 baseline;
// gemm_avx2.cpp: AVX2 + FMA; gemm_avx512.cpp: AVX-512F), each compiled with its own target flags.
// gemm.cpp registers each as a named implementation of the gemm op, the best one the running CPU
// supports first, and splits the blocks over the thread pool.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/gemm.h"

namespace hy::cpu {

// One compiled variant: its register tile, its largest cache blocks, and the function that computes
// blocks [begin, end) of the batch x ceil(M / mcb) x ceil(N / ncb) grid, for block sizes mcb <= MC
// (a multiple of MR) and ncb <= NC (a multiple of NR) the caller picks, with caller-provided
// scratch of mc x kc (aPack), bPackFloats(...) (bPack) and mc x nc (acc) floats, where mc =
// min(mcb, M rounded up to MR), kc = min(KC, K) and nc = min(ncb, N rounded up to NR).
struct GemmKernel {
  const char* name;
  int64_t MR, NR, MC, KC, NC;
  void (*blocks)(const void* a, const void* b, void* c, bool half, const GemmParams& p, int64_t mcb, int64_t ncb,
                 size_t begin, size_t end, float* aPack, float* bPack, float* acc);
};

// Where a block column's B over the whole K fits in kWholeBFloats and the column has more than one
// block (M > mcb), it is packed once for all the blocks of that column a thread computes (B was
// packed once per block: M / MC times over); otherwise one K chunk at a time, which with a single
// block packs the same values and keeps them in L1 instead of writing megabytes out to L3 and
// reading them back (a linear layer's batch of 64 over K = 9216).
constexpr int64_t kWholeBFloats = int64_t(1) << 22;  // 16 MiB
inline bool packsWholeB(const GemmParams& p, int64_t mcb, int64_t ncb, int64_t NR) {
  const int64_t nc = ((ncb < p.N ? ncb : p.N) + NR - 1) / NR * NR;
  return p.M > mcb && p.K * nc <= kWholeBFloats;
}
// The bPack scratch a thread needs: the whole-K panel, or one K chunk's.
inline size_t bPackFloats(const GemmParams& p, int64_t mcb, int64_t ncb, int64_t NR, size_t kc, size_t nc) {
  return packsWholeB(p, mcb, ncb, NR) ? static_cast<size_t>(p.K > 0 ? p.K : 1) * nc : kc * nc;
}

// C = alpha * op(A) @ op(B) + beta * C in float32 on the calling thread, with the best micro-kernel
// the CPU has: for callers that already split their work over the pool (convolution's images).
void gemmOnThisThread(const float* a, const float* b, float* c, const GemmParams& p);

extern const GemmKernel kGemmAvx2;    // gemm_avx2.cpp
extern const GemmKernel kGemmAvx512;  // gemm_avx512.cpp
extern const GemmKernel kGemmAvx512Narrow;  // gemm_avx512.cpp: the 16 x 16 tile, for N <= 16

}  // namespace hy::cpu
