// Row-wise softmax family: log-softmax, negative log-likelihood and the fused cross-entropy
// (llm.c's fused classifier: one pass per row computes max, logsumexp, the loss and, optionally,
// the gradient). Rows of at most kWarpRowLimit columns get a warp, longer rows a block.
#include <cuda_fp16.h>

#include <cmath>
#include <mutex>
#include <type_traits>

#include "check.cuh"
#include "../ops/nn.h"
#include "runtime.h"
#include "common.cuh"

namespace hy::cuda {

namespace {

__device__ __forceinline__ bool badTarget(int32_t t, size_t cols) { return t < 0 || static_cast<size_t>(t) >= cols; }


template <typename T, bool kWarp>
__global__ void logSoftmaxKernel(const T* x, T* out, size_t rows, size_t cols) {
  using G = RowGroup<kWarp>;
  for (size_t row = G::firstRow(); row < rows; row += G::rowStep()) {
    const T* xr = x + row * cols;
    T* outr = out + row * cols;
    float m = -INFINITY;
    for (size_t j = G::rank(); j < cols; j += G::size()) m = fmaxf(m, toFloat(xr[j]));
    m = G::max(m);
    float s = 0;
    for (size_t j = G::rank(); j < cols; j += G::size()) s += expf(toFloat(xr[j]) - m);
    const float logSum = logf(G::sum(s));
    for (size_t j = G::rank(); j < cols; j += G::size()) outr[j] = fromFloat<T>((toFloat(xr[j]) - m) - logSum);
  }
}

template <typename T, bool kWarp>
__global__ void logSoftmaxBackwardKernel(const T* gradOut, const T* out, T* gradIn, size_t rows, size_t cols) {
  using G = RowGroup<kWarp>;
  for (size_t row = G::firstRow(); row < rows; row += G::rowStep()) {
    const size_t base = row * cols;
    float s = 0;
    for (size_t j = G::rank(); j < cols; j += G::size()) s += toFloat(gradOut[base + j]);
    s = G::sum(s);
    for (size_t j = G::rank(); j < cols; j += G::size()) {
      gradIn[base + j] = fromFloat<T>(toFloat(gradOut[base + j]) - expf(toFloat(out[base + j])) * s);
    }
  }
}

template <typename T, bool kWarp>
__global__ void softmaxKernel(const T* x, T* out, size_t rows, size_t cols) {
  using G = RowGroup<kWarp>;
  for (size_t row = G::firstRow(); row < rows; row += G::rowStep()) {
    const T* xr = x + row * cols;
    T* outr = out + row * cols;
    float m = -INFINITY;
    for (size_t j = G::rank(); j < cols; j += G::size()) m = fmaxf(m, toFloat(xr[j]));
    m = G::max(m);
    float s = 0;
    for (size_t j = G::rank(); j < cols; j += G::size()) s += expf(toFloat(xr[j]) - m);
    const float inv = 1.0f / G::sum(s);
    for (size_t j = G::rank(); j < cols; j += G::size()) outr[j] = fromFloat<T>(expf(toFloat(xr[j]) - m) * inv);
  }
}

template <typename T, bool kWarp>
__global__ void softmaxBackwardKernel(const T* gradOut, const T* out, T* gradIn, size_t rows, size_t cols) {
  using G = RowGroup<kWarp>;
  for (size_t row = G::firstRow(); row < rows; row += G::rowStep()) {
    const size_t base = row * cols;
    float dot = 0;
    for (size_t j = G::rank(); j < cols; j += G::size()) dot += toFloat(gradOut[base + j]) * toFloat(out[base + j]);
    dot = G::sum(dot);
    for (size_t j = G::rank(); j < cols; j += G::size()) {
      gradIn[base + j] = fromFloat<T>(toFloat(out[base + j]) * (toFloat(gradOut[base + j]) - dot));
    }
  }
}

// One row per loss: reduction None, grid-stride over rows.
template <typename T>
__global__ void nllLossRowsKernel(const T* logp, const int32_t* target, float* loss, size_t rows, size_t cols,
                                  uint64_t* slot) {
  for (size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int32_t t = target[r];
    if (badTarget(t, cols)) {
      recordBadTarget(slot, nn::TargetOp::NllLoss, t, r, cols);
      loss[r] = NAN;
    } else {
      loss[r] = -toFloat(logp[r * cols + static_cast<size_t>(t)]);
    }
  }
}

// Mean or Sum: a single block gathers every row in a fixed order, so the result is deterministic.
template <typename T>
__global__ void nllLossReduceKernel(const T* logp, const int32_t* target, float* loss, size_t rows, size_t cols,
                                    bool mean, uint64_t* slot) {
  double acc = 0;
  for (size_t r = threadIdx.x; r < rows; r += blockDim.x) {
    const int32_t t = target[r];
    if (badTarget(t, cols)) {
      recordBadTarget(slot, nn::TargetOp::NllLoss, t, r, cols);
      acc += NAN;
    } else {
      acc -= toFloat(logp[r * cols + static_cast<size_t>(t)]);
    }
  }
  acc = blockAllReduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) loss[0] = static_cast<float>(mean ? acc / static_cast<double>(rows) : acc);
}

template <typename T>
__global__ void nllLossBackwardKernel(const int32_t* target, T* gradIn, size_t rows, size_t cols,
                                      const float* gradOut, bool perRow, float scale, uint64_t* slot) {
  const size_t n = rows * cols;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = i / cols, j = i % cols;
    const int32_t t = target[r];
    float g;
    if (badTarget(t, cols)) {
      if (j == 0) recordBadTarget(slot, nn::TargetOp::NllLossBackward, t, r, cols);
      g = NAN;
    } else {
      const float rowScale = gradOut == nullptr ? scale : scale * gradOut[perRow ? r : 0];
      g = j == static_cast<size_t>(t) ? -rowScale : 0.0f;
    }
    gradIn[i] = fromFloat<T>(g);
  }
}

