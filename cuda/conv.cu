// CUDA convolution (ops/conv.h): several algorithms per direction, each a named implementation the
// autotuner times (lib/backends/autotune.ts).
//
// Most are one tiled GEMM template over an implicit problem: the operands are never materialised,
// a Problem's a(m, k) / b(k, col) read them straight from the tensors (zero outside the image) and
// store(m, col, v) writes the result. The three directions are three Problems:
//   forward          M = K / groups output channels, cols = N * P * Q outputs,  reduce over (c, r, s)
//   backward data    M = C / groups input channels,  cols = N * H * W inputs,   reduce over (k, r, s)
//   backward filter  M = K / groups output channels, cols = (C / groups) * R * S, reduce over (n, p, q)
// blockIdx.z walks the groups (and, for backward filter, the split-K slices). Two kernels run the
// template: SIMT fp32 FMAs on 64 x 64 tiles (float32 and float16 storage), and tensor-core
// mma.sync m16n8k16 with ldmatrix fragment loads (float16), both staging the next tile in
// registers while the current one is multiplied.
//
// Besides: direct loops (one thread per output, the reference algorithm), a 1x1 convolution as a
// plain batched GEMM (cuda/gemm.cu), im2col into a workspace + that GEMM, and for backward filter a
// deterministic split-K (ordered reduction of fp32 partials) beside an atomics-based one.
#include <cuda_fp16.h>

#include <algorithm>

#include "check.cuh"
#include "common.cuh"
#include "gemm.cuh"
#include "ptx.cuh"
#include "runtime.h"
#include "../ops/conv.h"

