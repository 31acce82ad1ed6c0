// Helpers shared by the CUDA kernels: float32/float16 element access (fp32 math), the dtype
// dispatch of launchers (withFloatType), and
// warp and block all-reductions. Every reduction must be reached by all threads of its warp or
// block: callers keep their loops uniform over the group (no early returns before a reduction).
#pragma once
#include <cuda_fp16.h>

#include "portable.cuh"

#include <cstddef>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/nn.h"

namespace hy::cuda {

template <typename T>
struct TypeTag {
  using type = T;
};

// Runs f with the element type a float dtype is stored as (__half for float16, else float), so a
// launcher writes its launch once:
//   withFloatType(dtype, [&](auto tag) { using T = typename decltype(tag)::type; ... kernel<T> ... });
template <typename F>
void withFloatType(DType dtype, F&& f) {
  if (dtype == DType::Float16) {
    f(TypeTag<__half>{});
  } else {
    f(TypeTag<float>{});
  }
}

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }
template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half_rn(v); }

struct SumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Butterfly reduction: every lane ends with the result over the full warp.
template <typename T, typename Op>
__device__ __forceinline__ T warpAllReduce(T v, Op op) {
  for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Every thread of the block gets the result. blockDim.x must be a multiple of 32 (at most 1024).
// The first barrier keeps a previous call's readers of `partial` ahead of this call's writers.
template <typename T, typename Op>
__device__ T blockAllReduce(T v, Op op, T identity) {
  HY_SHARED(T, partial, [33]);
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warpAllReduce(v, op);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = lane < warps ? partial[lane] : identity;
    w = warpAllReduce(w, op);
    if (lane == 0) partial[32] = w;
  }
  __syncthreads();
  return partial[32];
}

// The threads that share one row: a warp (kWarp, for short rows, several rows per block) or the
// whole block. Loops over rows step by whole groups, so every group runs the same iterations.
template <bool kWarp>
struct RowGroup {
  static constexpr unsigned kThreads = kWarp ? 256 : 512;  // block size to launch with
  static constexpr unsigned kRowsPerBlock = kWarp ? kThreads / 32 : 1;
  __device__ static unsigned rank() { return kWarp ? (threadIdx.x & 31u) : threadIdx.x; }
  __device__ static unsigned size() { return kWarp ? 32u : blockDim.x; }
  __device__ static size_t firstRow() {
    return static_cast<size_t>(blockIdx.x) * kRowsPerBlock + (kWarp ? threadIdx.x / 32 : 0);
  }
  __device__ static size_t rowStep() { return static_cast<size_t>(gridDim.x) * kRowsPerBlock; }
  __device__ static float sum(float v) {
    if constexpr (kWarp) {
      return warpAllReduce(v, SumOp{});
    } else {
      return blockAllReduce(v, SumOp{}, 0.0f);
    }
  }
  __device__ static float max(float v) {
    if constexpr (kWarp) {
      return warpAllReduce(v, MaxOp{});
    } else {
      return blockAllReduce(v, MaxOp{}, -INFINITY);
    }
  }
};

// Rows of at most this many columns get a warp each; longer rows a block.
constexpr size_t kWarpRowLimit = 1024;

// Records a bad target or index in the slot of cuda/error_slot.cu (word layout there).
__device__ inline void recordBadTarget(uint64_t* slot, nn::TargetOp op, int32_t target, size_t row, size_t cols) {
  const uint64_t r = row > 0xffffffffull ? 0xffffffffull : row;
  volatile uint64_t* s = slot;
  s[0] = r << 32 | static_cast<uint32_t>(target);
  s[1] = static_cast<uint64_t>(cols) << 3 | static_cast<uint32_t>(op);
  __threadfence_system();
}

}  // namespace hy::cuda
