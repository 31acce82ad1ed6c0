// GEMM on the GPU, the CUDA twin of cpu/gemm.cpp: a shared-memory tiled SIMT kernel for float32
// and a WMMA tensor-core kernel for float16. Both read op(A) and op(B) through one index function
// that folds in the transpose, zero-fill tile elements outside the matrices (so the inner loops have
// no edge cases), and write C through a guarded epilogue that applies alpha/beta in fp32.
#include <cuda_fp16.h>
#include <mma.h>

#include <algorithm>

#include "check.cuh"
#include "gemm.cuh"
#include "../ops/gemm.h"
#include "runtime.h"

namespace hy::cuda {

namespace {

// Element offsets of op(A)(i, k) and op(B)(k, j) within one batch item.
__device__ __forceinline__ int64_t indexA(const GemmParams& p, int64_t i, int64_t k) {
  return p.transA ? k * p.M + i : i * p.K + k;
}
__device__ __forceinline__ int64_t indexB(const GemmParams& p, int64_t k, int64_t j) {
  return p.transB ? j * p.K + k : k * p.N + j;
}

// Tile loaders: element e of a ROWS x COLS tile goes to (r, c) such that consecutive threads read
// consecutive addresses of the stored matrix, whichever way it is transposed. The coordinates are
// those of op(X): for A, rows are m and columns k; for B, rows are k and columns n.
template <int ROWS, int COLS>
__device__ __forceinline__ void tileCoord(int e, bool colsContiguous, int& r, int& c) {
  if (colsContiguous) {
    r = e / COLS;
    c = e % COLS;
  } else {
    c = e / ROWS;
    r = e % ROWS;
  }
}

// alpha * acc + beta * old, where beta == 0 never reads old (NaN in C must not leak).
__device__ __forceinline__ float epilogue(const GemmParams& p, float acc, const float* c, int64_t idx) {
  return p.beta != 0.0f ? p.alpha * acc + p.beta * c[idx] : p.alpha * acc;
}
__device__ __forceinline__ float epilogue(const GemmParams& p, float acc, const __half* c, int64_t idx) {
  return p.beta != 0.0f ? p.alpha * acc + p.beta * __half2float(c[idx]) : p.alpha * acc;
}

// float32: a BM x BN block tile swept over K in BK steps; each thread owns a TM x TN register tile
// whose rows are ty + i * (BM / TM) and columns tx + j * (BN / TN). That strided ownership makes a
// warp's shared-memory reads consecutive (no bank conflicts) and its C writes coalesced.
// Blocks loop over M tiles (gridDim.y) and batch items (gridDim.z) so any size fits the grid limits.
template <int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    sgemmKernel(const float* __restrict__ aBase, const float* __restrict__ bBase, float* __restrict__ cBase,
                GemmParams p) {
  constexpr int kThreadsM = BM / TM;
  constexpr int kThreadsN = BN / TN;
  constexpr int kThreads = kThreadsM * kThreadsN;
  static_assert(BM % TM == 0 && BN % TN == 0, "register tiles must divide the block tile");
  // op(A)'s tile stored k-major so the TM values a thread needs at one k sit in one row; op(B)'s
  // tile k-major as well. One column of padding spreads the transposing stores over the banks.
  HY_SHARED(float, As, [BK][BM + 1]);
  HY_SHARED(float, Bs, [BK][BN + 1]);

  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % kThreadsN;
  const int ty = tid / kThreadsN;
  const int64_t tilesM = (p.M + BM - 1) / BM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;

  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const float* a = aBase + batch * p.strideA;
    const float* b = bBase + batch * p.strideB;
    float* c = cBase + batch * p.strideC;
    for (int64_t tm = blockIdx.y; tm < tilesM; tm += gridDim.y) {
      const int64_t m0 = tm * BM;
      float acc[TM][TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
      }
      for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
        for (int e = tid; e < BM * BK; e += kThreads) {
          int m, k;
          tileCoord<BM, BK>(e, !p.transA, m, k);
          const int64_t gm = m0 + m;
          const int64_t gk = k0 + k;
          As[k][m] = gm < p.M && gk < p.K ? a[indexA(p, gm, gk)] : 0.0f;
        }
        for (int e = tid; e < BK * BN; e += kThreads) {
          int k, n;
          tileCoord<BK, BN>(e, !p.transB, k, n);
          const int64_t gk = k0 + k;
          const int64_t gn = n0 + n;
          Bs[k][n] = gk < p.K && gn < p.N ? b[indexB(p, gk, gn)] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < BK; ++k) {
          float av[TM];
          float bv[TN];
#pragma unroll
          for (int i = 0; i < TM; ++i) av[i] = As[k][ty + i * kThreadsM];
#pragma unroll
          for (int j = 0; j < TN; ++j) bv[j] = Bs[k][tx + j * kThreadsN];
#pragma unroll
          for (int i = 0; i < TM; ++i) {
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
          }
        }
        __syncthreads();  // the next k step overwrites the tiles
      }
#pragma unroll
      for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) {
          const int64_t gm = m0 + ty + i * kThreadsM;
          const int64_t gn = n0 + tx + j * kThreadsN;
          if (gm < p.M && gn < p.N) {
            const int64_t idx = gm * p.N + gn;
            c[idx] = epilogue(p, acc[i][j], c, idx);
          }
        }
      }
    }
  }
}