namespace hy::cuda {

namespace {

// The geometry in int (ConvShape::check bounds every size below 2^31); index products use int64.
struct Geom {
  int N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, G, Cg, Kg, P, Q;
};

Geom geomOf(const ops::ConvShape& s) {
  const auto i = [](uint64_t v) { return static_cast<int>(v); };
  return {i(s.N),       i(s.C),       i(s.H),    i(s.W),    i(s.K),         i(s.R),
          i(s.S),       i(s.strideH), i(s.strideW), i(s.padH), i(s.padW),   i(s.dilationH),
          i(s.dilationW), i(s.groups), static_cast<int>(s.cPerGroup()), static_cast<int>(s.kPerGroup()),
          static_cast<int>(s.P),      static_cast<int>(s.Q)};
}

constexpr unsigned kThreads = 256;

// ---- implicit-GEMM problems ----
//
// The tiled kernels stage tiles so that each thread keeps one B column for the whole reduction and
// one A reduction index per tile (see the kernels' element maps). A problem therefore splits its
// index arithmetic: bCol(grp, col) decodes a column once per tile, aK(grp, k) a reduction index
// once per staged tile, and b(col, k) / a(k, m) do only what varies. Reduction indices that fit in
// int (all but a huge backward filter's N * P * Q) are decoded in 32-bit arithmetic, which the GPU
// does several times faster than 64-bit division.

__device__ __forceinline__ void divmod(int64_t v, int64_t d, int64_t& q, int64_t& r) {
  if (v <= 0x7fffffff && d <= 0x7fffffff) {
    const int qi = static_cast<int>(v) / static_cast<int>(d);
    q = qi;
    r = v - static_cast<int64_t>(qi) * d;
  } else {
    q = v / d;
    r = v - q * d;
  }
}

template <typename T>
struct ForwardProblem {
  const T* x;
  const T* w;
  const T* bias;
  T* y;
  Geom g;
  struct Col {
    const T* image;  // x[n, grp * Cg, 0, 0]
    int ih0, iw0;    // the window's top-left corner in the input
  };
  struct RowK {
    int64_t k;
  };
  __device__ int64_t M() const { return g.Kg; }
  __device__ int64_t cols() const { return static_cast<int64_t>(g.N) * g.P * g.Q; }
  __device__ int64_t reduce() const { return static_cast<int64_t>(g.Cg) * g.R * g.S; }
  __device__ RowK aK(int, int64_t k) const { return {k}; }
  __device__ float a(int grp, const RowK& k, int64_t m) const {
    return toFloat(w[(static_cast<int64_t>(grp) * g.Kg + m) * reduce() + k.k]);
  }
  __device__ Col bCol(int grp, int64_t col) const {
    int64_t n, rest;
    divmod(col, static_cast<int64_t>(g.P) * g.Q, n, rest);
    const int p = static_cast<int>(rest) / g.Q, q = static_cast<int>(rest) % g.Q;
    return {x + (n * g.C + static_cast<int64_t>(grp) * g.Cg) * g.H * g.W, p * g.sh - g.ph, q * g.sw - g.pw};
  }
  __device__ float b(const Col& col, int64_t k) const {
    const int kk = static_cast<int>(k), rs = g.R * g.S;
    const int c = kk / rs, rem = kk - c * rs, r = rem / g.S, s = rem - r * g.S;
    const int ih = col.ih0 + r * g.dh, iw = col.iw0 + s * g.dw;
    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return 0.0f;
    return toFloat(col.image[(static_cast<int64_t>(c) * g.H + ih) * g.W + iw]);
  }
  __device__ void store(int grp, int /*split*/, int64_t m, int64_t col, float v) const {
    const int64_t pq = static_cast<int64_t>(g.P) * g.Q;
    int64_t n, rest;
    divmod(col, pq, n, rest);
    const int64_t k = static_cast<int64_t>(grp) * g.Kg + m;
    if (bias != nullptr) v += toFloat(bias[k]);
    y[(n * g.K + k) * pq + rest] = fromFloat<T>(v);
  }
};

// dx[n, c, h, w] = sum over (k, r, s) of w[k, c, r, s] * dy[n, k, p, q] where h = p*sh - ph + r*dh.
template <typename T>
struct BackwardDataProblem {
  const T* dy;
  const T* w;
  T* dx;
  Geom g;
  struct Col {
    const T* image;  // dy[n, grp * Kg, 0, 0]
    int h0, w0;      // h + padH and w + padW
  };
  struct RowK {
    const T* w;  // w[grp * Kg + kk, 0, r, s]: add m * R * S
  };
  __device__ int64_t M() const { return g.Cg; }
  __device__ int64_t cols() const { return static_cast<int64_t>(g.N) * g.H * g.W; }
  __device__ int64_t reduce() const { return static_cast<int64_t>(g.Kg) * g.R * g.S; }
  __device__ RowK aK(int grp, int64_t k) const {
    const int kk = static_cast<int>(k) / (g.R * g.S), rs = static_cast<int>(k) % (g.R * g.S);
    return {w + (static_cast<int64_t>(grp) * g.Kg + kk) * g.Cg * g.R * g.S + rs};
  }
  __device__ float a(int, const RowK& k, int64_t m) const { return toFloat(k.w[m * g.R * g.S]); }
  __device__ Col bCol(int grp, int64_t col) const {
    int64_t n, rest;
    divmod(col, static_cast<int64_t>(g.H) * g.W, n, rest);
    const int h = static_cast<int>(rest) / g.W, wc = static_cast<int>(rest) % g.W;
    return {dy + (n * g.K + static_cast<int64_t>(grp) * g.Kg) * g.P * g.Q, h + g.ph, wc + g.pw};
  }
  __device__ float b(const Col& col, int64_t k) const {
    const int kk = static_cast<int>(k), rs = g.R * g.S;
    const int kout = kk / rs, rem = kk - kout * rs, r = rem / g.S, s = rem - r * g.S;
    const int ph = col.h0 - r * g.dh, pw = col.w0 - s * g.dw;
    if (ph < 0 || pw < 0) return 0.0f;
    const int p = ph / g.sh, q = pw / g.sw;
    if (p * g.sh != ph || q * g.sw != pw || p >= g.P || q >= g.Q) return 0.0f;
    return toFloat(col.image[(static_cast<int64_t>(kout) * g.P + p) * g.Q + q]);
  }
  __device__ void store(int grp, int /*split*/, int64_t m, int64_t col, float v) const {
    const int64_t hw = static_cast<int64_t>(g.H) * g.W;
    int64_t n, rest;
    divmod(col, hw, n, rest);
    dx[(n * g.C + static_cast<int64_t>(grp) * g.Cg + m) * hw + rest] = fromFloat<T>(v);
  }
};

// dw[k, (c, r, s)] over one slice of the (n, p, q) reduction: into that slice's fp32 partial (an
// ordered reduction sums them: deterministic) or added atomically into one fp32 accumulator (the
// order of the adds varies run to run). A second kernel rounds to the weight's dtype.
template <typename T, bool kAtomic>
struct BackwardFilterProblem {
  const T* x;
  const T* dy;
  float* out;  // kAtomic: [K * Cg*R*S]; else [splits][K * Cg*R*S]
  Geom g;
  struct Col {
    const T* channel;  // x[0, grp * Cg + c, 0, 0]
    int r, s;
  };
  struct RowK {
    const T* dy;  // dy[n, grp * Kg, p, q]: add m * P * Q
  };
  __device__ int64_t M() const { return g.Kg; }
  __device__ int64_t cols() const { return static_cast<int64_t>(g.Cg) * g.R * g.S; }
  __device__ int64_t reduce() const { return static_cast<int64_t>(g.N) * g.P * g.Q; }
  __device__ RowK aK(int grp, int64_t k) const {
    const int64_t pq = static_cast<int64_t>(g.P) * g.Q;
    int64_t n, rest;
    divmod(k, pq, n, rest);
    return {dy + (n * g.K + static_cast<int64_t>(grp) * g.Kg) * pq + rest};
  }
  __device__ float a(int, const RowK& k, int64_t m) const { return toFloat(k.dy[m * g.P * g.Q]); }
  __device__ Col bCol(int grp, int64_t col) const {
    const int cc = static_cast<int>(col), rs = g.R * g.S;
    const int c = cc / rs, rem = cc - c * rs;
    return {x + (static_cast<int64_t>(grp) * g.Cg + c) * g.H * g.W, rem / g.S, rem % g.S};
  }
  __device__ float b(const Col& col, int64_t k) const {
    const int64_t pq = static_cast<int64_t>(g.P) * g.Q;
    int64_t n, rest;
    divmod(k, pq, n, rest);
    const int p = static_cast<int>(rest) / g.Q, q = static_cast<int>(rest) - (static_cast<int>(rest) / g.Q) * g.Q;
    const int ih = p * g.sh - g.ph + col.r * g.dh, iw = q * g.sw - g.pw + col.s * g.dw;
    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return 0.0f;
    return toFloat(col.channel[(n * g.C * g.H + ih) * static_cast<int64_t>(g.W) + iw]);
  }
  __device__ void store(int grp, int split, int64_t m, int64_t col, float v) const {
    const int64_t idx = (static_cast<int64_t>(grp) * g.Kg + m) * cols() + col;
    if constexpr (kAtomic) {
      atomicAdd(out + idx, v);
    } else {
      out[split * static_cast<int64_t>(g.K) * cols() + idx] = v;
    }
  }
};

// One launch's work: z = group * splits + split, and split s reduces over [s * chunk, (s+1) * chunk).
struct Split {
  int groups = 1;
  int splits = 1;
  int64_t chunk = 0;  // a multiple of the tile depth; splits * chunk >= the reduction
};

// ---- the SIMT tiled kernel: 64 x 64 tiles, 16 deep, 256 threads with 4 x 4 outputs each ----

constexpr int kBM = 64, kBN = 64, kBK = 16;

template <typename Pb>
__global__ void __launch_bounds__(256) implicitGemmKernel(Pb pb, Split sp) {
  constexpr int TM = 4, TN = 4, kLoads = kBM * kBK / 256;  // A and B elements each thread stages
  // Both tiles k-major with one float of padding, so the compute loop's reads are conflict-free.
  HY_SHARED(float, As, [kBK][kBM + 1]);
  HY_SHARED(float, Bs, [kBK][kBN + 1]);
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % 16, ty = tid / 16;
  const int64_t M = pb.M(), cols = pb.cols(), total = pb.reduce();
  const int64_t tilesM = (M + kBM - 1) / kBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kBN;
  for (int64_t z = blockIdx.z; z < static_cast<int64_t>(sp.groups) * sp.splits; z += gridDim.z) {
    const int grp = static_cast<int>(z / sp.splits), split = static_cast<int>(z % sp.splits);
    const int64_t k0 = split * sp.chunk, k1 = k0 + sp.chunk < total ? k0 + sp.chunk : total;
    for (int64_t tm = blockIdx.y; tm < tilesM; tm += gridDim.y) {
      const int64_t m0 = tm * kBM;
      float acc[TM][TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
      }
      float ra[kLoads], rb[kLoads];
      // A element e = tid + 256 i sits at (m = e / BK, k = e % BK) and B element e at
      // (k = e / BN, col = e % BN): so a thread's A elements share one k, its B elements one
      // column, and neighbouring threads read neighbouring addresses of the tensors.
      const int64_t bColumn = n0 + tid % kBN;
      const bool bValid = bColumn < cols;
      const auto bCol = pb.bCol(grp, bValid ? bColumn : 0);
      const auto stage = [&](int64_t kt) {
        const int64_t ka = kt + tid % kBK;
        const bool aValid = ka < k1;
        const auto aK = pb.aK(grp, aValid ? ka : k0);
#pragma unroll
        for (int i = 0; i < kLoads; ++i) {
          const int64_t m = m0 + tid / kBK + i * (256 / kBK);
          ra[i] = aValid && m < M ? pb.a(grp, aK, m) : 0.0f;
          const int64_t kb = kt + tid / kBN + i * (256 / kBN);
          rb[i] = bValid && kb < k1 ? pb.b(bCol, kb) : 0.0f;
        }
      };
      if (k0 < k1) stage(k0);
      for (int64_t kt = k0; kt < k1; kt += kBK) {
        __syncthreads();  // the previous tile's readers are done
#pragma unroll
        for (int i = 0; i < kLoads; ++i) {
          const int e = tid + i * 256;
          As[e % kBK][e / kBK] = ra[i];
          Bs[e / kBN][e % kBN] = rb[i];
        }
        __syncthreads();
        if (kt + kBK < k1) stage(kt + kBK);  // the next tile's loads overlap this tile's FMAs
#pragma unroll
        for (int kk = 0; kk < kBK; ++kk) {
          float av[TM], bv[TN];
#pragma unroll
          for (int i = 0; i < TM; ++i) av[i] = As[kk][ty + i * 16];
#pragma unroll
          for (int j = 0; j < TN; ++j) bv[j] = Bs[kk][tx + j * 16];
#pragma unroll
          for (int i = 0; i < TM; ++i) {
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
          }
        }
      }
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const int64_t m = m0 + ty + i * 16;
#pragma unroll
        for (int j = 0; j < TN; ++j) {
          const int64_t col = n0 + tx + j * 16;
          if (m < M && col < cols) pb.store(grp, split, m, col, acc[i][j]);
        }
      }
    }
  }
}

// ---- the tensor-core kernel: 64 x 64 tiles, 16 deep, 4 warps of 32 x 32 (2 x 4 m16n8k16 mmas) ----

template <typename Pb>
__global__ void __launch_bounds__(128) implicitGemmMmaKernel(Pb pb, Split sp) {
  constexpr int kLoads = kBM * kBK / 128;
  // Rows of 16 halves padded to 24 (48 bytes): every ldmatrix row address is 16-byte aligned and
  // the eight rows of one 8 x 8 matrix fall in different banks.
  constexpr int LD = kBK + 8;
  HY_SHARED_ALIGNED(16, __half, As, [kBM * LD]);  // As[m][k]
  HY_SHARED_ALIGNED(16, __half, Bs, [kBN * LD]);  // Bs[col][k]: the "col" operand of mma.sync
  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int wm = warp / 2, wn = warp % 2;
  const int64_t M = pb.M(), cols = pb.cols(), total = pb.reduce();
  const int64_t tilesM = (M + kBM - 1) / kBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kBN;
  // ldmatrix.x4 row addresses: lanes 8i..8i+7 address matrix i. For A, matrices 0..3 are
  // (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15): a[0..3] of the
  // m16n8k16 fragment. For B, (cols 0-7, k 0-7), (cols 0-7, k 8-15), (cols 8-15, k 0-7),
  // (cols 8-15, k 8-15): b[0..1] of two n8 fragments.
  const int rowA = lane % 8 + ((lane / 8) % 2) * 8, kA = (lane / 16) * 8;
  const int rowB = lane % 8 + (lane / 16) * 8, kB = ((lane / 8) % 2) * 8;
  for (int64_t z = blockIdx.z; z < static_cast<int64_t>(sp.groups) * sp.splits; z += gridDim.z) {
    const int grp = static_cast<int>(z / sp.splits), split = static_cast<int>(z % sp.splits);
    const int64_t k0 = split * sp.chunk, k1 = k0 + sp.chunk < total ? k0 + sp.chunk : total;
    for (int64_t tm = blockIdx.y; tm < tilesM; tm += gridDim.y) {
      const int64_t m0 = tm * kBM;
      float acc[2][4][4];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
#pragma unroll
          for (int v = 0; v < 4; ++v) acc[i][j][v] = 0.0f;
        }
      }
      __half ra[kLoads], rb[kLoads];
      // The SIMT kernel's element maps with 128 threads: A element e = tid + 128 i at
      // (e / BK, e % BK), B element e at (e / BN, e % BN).
      const int64_t bColumn = n0 + tid % kBN;
      const bool bValid = bColumn < cols;
      const auto bCol = pb.bCol(grp, bValid ? bColumn : 0);
      const auto stage = [&](int64_t kt) {
        const int64_t ka = kt + tid % kBK;
        const bool aValid = ka < k1;
        const auto aK = pb.aK(grp, aValid ? ka : k0);
#pragma unroll
        for (int i = 0; i < kLoads; ++i) {
          const int64_t m = m0 + tid / kBK + i * (128 / kBK);
          ra[i] = __float2half_rn(aValid && m < M ? pb.a(grp, aK, m) : 0.0f);
          const int64_t kb = kt + tid / kBN + i * (128 / kBN);
          rb[i] = __float2half_rn(bValid && kb < k1 ? pb.b(bCol, kb) : 0.0f);
        }
      };
      if (k0 < k1) stage(k0);
      for (int64_t kt = k0; kt < k1; kt += kBK) {
        __syncthreads();
#pragma unroll
        for (int i = 0; i < kLoads; ++i) {
          const int e = tid + i * 128;
          As[(e / kBK) * LD + e % kBK] = ra[i];
          Bs[(e % kBN) * LD + e / kBN] = rb[i];
        }
        __syncthreads();
        if (kt + kBK < k1) stage(kt + kBK);
        uint32_t af[2][4], bf[4][2];
#pragma unroll
        for (int i = 0; i < 2; ++i) ptx::ldmatrixX4(af[i], &As[(wm * 32 + i * 16 + rowA) * LD + kA]);
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          uint32_t r[4];
          ptx::ldmatrixX4(r, &Bs[(wn * 32 + j * 16 + rowB) * LD + kB]);
          bf[2 * j][0] = r[0];
          bf[2 * j][1] = r[1];
          bf[2 * j + 1][0] = r[2];
          bf[2 * j + 1][1] = r[3];
        }
#pragma unroll
        for (int i = 0; i < 2; ++i) {
#pragma unroll
          for (int j = 0; j < 4; ++j) ptx::mmaM16N8K16(acc[i][j], af[i], bf[j], acc[i][j]);
        }
      }
      // Accumulator layout: c[0], c[1] = C[g][2t, 2t+1] and c[2], c[3] = C[g + 8][2t, 2t+1].
      const int gr = lane / 4, t = lane % 4;
#pragma unroll
      for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
#pragma unroll
          for (int v = 0; v < 4; ++v) {
            const int64_t m = m0 + wm * 32 + i * 16 + gr + (v / 2) * 8;
            const int64_t col = n0 + wn * 32 + j * 8 + 2 * t + v % 2;
            if (m < M && col < cols) pb.store(grp, split, m, col, acc[i][j][v]);
          }
        }
      }
    }
  }
}