// With no classes every target is out of range (PyTorch: "Target t is out of bounds"); the gradient
// is empty, so this one thread reports row 0's target where the element kernel would have.
__global__ void noClassesKernel(const int32_t* target, uint64_t* slot) {
  recordBadTarget(slot, nn::TargetOp::NllLossBackward, target[0], 0, 0);
}

// Fused cross-entropy for one row per group: max, sum of exp, then the loss (when rowLoss is given)
// and the gradient (softmax - onehot) * rowScale (when grad is given), reading the row three times.
template <typename T, bool kWarp>
__global__ void crossEntropyKernel(const T* logits, const int32_t* target, float* rowLoss, T* grad, size_t rows,
                                   size_t cols, const float* gradOut, bool perRow, float scale, nn::TargetOp op,
                                   uint64_t* slot) {
  using G = RowGroup<kWarp>;
  for (size_t row = G::firstRow(); row < rows; row += G::rowStep()) {
    const T* xr = logits + row * cols;
    const int32_t t = target[row];
    const bool bad = badTarget(t, cols);  // the same for the whole group
    float m = -INFINITY;
    for (size_t j = G::rank(); j < cols; j += G::size()) m = fmaxf(m, toFloat(xr[j]));
    m = G::max(m);
    float s = 0;
    for (size_t j = G::rank(); j < cols; j += G::size()) s += expf(toFloat(xr[j]) - m);
    s = G::sum(s);
    if (bad && G::rank() == 0) recordBadTarget(slot, op, t, row, cols);
    if (rowLoss != nullptr && G::rank() == 0) {
      rowLoss[row] = bad ? NAN : (m - toFloat(xr[t])) + logf(s);
    }
    if (grad != nullptr) {
      const float rowScale = gradOut == nullptr ? scale : scale * gradOut[perRow ? row : 0];
      const float invSum = 1.0f / s;
      T* gr = grad + row * cols;
      for (size_t j = G::rank(); j < cols; j += G::size()) {
        const float p = expf(toFloat(xr[j]) - m) * invSum;
        const float onehot = j == static_cast<size_t>(t) ? 1.0f : 0.0f;
        gr[j] = fromFloat<T>(bad ? NAN : (p - onehot) * rowScale);
      }
    }
  }
}

// Sums the per-row losses in a fixed order (one block) into loss[0].
__global__ void sumRowsKernel(const float* rowLoss, float* loss, size_t rows, bool mean) {
  double acc = 0;
  for (size_t r = threadIdx.x; r < rows; r += blockDim.x) acc += rowLoss[r];
  acc = blockAllReduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) loss[0] = static_cast<float>(mean ? acc / static_cast<double>(rows) : acc);
}

constexpr unsigned kReduceThreads = 1024;
constexpr unsigned kElementThreads = 256;

// Launches a row kernel with the warp or block layout; `launch` gets the template flag as a
// std::integral_constant so each layout is its own instantiation.
template <typename Launch>
void launchRows(size_t rows, size_t cols, StreamId stream, Launch launch) {
  if (rows == 0) return;
  if (cols <= kWarpRowLimit) {
    using G = RowGroup<true>;
    launch(std::true_type{}, gridFor(rows, G::kRowsPerBlock), G::kThreads, asStream(stream));
  } else {
    using G = RowGroup<false>;
    launch(std::false_type{}, gridFor(rows, G::kRowsPerBlock), G::kThreads, asStream(stream));
  }
}

}  // namespace