// float16 on tensor cores: a BM x BN block tile, WARPS_M x WARPS_N warps each owning a
// (BM / WARPS_M) x (BN / WARPS_N) warp tile of 16 x 16 x 16 WMMA fragments with fp32 accumulators.
// K advances 32 at a time (two fragment steps per shared tile load). The fragment-to-thread mapping
// is opaque, so each accumulator fragment is stored to a per-warp staging square and written to C
// from there with ordinary bounds checks.
template <int BM, int BN, int WARPS_M, int WARPS_N>
__global__ void __launch_bounds__(WARPS_M * WARPS_N * 32)
    hgemmWmmaKernel(const __half* __restrict__ aBase, const __half* __restrict__ bBase, __half* __restrict__ cBase,
                    GemmParams p) {
  using namespace nvcuda;
  constexpr int BK = 32;
  constexpr int kWarps = WARPS_M * WARPS_N;
  constexpr int kThreads = kWarps * 32;
  constexpr int WTM = BM / WARPS_M;
  constexpr int WTN = BN / WARPS_N;
  constexpr int FM = WTM / 16;
  constexpr int FN = WTN / 16;
  static_assert(WTM % 16 == 0 && WTN % 16 == 0, "warp tiles are whole 16 x 16 fragments");
  // Row pitches: 8 halves (16 bytes) of padding stagger rows across banks; every fragment then
  // starts on a 32-byte boundary and each pitch is a multiple of 8 halves / 4 floats, as
  // load_matrix_sync and store_matrix_sync require.
  constexpr int LDA = BK + 8;
  constexpr int LDB = BN + 8;
  constexpr int LDS = 16 + 4;
  HY_SHARED_ALIGNED(32, __half, As, [BM * LDA]); // op(A) tile, row-major m x k
  HY_SHARED_ALIGNED(32, __half, Bs, [BK * LDB]); // op(B) tile, row-major k x n
  HY_SHARED_ALIGNED(32, float, stage, [kWarps * 16 * LDS]);  // one accumulator fragment per warp

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int wm = warp / WARPS_N;
  const int wn = warp % WARPS_N;
  float* myStage = stage + warp * 16 * LDS;
  const int64_t tilesM = (p.M + BM - 1) / BM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;
  const __half zero = __float2half_rn(0.0f);

  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const __half* a = aBase + batch * p.strideA;
    const __half* b = bBase + batch * p.strideB;
    __half* c = cBase + batch * p.strideC;
    for (int64_t tm = blockIdx.y; tm < tilesM; tm += gridDim.y) {
      const int64_t m0 = tm * BM;
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) {
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
      }
      for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
        for (int e = tid; e < BM * BK; e += kThreads) {
          int m, k;
          tileCoord<BM, BK>(e, !p.transA, m, k);
          const int64_t gm = m0 + m;
          const int64_t gk = k0 + k;
          As[m * LDA + k] = gm < p.M && gk < p.K ? a[indexA(p, gm, gk)] : zero;
        }
        for (int e = tid; e < BK * BN; e += kThreads) {
          int k, n;
          tileCoord<BK, BN>(e, !p.transB, k, n);
          const int64_t gk = k0 + k;
          const int64_t gn = n0 + n;
          Bs[k * LDB + n] = gk < p.K && gn < p.N ? b[indexB(p, gk, gn)] : zero;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> af[FM];
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> bf[FN];
#pragma unroll
          for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(af[i], As + (wm * WTM + i * 16) * LDA + kk, LDA);
#pragma unroll
          for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(bf[j], Bs + kk * LDB + wn * WTN + j * 16, LDB);
#pragma unroll
          for (int i = 0; i < FM; ++i) {
#pragma unroll
            for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
          }
        }
        __syncthreads();  // the next k step overwrites the tiles
      }