// ---- direct loops and helpers ----

template <typename T>
__global__ void convDirectKernel(const T* x, const T* w, const T* bias, T* y, Geom g) {
  const int64_t pq = static_cast<int64_t>(g.P) * g.Q, total = static_cast<int64_t>(g.N) * g.K * pq;
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < total;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int q = static_cast<int>(o % g.Q), p = static_cast<int>(o / g.Q % g.P);
    const int k = static_cast<int>(o / pq % g.K);
    const int64_t n = o / (pq * g.K);
    const int grp = k / g.Kg;
    float acc = bias != nullptr ? toFloat(bias[k]) : 0.0f;
    for (int c = 0; c < g.Cg; ++c) {
      const T* plane = x + (n * g.C + static_cast<int64_t>(grp) * g.Cg + c) * g.H * g.W;
      const T* wk = w + (static_cast<int64_t>(k) * g.Cg + c) * g.R * g.S;
      for (int r = 0; r < g.R; ++r) {
        const int ih = p * g.sh - g.ph + r * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        for (int s = 0; s < g.S; ++s) {
          const int iw = q * g.sw - g.pw + s * g.dw;
          if (iw >= 0 && iw < g.W) acc = fmaf(toFloat(plane[ih * g.W + iw]), toFloat(wk[r * g.S + s]), acc);
        }
      }
    }
    y[o] = fromFloat<T>(acc);
  }
}

