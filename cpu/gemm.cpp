// CPU GEMM, blocked in the GotoBLAS way: operands are packed into contiguous fp32 panels (which also
// absorbs the transposes and the fp16 -> fp32 conversion), a fixed-size register tile accumulates,
// and one epilogue applies alpha/beta and rounds to the output type.
#include <algorithm>
#include <vector>

#include "../core/half.h"
#include "../ops/gemm.h"
#include "parallel.h"

namespace hy::cpu {

namespace {

// Register tile of MR x NR fp32 accumulators: 4 x 8 is 8 SSE registers (the x86-64 baseline the
// addon is compiled for), leaving registers for two B vectors and the broadcast A value.
constexpr int64_t MR = 4;
constexpr int64_t NR = 8;
// Cache blocks: a KC x NR B panel (8 KiB) stays in L1 while the MC x KC A block (64 KiB) streams
// from L2 past it; the MC x NC accumulator block (64 KiB) also lives in L2 across the K sweep.
constexpr int64_t MC = 64;
constexpr int64_t KC = 256;
constexpr int64_t NC = 256;

inline float load(const float* p, int64_t i) { return p[i]; }
inline float load(const uint16_t* p, int64_t i) { return halfBitsToFloat(p[i]); }
inline void store(float* p, int64_t i, float v) { p[i] = v; }
inline void store(uint16_t* p, int64_t i, float v) { p[i] = floatToHalfBits(v); }

inline int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// op(A)[i0 .. i0+mc, k0 .. k0+kc] as MR-row panels, each k-major (panel[k * MR + r]); rows past mc
// are zero so the register tile never needs an edge case.
template <typename T>
void packA(const T* a, const GemmParams& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* out) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    float* panel = out + ir * kc;
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t r = 0; r < MR; ++r) {
        const int64_t i = i0 + ir + r;
        const int64_t kk = k0 + k;
        panel[k * MR + r] = ir + r < mc ? load(a, p.transA ? kk * p.M + i : i * p.K + kk) : 0.0f;
      }
    }
  }
}

// op(B)[k0 .. k0+kc, j0 .. j0+nc] as NR-column panels, each k-major (panel[k * NR + j]); columns
// past nc are zero.
template <typename T>
void packB(const T* b, const GemmParams& p, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    float* panel = out + jr * kc;
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t j = 0; j < NR; ++j) {
        const int64_t jj = j0 + jr + j;
        const int64_t kk = k0 + k;
        panel[k * NR + j] = jr + j < nc ? load(b, p.transB ? jj * p.K + kk : kk * p.N + jj) : 0.0f;
      }
    }
  }
}

// acc[r][j] += sum over k of a[k][r] * b[k][j] for one MR x NR tile; the j loop is the one the
// compiler vectorises, and the fixed bounds let it keep the whole tile in registers.
void microKernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict acc,
                 int64_t ldAcc) {
  float t[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int64_t r = 0; r < MR; ++r) {
      const float av = a[k * MR + r];
      for (int64_t j = 0; j < NR; ++j) t[r][j] += av * b[k * NR + j];
    }
  }
  for (int64_t r = 0; r < MR; ++r) {
    for (int64_t j = 0; j < NR; ++j) acc[r * ldAcc + j] += t[r][j];
  }
}

// One MC x NC block of C for one batch item: the K sweep accumulates in `acc`, then the epilogue.
template <typename T>
void gemmBlock(const T* a, const T* b, T* c, const GemmParams& p, int64_t i0, int64_t j0, float* aPack, float* bPack,
               float* acc) {
  const int64_t nc = std::min(NC, p.N - j0);
  const int64_t mc = std::min(MC, p.M - i0);
  const int64_t ldAcc = roundUp(nc, NR);
  std::fill(acc, acc + roundUp(mc, MR) * ldAcc, 0.0f);
  for (int64_t k0 = 0; k0 < p.K; k0 += KC) {
    const int64_t kc = std::min(KC, p.K - k0);
    packA(a, p, i0, mc, k0, kc, aPack);
    packB(b, p, k0, kc, j0, nc, bPack);
    for (int64_t jr = 0; jr < nc; jr += NR) {
      for (int64_t ir = 0; ir < mc; ir += MR) {
        microKernel(kc, aPack + ir * kc, bPack + jr * kc, acc + ir * ldAcc + jr, ldAcc);
      }
    }
  }
  for (int64_t i = 0; i < mc; ++i) {
    for (int64_t j = 0; j < nc; ++j) {
      const int64_t idx = (i0 + i) * p.N + j0 + j;
      float v = p.alpha * acc[i * ldAcc + j];
      if (p.beta != 0.0f) v += p.beta * load(c, idx);  // beta 0: C's old contents, NaN included, are never read
      store(c, idx, v);
    }
  }
}

// Blocks of C are independent, so they spread over the thread pool; each chunk of blocks packs into
// buffers of its own. Below about 2^21 multiply-adds a block's work is too small to share.
template <typename T>
void gemmTyped(const T* aBase, const T* bBase, T* cBase, const GemmParams& p) {
  const int64_t mBlocks = (p.M + MC - 1) / MC, nBlocks = (p.N + NC - 1) / NC;
  const size_t blocks = static_cast<size_t>(p.batch * mBlocks * nBlocks);
  const double work = static_cast<double>(p.batch) * p.M * p.N * std::max<int64_t>(p.K, 1);
  const size_t grain = work < 2097152.0 ? blocks : 1;
  parallelFor(blocks, grain, [&](size_t begin, size_t end) {
    std::vector<float> aPack(static_cast<size_t>(MC * KC));
    std::vector<float> bPack(static_cast<size_t>(KC * NC));
    std::vector<float> acc(static_cast<size_t>(MC * NC));
    for (size_t blk = begin; blk < end; ++blk) {
      const int64_t bi = static_cast<int64_t>(blk) / (mBlocks * nBlocks);
      const int64_t rest = static_cast<int64_t>(blk) % (mBlocks * nBlocks);
      const int64_t j0 = (rest / mBlocks) * NC, i0 = (rest % mBlocks) * MC;
      gemmBlock(aBase + bi * p.strideA, bBase + bi * p.strideB, cBase + bi * p.strideC, p, i0, j0, aPack.data(),
                bPack.data(), acc.data());
    }
  });
}

}  // namespace

void gemm(const void* a, const void* b, void* c, DType dtype, const GemmParams& p) {
  if (dtype == DType::Float16) {
    gemmTyped(static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b), static_cast<uint16_t*>(c), p);
  } else {
    gemmTyped(static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(c), p);
  }
}

// Registered implementation (ops/gemm.h).
namespace {
HY_REGISTER_OP(ops::GemmArgs, Cpu, "blocked",
               [](const ops::GemmArgs& a, StreamId) { gemm(a.a->data(), a.b->data(), a.c->data(), a.dtype, a.p); });
}  // namespace

}  // namespace hy::cpu
