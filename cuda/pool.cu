// 2-D max pooling over NCHW. Forward: one thread per output. Backward gathers instead of
// scattering: one thread per input element sums the gradients of the windows whose argmax it is
// (coveringOutputs), in float, and writes once. Overlapping windows therefore need no atomics,
// every element of gradIn is written (no zeroing pass) and the result is deterministic.
#include <cuda_fp16.h>

#include "../core/pool_window.h"
#include "check.cuh"
#include "../ops/nn.h"
#include "common.cuh"

namespace hy::cuda {

namespace {

constexpr unsigned kThreads = 256;

template <typename T>
__global__ void maxPool2dKernel(const T* x, T* out, int32_t* indices, nn::Pool2d p) {
  const size_t total = p.N * p.C * p.outH * p.outW;
  for (size_t o = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; o < total;
       o += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t ow = o % p.outW, oh = (o / p.outW) % p.outH, plane = o / (p.outW * p.outH);
    const T* xp = x + plane * p.H * p.W;
    float best;
    int64_t bestIdx;
    windowMax([xp](int64_t idx) { return toFloat(xp[idx]); }, static_cast<int64_t>(oh), static_cast<int64_t>(ow),
              static_cast<int64_t>(p.H), static_cast<int64_t>(p.W), static_cast<int64_t>(p.kH),
              static_cast<int64_t>(p.kW), static_cast<int64_t>(p.sH), static_cast<int64_t>(p.sW),
              static_cast<int64_t>(p.pH), static_cast<int64_t>(p.pW), &best, &bestIdx);
    out[o] = fromFloat<T>(best);
    indices[o] = static_cast<int32_t>(bestIdx);
  }
}

template <typename T>
__global__ void maxPool2dBackwardKernel(const T* gradOut, const int32_t* indices, T* gradIn, nn::Pool2d p) {
  const size_t total = p.N * p.C * p.H * p.W;
  const size_t outPlane = p.outH * p.outW;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t w = i % p.W, h = (i / p.W) % p.H, plane = i / (p.W * p.H);
    int64_t oh0, oh1, ow0, ow1;
    coveringOutputs(static_cast<int64_t>(h), static_cast<int64_t>(p.kH), static_cast<int64_t>(p.sH),
                    static_cast<int64_t>(p.pH), static_cast<int64_t>(p.outH), &oh0, &oh1);
    coveringOutputs(static_cast<int64_t>(w), static_cast<int64_t>(p.kW), static_cast<int64_t>(p.sW),
                    static_cast<int64_t>(p.pW), static_cast<int64_t>(p.outW), &ow0, &ow1);
    const int32_t self = static_cast<int32_t>(h * p.W + w);
    float acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh) {
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const size_t o = plane * outPlane + static_cast<size_t>(oh) * p.outW + static_cast<size_t>(ow);
        if (indices[o] == self) acc += toFloat(gradOut[o]);
      }
    }
    gradIn[i] = fromFloat<T>(acc);
  }
}

}  // namespace

void launchMaxPool2d(const void* x, void* out, int32_t* indices, DType dtype, const nn::Pool2d& p, StreamId stream) {
  const size_t total = p.N * p.C * p.outH * p.outW;
  if (total == 0) return;
  const unsigned grid = gridFor(total, kThreads);
  withFloatType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(grid, kThreads, 0, asStream(stream), maxPool2dKernel<T>)(static_cast<const T*>(x), static_cast<T*>(out),
                                                             indices, p);
  });
  checkLaunch("maxPool2d");
}

void launchMaxPool2dBackward(const void* gradOut, const int32_t* indices, void* gradIn, DType dtype,
                             const nn::Pool2d& p, StreamId stream) {
  const size_t total = p.N * p.C * p.H * p.W;
  if (total == 0) return;
  const unsigned grid = gridFor(total, kThreads);
  withFloatType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(grid, kThreads, 0, asStream(stream), maxPool2dBackwardKernel<T>)(static_cast<const T*>(gradOut), indices,
                                                                     static_cast<T*>(gradIn), p);
  });
  checkLaunch("maxPool2dBackward");
}

// Registered implementations (ops/nn.h).
namespace {
using namespace ops;
HY_REGISTER_OP(MaxPool2dArgs, Cuda, "direct", [](const MaxPool2dArgs& a, StreamId s) {
  launchMaxPool2d(a.x->data(), a.out->data(), static_cast<int32_t*>(a.indices->data()), a.dtype, a.g.p, s);
});
HY_REGISTER_OP(MaxPool2dBackwardArgs, Cuda, "gather", [](const MaxPool2dBackwardArgs& a, StreamId s) {
  launchMaxPool2dBackward(a.gradOut->data(), static_cast<const int32_t*>(a.indices->data()), a.gradIn->data(), a.dtype,
                          a.g.p, s);
});
}  // namespace

}  // namespace hy::cuda