// One thread per input element gathers every (k, r, s) whose window reads it: no atomics.
template <typename T>
__global__ void backwardDataDirectKernel(const T* dy, const T* w, T* dx, Geom g) {
  const int64_t hw = static_cast<int64_t>(g.H) * g.W, total = static_cast<int64_t>(g.N) * g.C * hw;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int wc = static_cast<int>(i % g.W), h = static_cast<int>(i / g.W % g.H);
    const int ch = static_cast<int>(i / hw % g.C);
    const int64_t n = i / (hw * g.C);
    const int grp = ch / g.Cg, c = ch % g.Cg;
    float acc = 0.0f;
    for (int kk = 0; kk < g.Kg; ++kk) {
      const int k = grp * g.Kg + kk;
      const T* dyp = dy + (n * g.K + k) * g.P * g.Q;
      const T* wk = w + (static_cast<int64_t>(k) * g.Cg + c) * g.R * g.S;
      for (int r = 0; r < g.R; ++r) {
        const int ph = h + g.ph - r * g.dh;
        if (ph < 0 || ph % g.sh != 0 || ph / g.sh >= g.P) continue;
        for (int s = 0; s < g.S; ++s) {
          const int pw = wc + g.pw - s * g.dw;
          if (pw < 0 || pw % g.sw != 0 || pw / g.sw >= g.Q) continue;
          acc = fmaf(toFloat(dyp[(ph / g.sh) * g.Q + pw / g.sw]), toFloat(wk[r * g.S + s]), acc);
        }
      }
    }
    dx[i] = fromFloat<T>(acc);
  }
}

