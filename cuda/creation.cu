// fill and random: the CUDA twins of cpu/creation.cpp.
#include <cuda_fp16.h>

#include "../core/convert.h"
#include "../core/philox.h"
#include "check.cuh"
#include "../ops/creation.h"

namespace hy::cuda {

namespace {

template <typename T>
__global__ void fillKernel(T* out, size_t n, T value) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    out[i] = value;
  }
}

__device__ __forceinline__ void store(void* out, DType dtype, size_t i, float v) {
  switch (dtype) {
    case DType::Float32: static_cast<float*>(out)[i] = v; break;
    case DType::Float16: static_cast<__half*>(out)[i] = __float2half_rn(v); break;
    case DType::Int32: static_cast<int32_t*>(out)[i] = floatToInt32(v); break;
    case DType::Bool: static_cast<uint8_t*>(out)[i] = toBool(v); break;
  }
}

// One thread per Philox block: four elements from one generator call.
__global__ void randomKernel(void* out, DType dtype, size_t n, int kind, uint64_t seed, uint64_t offset, double a,
                             double b) {
  const size_t blocks = philoxBlocks(n);
  for (size_t blk = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; blk < blocks;
       blk += static_cast<size_t>(gridDim.x) * blockDim.x) {
    for (unsigned lane = 0; lane < 4; ++lane) {
      const size_t i = blk * 4 + lane;
      if (i >= n) break;
      if (kind == static_cast<int>(RandomKind::Integer)) {
        static_cast<int32_t*>(out)[i] = philoxInteger(seed, offset, i, a, b);
        continue;
      }
      const float v = kind == 0 ? static_cast<float>(a + (b - a) * static_cast<double>(philoxUniform(seed, offset, i)))
                                : static_cast<float>(a + b * philoxNormal(seed, offset, i));
      store(out, dtype, i, v);
    }
  }
}

}  // namespace

void launchFill(void* out, DType dtype, size_t n, double value, StreamId stream) {
  if (n == 0) return;
  constexpr unsigned kThreads = 256;
  const unsigned grid = gridFor(n, kThreads);
  switch (dtype) {
    case DType::Float32:
      HY_LAUNCH(grid, kThreads, 0, asStream(stream), fillKernel<float>)(static_cast<float*>(out), n, static_cast<float>(value));
      break;
    case DType::Float16:
      HY_LAUNCH(grid, kThreads, 0, asStream(stream), fillKernel<__half>)(static_cast<__half*>(out), n,
                                                                   __float2half_rn(static_cast<float>(value)));
      break;
    case DType::Int32:
      HY_LAUNCH(grid, kThreads, 0, asStream(stream), fillKernel<int32_t>)(static_cast<int32_t*>(out), n, floatToInt32(value));
      break;
    case DType::Bool:
      HY_LAUNCH(grid, kThreads, 0, asStream(stream), fillKernel<uint8_t>)(static_cast<uint8_t*>(out), n, toBool(value));
      break;
  }
  checkLaunch("fill");
}

void launchRandom(void* out, DType dtype, size_t n, int kind, uint64_t seed, uint64_t offset, double a, double b,
                  StreamId stream) {
  if (n == 0) return;
  constexpr unsigned kThreads = 256;
  HY_LAUNCH(gridFor(philoxBlocks(n), kThreads), kThreads, 0, asStream(stream), randomKernel)(out, dtype, n, kind, seed, offset,
                                                                                      a, b);
  checkLaunch("random");
}

// Registered implementations (ops/creation.h).
namespace {
HY_REGISTER_OP(ops::FillArgs, Cuda, "direct", [](const ops::FillArgs& a, StreamId s) {
  launchFill(a.out->data(), a.dtype, a.n, a.value, s);
});
HY_REGISTER_OP(ops::RandomArgs, Cuda, "philox", [](const ops::RandomArgs& a, StreamId s) {
  launchRandom(a.out->data(), a.dtype, a.n, static_cast<int>(a.kind), a.seed, a.offset, a.a, a.b, s);
});
}  // namespace

}  // namespace hy::cuda