void launchLogSoftmax(const void* x, void* out, DType dtype, size_t rows, size_t cols, StreamId stream) {
  launchRows(rows, cols, stream, [&](auto warp, unsigned grid, unsigned threads, cudaStream_t s) {
    constexpr bool kWarp = decltype(warp)::value;
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, threads, 0, s, logSoftmaxKernel<T, kWarp>)(static_cast<const T*>(x), static_cast<T*>(out),
                                                               rows, cols);
    });
  });
  checkLaunch("logSoftmax");
}

void launchLogSoftmaxBackward(const void* gradOut, const void* out, void* gradIn, DType dtype, size_t rows, size_t cols,
                              StreamId stream) {
  launchRows(rows, cols, stream, [&](auto warp, unsigned grid, unsigned threads, cudaStream_t s) {
    constexpr bool kWarp = decltype(warp)::value;
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, threads, 0, s, logSoftmaxBackwardKernel<T, kWarp>)(
          static_cast<const T*>(gradOut), static_cast<const T*>(out), static_cast<T*>(gradIn), rows, cols);
    });
  });
  checkLaunch("logSoftmaxBackward");
}

void launchSoftmax(const void* x, void* out, DType dtype, size_t rows, size_t cols, StreamId stream) {
  launchRows(rows, cols, stream, [&](auto warp, unsigned grid, unsigned threads, cudaStream_t s) {
    constexpr bool kWarp = decltype(warp)::value;
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, threads, 0, s, softmaxKernel<T, kWarp>)(static_cast<const T*>(x), static_cast<T*>(out),
                                                            rows, cols);
    });
  });
  checkLaunch("softmax");
}

void launchSoftmaxBackward(const void* gradOut, const void* out, void* gradIn, DType dtype, size_t rows, size_t cols,
                           StreamId stream) {
  launchRows(rows, cols, stream, [&](auto warp, unsigned grid, unsigned threads, cudaStream_t s) {
    constexpr bool kWarp = decltype(warp)::value;
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, threads, 0, s, softmaxBackwardKernel<T, kWarp>)(
          static_cast<const T*>(gradOut), static_cast<const T*>(out), static_cast<T*>(gradIn), rows, cols);
    });
  });
  checkLaunch("softmaxBackward");
}

void launchNllLoss(const void* logp, const int32_t* target, float* loss, DType dtype, size_t rows, size_t cols,
                   nn::Reduction reduction, StreamId stream) {
  uint64_t* slot = targetErrorSlot();
  const cudaStream_t s = asStream(stream);
  if (reduction == nn::Reduction::None) {
    if (rows == 0) return;
    const unsigned grid = gridFor(rows, kElementThreads);
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, kElementThreads, 0, s, nllLossRowsKernel<T>)(static_cast<const T*>(logp), target, loss, rows, cols, slot);
    });
  } else {
    // Runs for rows == 0 too, so the loss is written (NaN for Mean, 0 for Sum).
    const bool mean = reduction == nn::Reduction::Mean;
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(1, kReduceThreads, 0, s, nllLossReduceKernel<T>)(static_cast<const T*>(logp), target, loss, rows, cols, mean,
                                                       slot);
    });
  }
  checkLaunch("nllLoss");
}

void launchNllLossBackward(const int32_t* target, void* gradIn, DType dtype, size_t rows, size_t cols,
                           const float* gradOut, bool perRow, float scale, StreamId stream) {
  uint64_t* slot = targetErrorSlot();
  const size_t n = rows * cols;
  const cudaStream_t s = asStream(stream);
  if (n == 0) {
    if (rows > 0) {
      HY_LAUNCH(1, 1, 0, s, noClassesKernel)(target, slot);
      checkLaunch("nllLossBackward");
    }
    return;
  }
  const unsigned grid = gridFor(n, kElementThreads);
  withFloatType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(grid, kElementThreads, 0, s, nllLossBackwardKernel<T>)(target, static_cast<T*>(gradIn), rows, cols, gradOut,
                                                           perRow, scale, slot);
  });
  checkLaunch("nllLossBackward");
}

void launchCrossEntropy(const void* logits, const int32_t* target, float* rowLoss, float* loss, void* gradLogits,
                        DType dtype, size_t rows, size_t cols, nn::Reduction reduction, StreamId stream) {
  uint64_t* slot = targetErrorSlot();
  const bool mean = reduction == nn::Reduction::Mean;
  const float scale = mean ? static_cast<float>(1.0 / static_cast<double>(rows)) : 1.0f;
  launchRows(rows, cols, stream, [&](auto warp, unsigned grid, unsigned threads, cudaStream_t s) {
    constexpr bool kWarp = decltype(warp)::value;
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, threads, 0, s, crossEntropyKernel<T, kWarp>)(
          static_cast<const T*>(logits), target, rowLoss, static_cast<T*>(gradLogits), rows, cols, nullptr,
          false, scale, nn::TargetOp::CrossEntropy, slot);
    });
  });
  checkLaunch("crossEntropy");
  if (reduction != nn::Reduction::None) {
    HY_LAUNCH(1, kReduceThreads, 0, asStream(stream), sumRowsKernel)(rowLoss, loss, rows, mean);
    checkLaunch("crossEntropy (sum)");
  }
}