template <typename T>
__global__ void backwardFilterDirectKernel(const T* x, const T* dy, T* dw, Geom g) {
  const int64_t crs = static_cast<int64_t>(g.Cg) * g.R * g.S, total = static_cast<int64_t>(g.K) * crs;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int s = static_cast<int>(i % g.S), r = static_cast<int>(i / g.S % g.R);
    const int c = static_cast<int>(i / (g.R * g.S) % g.Cg), k = static_cast<int>(i / crs);
    const int grp = k / g.Kg;
    float acc = 0.0f;
    for (int64_t n = 0; n < g.N; ++n) {
      const T* plane = x + (n * g.C + static_cast<int64_t>(grp) * g.Cg + c) * g.H * g.W;
      const T* dyp = dy + (n * g.K + k) * g.P * g.Q;
      for (int p = 0; p < g.P; ++p) {
        const int ih = p * g.sh - g.ph + r * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        for (int q = 0; q < g.Q; ++q) {
          const int iw = q * g.sw - g.pw + s * g.dw;
          if (iw >= 0 && iw < g.W) acc = fmaf(toFloat(dyp[p * g.Q + q]), toFloat(plane[ih * g.W + iw]), acc);
        }
      }
    }
    dw[i] = fromFloat<T>(acc);
  }
}

// db[k] = sum over n, p, q of dy: one block per channel, a fixed reduction tree (deterministic).
template <typename T>
__global__ void biasGradKernel(const T* dy, T* db, Geom g) {
  const int64_t pq = static_cast<int64_t>(g.P) * g.Q, per = static_cast<int64_t>(g.N) * pq;
  for (int64_t k = blockIdx.x; k < g.K; k += gridDim.x) {
    float acc = 0.0f;
    for (int64_t i = threadIdx.x; i < per; i += blockDim.x) acc += toFloat(dy[((i / pq) * g.K + k) * pq + i % pq]);
    acc = blockAllReduce(acc, SumOp{}, 0.0f);
    if (threadIdx.x == 0) db[k] = fromFloat<T>(acc);
  }
}

// y[n, k, p, q] = bias[k], for a GEMM with beta = 1 to add onto: the sum is rounded once.
template <typename T>
__global__ void fillBiasKernel(T* y, const T* bias, int64_t K, int64_t pq, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = bias[i / pq % K];
  }
}

// out[i] = sum over slices s, in order, of partial[s * n + i]: the deterministic split-K's reduction.
template <typename T>
__global__ void sumSlicesKernel(const float* partial, int slices, int64_t n, T* out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s < slices; ++s) acc += partial[s * n + i];
    out[i] = fromFloat<T>(acc);
  }
}

__global__ void zeroKernel(float* p, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    p[i] = 0.0f;
  }
}

// col[(img * CRS + (c * R + r) * S + s) * PQ + p * Q + q] = x[n0 + img, grp * Cg + c, ih, iw], 0 in the padding.
template <typename T>
__global__ void im2colKernel(const T* x, T* col, Geom g, int64_t n0, int64_t images, int grp) {
  const int64_t pq = static_cast<int64_t>(g.P) * g.Q, crs = static_cast<int64_t>(g.Cg) * g.R * g.S;
  const int64_t total = images * crs * pq;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int q = static_cast<int>(i % g.Q), p = static_cast<int>(i / g.Q % g.P);
    const int64_t row = i / pq % crs, img = i / (pq * crs);
    const int s = static_cast<int>(row % g.S), r = static_cast<int>(row / g.S % g.R), c = static_cast<int>(row / (g.R * g.S));
    const int ih = p * g.sh - g.ph + r * g.dh, iw = q * g.sw - g.pw + s * g.dw;
    float v = 0.0f;
    if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) {
      v = toFloat(x[(((n0 + img) * g.C + static_cast<int64_t>(grp) * g.Cg + c) * g.H + ih) * g.W + iw]);
    }
    col[i] = fromFloat<T>(v);
  }
}

// ---- launchers ----

int multiProcessors() { return std::max(1, cudaStatus().multiProcessors); }

// Grid for the tiled kernels: x over column tiles, y over M tiles, z over groups x splits.
template <typename Pb>
dim3 tiledGrid(int64_t M, int64_t cols, const Split& sp) {
  const int64_t tilesM = (M + kBM - 1) / kBM, tilesN = (cols + kBN - 1) / kBN;
  return dim3(static_cast<unsigned>(std::max<int64_t>(tilesN, 1)),
              static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(tilesM, 1), 65535)),
              static_cast<unsigned>(std::min<int64_t>(static_cast<int64_t>(sp.groups) * sp.splits, 65535)));
}

