// Batch normalisation over (N, C, HW), statistics per channel in float32 parameters. Training and
// backward use one block per channel: two-pass mean and variance (sums in double, so long
// channels lose nothing), then the elementwise pass in the same kernel. Eval is elementwise.
#include <cuda_fp16.h>

#include "check.cuh"
#include "../ops/nn.h"
#include "common.cuh"

namespace hy::cuda {

namespace {

constexpr unsigned kChannelThreads = 512;
constexpr unsigned kThreads = 256;

// Element k of channel c, with k over the N * HW elements of the channel.
__device__ __forceinline__ size_t channelIndex(size_t k, size_t c, const nn::BatchNormShape& s) {
  return ((k / s.HW) * s.C + c) * s.HW + k % s.HW;
}

template <typename T>
__global__ void batchNormTrainKernel(const T* x, const float* weight, const float* bias, float* runningMean,
                                     float* runningVar, T* out, float* saveMean, float* saveInvStd,
                                     nn::BatchNormShape s, float momentum, float eps) {
  const size_t M = s.N * s.HW;
  for (size_t c = blockIdx.x; c < s.C; c += gridDim.x) {  // uniform over the block
    double sum = 0;
    for (size_t k = threadIdx.x; k < M; k += blockDim.x) sum += toFloat(x[channelIndex(k, c, s)]);
    const double mu = blockAllReduce(sum, SumOp{}, 0.0) / static_cast<double>(M);
    double sq = 0;
    for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
      const double d = toFloat(x[channelIndex(k, c, s)]) - mu;
      sq += d * d;
    }
    const double var = blockAllReduce(sq, SumOp{}, 0.0) / static_cast<double>(M);
    const float mean = static_cast<float>(mu);
    const float invStd = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
    if (threadIdx.x == 0) {
      // Unbiased variance for the running estimate, as PyTorch; the binding requires M > 1.
      const float unbiased = static_cast<float>(var * static_cast<double>(M) / static_cast<double>(M - 1));
      runningMean[c] = (1.0f - momentum) * runningMean[c] + momentum * mean;
      runningVar[c] = (1.0f - momentum) * runningVar[c] + momentum * unbiased;
      saveMean[c] = mean;
      saveInvStd[c] = invStd;
    }
    const float w = weight != nullptr ? weight[c] : 1.0f, b = bias != nullptr ? bias[c] : 0.0f;
    for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
      const size_t i = channelIndex(k, c, s);
      out[i] = fromFloat<T>((toFloat(x[i]) - mean) * invStd * w + b);
    }
  }
}

// Eval: the running statistics normalise every element; elements below C also save the
// statistics used, so the loop covers max(total, C) indices.
template <typename T>
__global__ void batchNormEvalKernel(const T* x, const float* weight, const float* bias, const float* runningMean,
                                    const float* runningVar, T* out, float* saveMean, float* saveInvStd,
                                    nn::BatchNormShape s, float eps) {
  const size_t total = s.N * s.C * s.HW;
  const size_t work = total > s.C ? total : s.C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < work;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    if (i < s.C) {
      saveMean[i] = runningMean[i];
      saveInvStd[i] = 1.0f / sqrtf(runningVar[i] + eps);
    }
    if (i < total) {
      const size_t c = (i / s.HW) % s.C;
      const float invStd = 1.0f / sqrtf(runningVar[c] + eps);
      const float w = weight != nullptr ? weight[c] : 1.0f, b = bias != nullptr ? bias[c] : 0.0f;
      out[i] = fromFloat<T>((toFloat(x[i]) - runningMean[c]) * invStd * w + b);
    }
  }
}