void launchCrossEntropyBackward(const void* logits, const int32_t* target, void* gradLogits, DType dtype, size_t rows,
                                size_t cols, const float* gradOut, bool perRow, float scale, StreamId stream) {
  uint64_t* slot = targetErrorSlot();
  launchRows(rows, cols, stream, [&](auto warp, unsigned grid, unsigned threads, cudaStream_t s) {
    constexpr bool kWarp = decltype(warp)::value;
    withFloatType(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      HY_LAUNCH(grid, threads, 0, s, crossEntropyKernel<T, kWarp>)(
          static_cast<const T*>(logits), target, nullptr, static_cast<T*>(gradLogits), rows, cols, gradOut,
          perRow, scale, nn::TargetOp::CrossEntropyBackward, slot);
    });
  });
  checkLaunch("crossEntropyBackward");
}

// Registered implementations (ops/nn.h).
namespace {
using namespace ops;
template <typename T>
T* ptr(const StoragePtr& s) {
  return s ? static_cast<T*>(s->data()) : nullptr;
}
HY_REGISTER_OP(LogSoftmaxArgs, Cuda, "rowwise", [](const LogSoftmaxArgs& a, StreamId s) {
  launchLogSoftmax(a.x->data(), a.out->data(), a.dtype, a.rows, a.cols, s);
});
HY_REGISTER_OP(LogSoftmaxBackwardArgs, Cuda, "rowwise", [](const LogSoftmaxBackwardArgs& a, StreamId s) {
  launchLogSoftmaxBackward(a.gradOut->data(), a.out->data(), a.gradIn->data(), a.dtype, a.rows, a.cols, s);
});
HY_REGISTER_OP(SoftmaxArgs, Cuda, "rowwise", [](const SoftmaxArgs& a, StreamId s) {
  launchSoftmax(a.x->data(), a.out->data(), a.dtype, a.rows, a.cols, s);
});
HY_REGISTER_OP(SoftmaxBackwardArgs, Cuda, "rowwise", [](const SoftmaxBackwardArgs& a, StreamId s) {
  launchSoftmaxBackward(a.gradOut->data(), a.out->data(), a.gradIn->data(), a.dtype, a.rows, a.cols, s);
});
HY_REGISTER_OP(NllLossArgs, Cuda, "rowwise", [](const NllLossArgs& a, StreamId s) {
  launchNllLoss(a.logp->data(), ptr<int32_t>(a.target), ptr<float>(a.loss), a.dtype, a.rows, a.cols, a.reduction, s);
});
HY_REGISTER_OP(NllLossBackwardArgs, Cuda, "rowwise", [](const NllLossBackwardArgs& a, StreamId s) {
  launchNllLossBackward(ptr<int32_t>(a.target), a.gradIn->data(), a.dtype, a.rows, a.cols, ptr<float>(a.grad.gradOut),
                        a.reduction == nn::Reduction::None, a.grad.scale(a.reduction, a.rows), s);
});
HY_REGISTER_OP(CrossEntropyArgs, Cuda, "fused", [](const CrossEntropyArgs& a, StreamId s) {
  // Mean and Sum need the per-row losses somewhere before the fixed-order sum; the block is reused
  // only by work enqueued after it on the same stream, so it can go back at once.
  StoragePtr scratch;
  float* rowLoss = ptr<float>(a.loss);
  if (a.reduction != nn::Reduction::None) {
    scratch = allocate(DeviceType::Cuda, a.rows * sizeof(float), false);
    rowLoss = ptr<float>(scratch);
  }
  launchCrossEntropy(a.logits->data(), ptr<int32_t>(a.target), rowLoss, ptr<float>(a.loss), ptr<void>(a.gradLogits),
                     a.dtype, a.rows, a.cols, a.reduction, s);
});
HY_REGISTER_OP(CrossEntropyBackwardArgs, Cuda, "fused", [](const CrossEntropyBackwardArgs& a, StreamId s) {
  launchCrossEntropyBackward(a.logits->data(), ptr<int32_t>(a.target), a.gradLogits->data(), a.dtype, a.rows, a.cols,
                             ptr<float>(a.grad.gradOut), a.reduction == nn::Reduction::None,
                             a.grad.scale(a.reduction, a.rows), s);
});
}  // namespace

}  // namespace hy::cuda