template <typename Pb>
void launchTiled(const Pb& pb, int64_t M, int64_t cols, const Split& sp, bool tensorCores, cudaStream_t s) {
  const dim3 grid = tiledGrid<Pb>(M, cols, sp);
  if (tensorCores) {
    HY_LAUNCH(grid, 128, 0, s, implicitGemmMmaKernel<Pb>)(pb, sp);
  } else {
    HY_LAUNCH(grid, 256, 0, s, implicitGemmKernel<Pb>)(pb, sp);
  }
}

Split noSplit(const Geom& g, int64_t reduce) { return {g.G, 1, reduce}; }

// Backward filter's split of the (n, p, q) reduction: enough slices that the launch gives every
// multiprocessor a few blocks, each slice at least 256 deep (so partial sums stay few), at most 64.
Split filterSplit(const ops::ConvShape& s) {
  const int64_t reduce = static_cast<int64_t>(s.N) * s.pq();
  const int64_t tiles = ((s.kPerGroup() + kBM - 1) / kBM) * ((s.crs() + kBN - 1) / kBN) * static_cast<int64_t>(s.groups);
  int64_t splits = (4 * multiProcessors() + tiles - 1) / tiles;
  splits = std::max<int64_t>(1, std::min<int64_t>({splits, 64, (reduce + 255) / 256}));
  int64_t chunk = (reduce + splits - 1) / splits;
  chunk = (chunk + kBK - 1) / kBK * kBK;
  splits = chunk == 0 ? 1 : (reduce + chunk - 1) / chunk;
  return {static_cast<int>(s.groups), static_cast<int>(std::max<int64_t>(splits, 1)), chunk};
}

template <typename T>
void launchBiasGrad(const T* dy, const StoragePtr& gradBias, const Geom& g, cudaStream_t s) {
  if (!gradBias) return;
  HY_LAUNCH(static_cast<unsigned>(std::min(g.K, 65535)), 256, 0, s, biasGradKernel<T>)(dy, static_cast<T*>(gradBias->data()), g);
}

void forwardTiled(const ops::Conv2dArgs& a, StreamId stream, bool tensorCores) {
  const Geom g = geomOf(a.s);
  const cudaStream_t s = asStream(stream);
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ForwardProblem<T> pb{static_cast<const T*>(a.x->data()), static_cast<const T*>(a.w->data()),
                               a.bias ? static_cast<const T*>(a.bias->data()) : nullptr, static_cast<T*>(a.y->data()), g};
    launchTiled(pb, g.Kg, static_cast<int64_t>(g.N) * g.P * g.Q, noSplit(g, a.s.crs()), tensorCores, s);
  });
  checkLaunch(tensorCores ? "conv2d (implicit GEMM, tensor cores)" : "conv2d (implicit GEMM)");
}

void forwardDirect(const ops::Conv2dArgs& a, StreamId stream) {
  const Geom g = geomOf(a.s);
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(gridFor(a.s.yElements(), kThreads), kThreads, 0, asStream(stream), convDirectKernel<T>)(
        static_cast<const T*>(a.x->data()), static_cast<const T*>(a.w->data()),
        a.bias ? static_cast<const T*>(a.bias->data()) : nullptr, static_cast<T*>(a.y->data()), g);
  });
  checkLaunch("conv2d (direct)");
}

void gemm(DType dtype, const void* a, const void* b, void* c, const GemmParams& p, StreamId stream) {
  if (dtype == DType::Float16) {
    launchGemmWmma(a, b, c, p, stream);
  } else {
    launchGemmSimt(a, b, c, p, stream);
  }
}

GemmParams batchedGemm(int64_t M, int64_t N, int64_t K, bool transA, int64_t batch, int64_t sA, int64_t sB, int64_t sC) {
  GemmParams p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.transA = transA;
  p.batch = batch;
  p.strideA = sA;
  p.strideB = sB;
  p.strideC = sC;
  return p;
}

// With a bias, y starts as the bias and the GEMMs add onto it (beta = 1); without, they overwrite.
float fillBias(const ops::Conv2dArgs& a, StreamId stream) {
  if (!a.bias) return 0.0f;
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(gridFor(a.s.yElements(), kThreads), kThreads, 0, asStream(stream), fillBiasKernel<T>)(
        static_cast<T*>(a.y->data()), static_cast<const T*>(a.bias->data()), static_cast<int64_t>(a.s.K), a.s.pq(),
        static_cast<int64_t>(a.s.yElements()));
  });
  return 1.0f;
}

// 1x1, stride 1, no padding: per group, y[n] = W_g [Kg x Cg] @ x[n] [Cg x HW], batched over images.
void forward1x1(const ops::Conv2dArgs& a, StreamId stream) {
  const Geom g = geomOf(a.s);
  const int64_t hw = a.s.pq(), esize = dtypeSize(a.dtype);
  const float beta = fillBias(a, stream);
  for (int grp = 0; grp < g.G; ++grp) {
    GemmParams p = batchedGemm(g.Kg, hw, g.Cg, false, g.N, 0, static_cast<int64_t>(g.C) * hw, static_cast<int64_t>(g.K) * hw);
    p.beta = beta;
    gemm(a.dtype, static_cast<const char*>(a.w->data()) + grp * static_cast<int64_t>(g.Kg) * g.Cg * esize,
         static_cast<const char*>(a.x->data()) + grp * static_cast<int64_t>(g.Cg) * hw * esize,
         static_cast<char*>(a.y->data()) + grp * static_cast<int64_t>(g.Kg) * hw * esize, p, stream);
  }
  checkLaunch("conv2d (1x1 GEMM)");
}