template <typename T>
__global__ void batchNormBackwardKernel(const T* gradOut, const T* x, const float* weight, const float* saveMean,
                                        const float* saveInvStd, T* gradIn, float* gradWeight, float* gradBias,
                                        nn::BatchNormShape s) {
  const size_t M = s.N * s.HW;
  for (size_t c = blockIdx.x; c < s.C; c += gridDim.x) {  // uniform over the block
    const float mean = saveMean[c], invStd = saveInvStd[c];
    double sumDy = 0, sumDyXhat = 0;
    for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
      const size_t i = channelIndex(k, c, s);
      const double dy = toFloat(gradOut[i]);
      sumDy += dy;
      sumDyXhat += dy * static_cast<double>((toFloat(x[i]) - mean) * invStd);
    }
    sumDy = blockAllReduce(sumDy, SumOp{}, 0.0);
    sumDyXhat = blockAllReduce(sumDyXhat, SumOp{}, 0.0);
    if (threadIdx.x == 0) {
      if (gradWeight != nullptr) gradWeight[c] = static_cast<float>(sumDyXhat);
      if (gradBias != nullptr) gradBias[c] = static_cast<float>(sumDy);
    }
    // dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
    const float k1 = (weight != nullptr ? weight[c] : 1.0f) * invStd;
    const float meanDy = static_cast<float>(sumDy / static_cast<double>(M));
    const float meanDyXhat = static_cast<float>(sumDyXhat / static_cast<double>(M));
    for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
      const size_t i = channelIndex(k, c, s);
      const float xhat = (toFloat(x[i]) - mean) * invStd;
      gradIn[i] = fromFloat<T>(k1 * (toFloat(gradOut[i]) - meanDy - xhat * meanDyXhat));
    }
  }
}

}  // namespace

void launchBatchNormForward(const void* x, const float* weight, const float* bias, float* runningMean,
                            float* runningVar, void* out, float* saveMean, float* saveInvStd, DType dtype,
                            const nn::BatchNormShape& s, bool training, float momentum, float eps, StreamId stream) {
  if (s.C == 0) return;
  const cudaStream_t st = asStream(stream);
  if (training) {
    const unsigned grid = gridFor(s.C, 1);
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, kChannelThreads, 0, st, batchNormTrainKernel<T>)(static_cast<const T*>(x), weight, bias, runningMean,
                                                             runningVar, static_cast<T*>(out), saveMean,
                                                             saveInvStd, s, momentum, eps);
    });
  } else {
    const size_t total = s.N * s.C * s.HW;
    const unsigned grid = gridFor(total > s.C ? total : s.C, kThreads);
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, kThreads, 0, st, batchNormEvalKernel<T>)(static_cast<const T*>(x), weight, bias, runningMean,
                                                     runningVar, static_cast<T*>(out), saveMean, saveInvStd, s, eps);
    });
  }
  checkLaunch("batchNormForward");
}

void launchBatchNormBackward(const void* gradOut, const void* x, const float* weight, const float* saveMean,
                             const float* saveInvStd, void* gradIn, float* gradWeight, float* gradBias, DType dtype,
                             const nn::BatchNormShape& s, StreamId stream) {
  if (s.C == 0) return;
  const unsigned grid = gridFor(s.C, 1);
  const cudaStream_t st = asStream(stream);
  withFloatType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(grid, kChannelThreads, 0, st, batchNormBackwardKernel<T>)(
        static_cast<const T*>(gradOut), static_cast<const T*>(x), weight, saveMean, saveInvStd,
        static_cast<T*>(gradIn), gradWeight, gradBias, s);
  });
  checkLaunch("batchNormBackward");
}

// Registered implementations (ops/nn.h).
namespace {
using namespace ops;
template <typename T>
T* ptr(const StoragePtr& s) {
  return s ? static_cast<T*>(s->data()) : nullptr;
}
HY_REGISTER_OP(BatchNormForwardArgs, Cuda, "direct", [](const BatchNormForwardArgs& a, StreamId s) {
  launchBatchNormForward(a.x->data(), ptr<float>(a.weight), ptr<float>(a.bias), ptr<float>(a.runningMean),
                         ptr<float>(a.runningVar), a.out->data(), ptr<float>(a.saveMean), ptr<float>(a.saveInvStd),
                         a.dtype, a.s, a.training, static_cast<float>(a.momentum), static_cast<float>(a.eps), s);
});
HY_REGISTER_OP(BatchNormBackwardArgs, Cuda, "direct", [](const BatchNormBackwardArgs& a, StreamId s) {
  launchBatchNormBackward(a.gradOut->data(), a.x->data(), ptr<float>(a.weight), ptr<float>(a.saveMean),
                          ptr<float>(a.saveInvStd), a.gradIn->data(), ptr<float>(a.gradWeight), ptr<float>(a.gradBias),
                          a.dtype, a.s, s);
});
}  // namespace

}  // namespace hy::cuda
