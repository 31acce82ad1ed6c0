// Dropout from the counter-based Philox stream: element i is kept when
// philoxUniform(seed, offset, i) >= p, exactly as cpu/nn.cpp decides, so a seed reproduces the
// same uint8 mask on either backend. One thread per Philox block (four elements per call).
#include <cuda_fp16.h>

#include "../core/philox.h"
#include "check.cuh"
#include "../ops/nn.h"
#include "common.cuh"

namespace hy::cuda {

namespace {

constexpr unsigned kThreads = 256;

// counter (CUDA graphs): {seed, base} read at run time, so a replay draws from the range written
// before it; null for an eager launch.
template <typename T>
__global__ void dropoutKernel(const T* x, T* out, uint8_t* mask, size_t n, float p, float scale, uint64_t seed,
                              uint64_t offset, const uint64_t* counter) {
  if (counter != nullptr) {
    seed = counter[0];
    offset += counter[1];
  }
  const size_t blocks = philoxBlocks(n);
  for (size_t blk = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; blk < blocks;
       blk += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const Philox4 r = philox4x32(offset + blk, seed);  // == philoxUniform(seed, offset, blk * 4 + lane)
    for (unsigned lane = 0; lane < 4; ++lane) {
      const size_t i = blk * 4 + lane;
      if (i >= n) break;
      const bool keep = uniformFromBits(r.v[lane]) >= p;
      mask[i] = keep ? 1 : 0;
      out[i] = fromFloat<T>(keep ? toFloat(x[i]) * scale : 0.0f);
    }
  }
}

__global__ void philoxCounterKernel(uint64_t* counter, uint64_t seed, uint64_t base) {
  counter[0] = seed;
  counter[1] = base;
}

template <typename T>
__global__ void dropoutBackwardKernel(const T* gradOut, const uint8_t* mask, T* gradIn, size_t n, float scale) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    gradIn[i] = fromFloat<T>(mask[i] != 0 ? toFloat(gradOut[i]) * scale : 0.0f);
  }
}

}  // namespace

void launchDropout(const void* x, void* out, uint8_t* mask, DType dtype, size_t n, float p, float scale, uint64_t seed,
                   uint64_t offset, const uint64_t* counter, StreamId stream) {
  if (n == 0) return;
  const unsigned grid = gridFor(philoxBlocks(n), kThreads);
  withFloatType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(grid, kThreads, 0, asStream(stream), dropoutKernel<T>)(static_cast<const T*>(x), static_cast<T*>(out),
                                                           mask, n, p, scale, seed, offset, counter);
  });
  checkLaunch("dropout");
}

void launchDropoutBackward(const void* gradOut, const uint8_t* mask, void* gradIn, DType dtype, size_t n, float scale,
                           StreamId stream) {
  if (n == 0) return;
  const unsigned grid = gridFor(n, kThreads);
  withFloatType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(grid, kThreads, 0, asStream(stream), dropoutBackwardKernel<T>)(static_cast<const T*>(gradOut), mask,
                                                                   static_cast<T*>(gradIn), n, scale);
  });
  checkLaunch("dropoutBackward");
}

// Registered implementations (ops/nn.h).
namespace {
using namespace ops;
HY_REGISTER_OP(DropoutArgs, Cuda, "philox", [](const DropoutArgs& a, StreamId s) {
  launchDropout(a.x->data(), a.out->data(), static_cast<uint8_t*>(a.mask->data()), a.dtype, a.n, static_cast<float>(a.p),
                dropoutScale(a.p), a.seed, a.offset,
                a.counter ? static_cast<const uint64_t*>(a.counter->data()) : nullptr, s);
});
HY_REGISTER_OP(PhiloxCounterArgs, Cuda, "direct", [](const PhiloxCounterArgs& a, StreamId s) {
  HY_LAUNCH(1, 1, 0, asStream(s), philoxCounterKernel)(static_cast<uint64_t*>(a.counter->data()), a.seed, a.base);
  checkLaunch("philoxCounter");
});
HY_REGISTER_OP(DropoutBackwardArgs, Cuda, "direct", [](const DropoutBackwardArgs& a, StreamId s) {
  launchDropoutBackward(a.gradOut->data(), static_cast<const uint8_t*>(a.mask->data()), a.gradIn->data(), a.dtype, a.n,
                        dropoutScale(a.p), s);
});
}  // namespace

}  // namespace hy::cuda