// im2col + GEMM: images unrolled into the workspace a chunk at a time (at most 256 MiB of columns).
int64_t im2colChunk(const ops::ConvShape& s, DType dtype) {
  const int64_t perImage = s.crs() * s.pq() * static_cast<int64_t>(dtypeSize(dtype));
  return std::max<int64_t>(1, std::min<int64_t>(static_cast<int64_t>(s.N), (int64_t(256) << 20) / std::max<int64_t>(perImage, 1)));
}
uint64_t im2colWorkspace(const ops::Conv2dArgs& a) {
  return static_cast<uint64_t>(im2colChunk(a.s, a.dtype) * a.s.crs() * a.s.pq()) * dtypeSize(a.dtype);
}

void forwardIm2col(const ops::Conv2dArgs& a, StreamId stream) {
  const Geom g = geomOf(a.s);
  const int64_t chunk = im2colChunk(a.s, a.dtype), crs = a.s.crs(), pq = a.s.pq(), esize = dtypeSize(a.dtype);
  const cudaStream_t s = asStream(stream);
  const float beta = fillBias(a, stream);
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* col = static_cast<T*>(a.workspace->data());
    for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
      const int64_t images = std::min<int64_t>(chunk, g.N - n0);
      for (int grp = 0; grp < g.G; ++grp) {
        HY_LAUNCH(gridFor(static_cast<size_t>(images * crs * pq), kThreads), kThreads, 0, s, im2colKernel<T>)(
            static_cast<const T*>(a.x->data()), col, g, n0, images, grp);
        GemmParams p = batchedGemm(g.Kg, pq, crs, false, images, 0, crs * pq, static_cast<int64_t>(g.K) * pq);
        p.beta = beta;
        gemm(a.dtype, static_cast<const char*>(a.w->data()) + grp * static_cast<int64_t>(g.Kg) * crs * esize, col,
             static_cast<char*>(a.y->data()) + (n0 * g.K + static_cast<int64_t>(grp) * g.Kg) * pq * esize, p, stream);
      }
    }
  });
  checkLaunch("conv2d (im2col + GEMM)");
}

void dataTiled(const ops::Conv2dBackwardDataArgs& a, StreamId stream, bool tensorCores) {
  const Geom g = geomOf(a.s);
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const BackwardDataProblem<T> pb{static_cast<const T*>(a.gradOut->data()), static_cast<const T*>(a.w->data()),
                                    static_cast<T*>(a.gradIn->data()), g};
    launchTiled(pb, g.Cg, static_cast<int64_t>(g.N) * g.H * g.W, noSplit(g, static_cast<int64_t>(g.Kg) * g.R * g.S),
                tensorCores, asStream(stream));
  });
  checkLaunch(tensorCores ? "conv2dBackwardData (implicit GEMM, tensor cores)" : "conv2dBackwardData (implicit GEMM)");
}

void dataDirect(const ops::Conv2dBackwardDataArgs& a, StreamId stream) {
  const Geom g = geomOf(a.s);
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(gridFor(a.s.xElements(), kThreads), kThreads, 0, asStream(stream), backwardDataDirectKernel<T>)(
        static_cast<const T*>(a.gradOut->data()), static_cast<const T*>(a.w->data()), static_cast<T*>(a.gradIn->data()), g);
  });
  checkLaunch("conv2dBackwardData (direct)");
}

// 1x1: per group, dx[n] = W_g^T [Cg x Kg] @ dy[n] [Kg x HW].
void data1x1(const ops::Conv2dBackwardDataArgs& a, StreamId stream) {
  const Geom g = geomOf(a.s);
  const int64_t hw = a.s.pq(), esize = dtypeSize(a.dtype);
  for (int grp = 0; grp < g.G; ++grp) {
    const GemmParams p = batchedGemm(g.Cg, hw, g.Kg, true, g.N, 0, static_cast<int64_t>(g.K) * hw, static_cast<int64_t>(g.C) * hw);
    gemm(a.dtype, static_cast<const char*>(a.w->data()) + grp * static_cast<int64_t>(g.Kg) * g.Cg * esize,
         static_cast<const char*>(a.gradOut->data()) + grp * static_cast<int64_t>(g.Kg) * hw * esize,
         static_cast<char*>(a.gradIn->data()) + grp * static_cast<int64_t>(g.Cg) * hw * esize, p, stream);
  }
  checkLaunch("conv2dBackwardData (1x1 GEMM)");
}

uint64_t filterSplitWorkspace(const ops::Conv2dBackwardFilterArgs& a) {
  return static_cast<uint64_t>(filterSplit(a.s).splits) * a.s.wElements() * 4;
}
uint64_t filterAtomicWorkspace(const ops::Conv2dBackwardFilterArgs& a) { return a.s.wElements() * 4; }