#pragma unroll
      for (int i = 0; i < FM; ++i) {
#pragma unroll
        for (int j = 0; j < FN; ++j) {
          wmma::store_matrix_sync(myStage, acc[i][j], LDS, wmma::mem_row_major);
          __syncwarp();
          for (int e = lane; e < 16 * 16; e += 32) {
            const int r = e / 16;
            const int col = e % 16;
            const int64_t gm = m0 + wm * WTM + i * 16 + r;
            const int64_t gn = n0 + wn * WTN + j * 16 + col;
            if (gm < p.M && gn < p.N) {
              const int64_t idx = gm * p.N + gn;
              c[idx] = __float2half_rn(epilogue(p, myStage[r * LDS + col], c, idx));
            }
          }
          __syncwarp();  // the next fragment reuses the staging square
        }
      }
    }
  }
}

// x: tiles along N; y: tiles along M and z: batch items, both capped at the hardware's 65535 (the
// kernels loop over the rest).
dim3 gemmGrid(const GemmParams& p, int bm, int bn) {
  const int64_t tilesM = (p.M + bm - 1) / bm;
  const int64_t tilesN = (p.N + bn - 1) / bn;
  return dim3(static_cast<unsigned>(tilesN), static_cast<unsigned>(std::min<int64_t>(tilesM, 65535)),
              static_cast<unsigned>(std::min<int64_t>(p.batch, 65535)));
}

// Large tiles reuse each loaded element twice as often, but only pay off while they still give
// every multiprocessor at least one block; small or skinny products (the MNIST layers) get more
// parallelism from the small tiles.
bool largeTilesFillDevice(const GemmParams& p, int tile) {
  const int64_t blocks = ((p.M + tile - 1) / tile) * ((p.N + tile - 1) / tile) * p.batch;
  return blocks >= std::max(1, cudaStatus().multiProcessors);
}

template <int BM, int BN, int BK, int TM, int TN>
void launchSgemm(const void* a, const void* b, void* c, const GemmParams& p, cudaStream_t stream) {
  HY_LAUNCH(gemmGrid(p, BM, BN), (BM / TM) * (BN / TN), 0, stream, sgemmKernel<BM, BN, BK, TM, TN>)(
      static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(c), p);
}

template <int BM, int BN, int WARPS_M, int WARPS_N>
void launchHgemm(const void* a, const void* b, void* c, const GemmParams& p, cudaStream_t stream) {
  HY_LAUNCH(gemmGrid(p, BM, BN), WARPS_M * WARPS_N * 32, 0, stream, hgemmWmmaKernel<BM, BN, WARPS_M, WARPS_N>)(
      static_cast<const __half*>(a), static_cast<const __half*>(b), static_cast<__half*>(c), p);
}

}  // namespace

void launchGemmWmma(const void* a, const void* b, void* c, const GemmParams& p, StreamId stream) {
  const cudaStream_t s = asStream(stream);
  {
    // 128 x 128 with 2 x 4 warps of 64 x 32 (8 fragments each), or 64 x 64 with 2 x 2 warps of 32 x 32.
    if (largeTilesFillDevice(p, 128)) {
      launchHgemm<128, 128, 2, 4>(a, b, c, p, s);
    } else {
      launchHgemm<64, 64, 2, 2>(a, b, c, p, s);
    }
    checkLaunch("gemm (float16, wmma)");
  }
}

void launchGemmSimt(const void* a, const void* b, void* c, const GemmParams& p, StreamId stream) {
  const cudaStream_t s = asStream(stream);
  // Both use 256 threads: 128 x 128 tiles with 8 x 8 per thread and BK 8 (8.3 KiB of shared tiles),
  // or 64 x 64 tiles with 4 x 4 per thread and BK 16, so each tile load is 4 elements per thread.
  if (largeTilesFillDevice(p, 128)) {
    launchSgemm<128, 128, 8, 8, 8>(a, b, c, p, s);
  } else {
    launchSgemm<64, 64, 16, 4, 4>(a, b, c, p, s);
  }
  checkLaunch("gemm (float32)");
}

// Registered implementations (ops/gemm.h): float32 on the SIMT kernel, float16 on tensor cores.
namespace {
using ops::GemmArgs;
HY_REGISTER_OP(
    GemmArgs, Cuda, "simt", [](const GemmArgs& a, StreamId s) { launchGemmSimt(a.a->data(), a.b->data(), a.c->data(), a.p, s); },
    [](const GemmArgs& a) { return a.dtype == DType::Float32; });
HY_REGISTER_OP(
    GemmArgs, Cuda, "wmma", [](const GemmArgs& a, StreamId s) { launchGemmWmma(a.a->data(), a.b->data(), a.c->data(), a.p, s); },
    [](const GemmArgs& a) { return a.dtype == DType::Float16; });
}  // namespace

}  // namespace hy::cuda