void filterTiled(const ops::Conv2dBackwardFilterArgs& a, StreamId stream, bool tensorCores, bool atomic) {
  const Geom g = geomOf(a.s);
  const cudaStream_t s = asStream(stream);
  const Split sp = filterSplit(a.s);
  const int64_t wElems = static_cast<int64_t>(a.s.wElements());
  float* ws = static_cast<float*>(a.workspace->data());
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(a.x->data());
    const T* dy = static_cast<const T*>(a.gradOut->data());
    T* dw = static_cast<T*>(a.gradWeight->data());
    if (wElems > 0) {
      if (atomic) {
        HY_LAUNCH(gridFor(static_cast<size_t>(wElems), kThreads), kThreads, 0, s, zeroKernel)(ws, wElems);
        launchTiled(BackwardFilterProblem<T, true>{x, dy, ws, g}, g.Kg, a.s.crs(), sp, tensorCores, s);
        HY_LAUNCH(gridFor(static_cast<size_t>(wElems), kThreads), kThreads, 0, s, sumSlicesKernel<T>)(ws, 1, wElems, dw);
      } else {
        launchTiled(BackwardFilterProblem<T, false>{x, dy, ws, g}, g.Kg, a.s.crs(), sp, tensorCores, s);
        HY_LAUNCH(gridFor(static_cast<size_t>(wElems), kThreads), kThreads, 0, s, sumSlicesKernel<T>)(ws, sp.splits, wElems, dw);
      }
    }
    launchBiasGrad<T>(dy, a.gradBias, g, s);
  });
  checkLaunch(atomic ? "conv2dBackwardFilter (split-K, atomics)" : "conv2dBackwardFilter (split-K)");
}

void filterDirect(const ops::Conv2dBackwardFilterArgs& a, StreamId stream) {
  const Geom g = geomOf(a.s);
  const cudaStream_t s = asStream(stream);
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (a.s.wElements() > 0) {
      HY_LAUNCH(gridFor(a.s.wElements(), kThreads), kThreads, 0, s, backwardFilterDirectKernel<T>)(
          static_cast<const T*>(a.x->data()), static_cast<const T*>(a.gradOut->data()), static_cast<T*>(a.gradWeight->data()), g);
    }
    launchBiasGrad<T>(static_cast<const T*>(a.gradOut->data()), a.gradBias, g, s);
  });
  checkLaunch("conv2dBackwardFilter (direct)");
}

}  // namespace

// Registered implementations (ops/conv.h), in the order the heuristic (autotuning off) prefers.
namespace {
using ops::Conv2dArgs;
using ops::Conv2dBackwardDataArgs;
using ops::Conv2dBackwardFilterArgs;
using ops::ImplTraits;
template <typename A>
bool pointwise(const A& a) {
  return a.s.isPointwise();
}
template <typename A>
bool half(const A& a) {
  return a.dtype == DType::Float16;
}

HY_REGISTER_OP(
    Conv2dArgs, Cuda, "gemm1x1", [](const Conv2dArgs& a, StreamId s) { forward1x1(a, s); }, &pointwise<Conv2dArgs>);
HY_REGISTER_OP(
    Conv2dArgs, Cuda, "implicitGemmMma", [](const Conv2dArgs& a, StreamId s) { forwardTiled(a, s, true); }, &half<Conv2dArgs>);
HY_REGISTER_OP(Conv2dArgs, Cuda, "implicitGemm", [](const Conv2dArgs& a, StreamId s) { forwardTiled(a, s, false); });
HY_REGISTER_OP(
    Conv2dArgs, Cuda, "im2colGemm", [](const Conv2dArgs& a, StreamId s) { forwardIm2col(a, s); }, nullptr,
    ImplTraits<Conv2dArgs>{&im2colWorkspace, true});
HY_REGISTER_OP(Conv2dArgs, Cuda, "direct", [](const Conv2dArgs& a, StreamId s) { forwardDirect(a, s); });

HY_REGISTER_OP(
    Conv2dBackwardDataArgs, Cuda, "gemm1x1", [](const Conv2dBackwardDataArgs& a, StreamId s) { data1x1(a, s); },
    &pointwise<Conv2dBackwardDataArgs>);
HY_REGISTER_OP(
    Conv2dBackwardDataArgs, Cuda, "implicitGemmMma",
    [](const Conv2dBackwardDataArgs& a, StreamId s) { dataTiled(a, s, true); }, &half<Conv2dBackwardDataArgs>);
HY_REGISTER_OP(
    Conv2dBackwardDataArgs, Cuda, "implicitGemm", [](const Conv2dBackwardDataArgs& a, StreamId s) { dataTiled(a, s, false); });
HY_REGISTER_OP(Conv2dBackwardDataArgs, Cuda, "direct", [](const Conv2dBackwardDataArgs& a, StreamId s) { dataDirect(a, s); });

HY_REGISTER_OP(
    Conv2dBackwardFilterArgs, Cuda, "splitKMma",
    [](const Conv2dBackwardFilterArgs& a, StreamId s) { filterTiled(a, s, true, false); }, &half<Conv2dBackwardFilterArgs>,
    ImplTraits<Conv2dBackwardFilterArgs>{&filterSplitWorkspace, true});
HY_REGISTER_OP(
    Conv2dBackwardFilterArgs, Cuda, "splitK", [](const Conv2dBackwardFilterArgs& a, StreamId s) { filterTiled(a, s, false, false); },
    nullptr, ImplTraits<Conv2dBackwardFilterArgs>{&filterSplitWorkspace, true});
HY_REGISTER_OP(
    Conv2dBackwardFilterArgs, Cuda, "atomic", [](const Conv2dBackwardFilterArgs& a, StreamId s) { filterTiled(a, s, false, true); },
    nullptr, ImplTraits<Conv2dBackwardFilterArgs>{&filterAtomicWorkspace, false});
HY_REGISTER_OP(
    Conv2dBackwardFilterArgs, Cuda, "direct", [](const Conv2dBackwardFilterArgs& a, StreamId s) { filterDirect(a, s); });
}  // namespace

}  // namespace hy::cuda
