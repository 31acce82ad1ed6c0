#include "nn.h"

#include <initializer_list>
#include <string>

#include "../cpu/nn.h"
#include "dispatch.h"
#include "error.h"
#ifdef HAYATE_WITH_CUDA
#include "../cuda/nn.h"
#endif

namespace hy::nn {

namespace {

// The binding has checked that every storage is on one device, so the first decides.
#ifdef HAYATE_WITH_CUDA
#define HY_NN_DEVICE(first, ...)        \
  if (onDevice(first)) {                \
    __VA_ARGS__;                        \
    return;                             \
  }
#else
#define HY_NN_DEVICE(first, ...) \
  if (onDevice(first)) throwNoCuda();
#endif

// Host storages may still be receiving a non-blocking device-to-host copy.
void hostReady(std::initializer_list<Allocation*> allocations) {
  for (Allocation* a : allocations) {
    if (a != nullptr) a->waitForHost();
  }
}

template <typename T>
T* ptr(Allocation& a) {
  return static_cast<T*>(a.data());
}
template <typename T>
T* ptr(Allocation* a) {
  return a == nullptr ? nullptr : static_cast<T*>(a->data());
}

// The per-row factor of a loss gradient: gradScale, divided by rows for Mean.
float lossScale(Reduction reduction, size_t rows, double gradScale) {
  return static_cast<float>(reduction == Reduction::Mean ? gradScale / static_cast<double>(rows) : gradScale);
}

// 1/(1-p) rounded once on the host so both backends scale by the same float; p = 1 drops all.
float dropoutScale(double p) { return p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f; }

}  // namespace

const char* targetOpName(TargetOp op) {
  switch (op) {
    case TargetOp::NllLoss: return "nllLoss";
    case TargetOp::NllLossBackward: return "nllLossBackward";
    case TargetOp::CrossEntropy: return "crossEntropy";
    case TargetOp::CrossEntropyBackward: return "crossEntropyBackward";
  }
  return "loss";
}

void throwBadTarget(TargetOp op, int64_t target, uint64_t row, uint64_t cols) {
  throwRange(std::string(targetOpName(op)) + ": target " + std::to_string(target) + " at row " + std::to_string(row) +
             " is outside [0, " + std::to_string(cols) + ")");
}

void raisePendingTargetError() {
#ifdef HAYATE_WITH_CUDA
  TargetOp op;
  int64_t target;
  uint64_t row, cols;
  if (cuda::takeTargetError(&op, &target, &row, &cols)) throwBadTarget(op, target, row, cols);
#endif
}

void logSoftmax(Allocation& x, Allocation& out, DType dtype, size_t rows, size_t cols) {
  HY_NN_DEVICE(x, cuda::launchLogSoftmax(x.data(), out.data(), dtype, rows, cols, computeStream()));
  hostReady({&x, &out});
  cpu::logSoftmax(x.data(), out.data(), dtype, rows, cols);
}

void logSoftmaxBackward(Allocation& gradOut, Allocation& out, Allocation& gradIn, DType dtype, size_t rows,
                        size_t cols) {
  HY_NN_DEVICE(gradOut, cuda::launchLogSoftmaxBackward(gradOut.data(), out.data(), gradIn.data(), dtype, rows, cols,
                                                       computeStream()));
  hostReady({&gradOut, &out, &gradIn});
  cpu::logSoftmaxBackward(gradOut.data(), out.data(), gradIn.data(), dtype, rows, cols);
}

void nllLoss(Allocation& logp, Allocation& target, Allocation& loss, DType dtype, size_t rows, size_t cols,
             Reduction reduction) {
  HY_NN_DEVICE(logp, cuda::launchNllLoss(logp.data(), ptr<int32_t>(target), ptr<float>(loss), dtype, rows, cols,
                                         reduction, computeStream()));
  hostReady({&logp, &target, &loss});
  cpu::nllLoss(logp.data(), ptr<int32_t>(target), ptr<float>(loss), dtype, rows, cols, reduction);
}

void nllLossBackward(Allocation& target, Allocation& gradIn, DType dtype, size_t rows, size_t cols, Reduction reduction,
                     const LossGrad& grad) {
  const float scale = lossScale(reduction, rows, grad.gradScale);
  const bool perRow = reduction == Reduction::None;
#ifdef HAYATE_WITH_CUDA
  if (onDevice(target) && rows > 0 && cols == 0) {
    // With no classes every target is out of range, as PyTorch reports ("Target t is out of
    // bounds"). The gradient is empty, so no kernel would run and see it: raise the CPU's error.
    int32_t first = 0;
    readToHost(target, &first, sizeof first);
    throwBadTarget(TargetOp::NllLossBackward, first, 0, 0);
  }
#endif
  HY_NN_DEVICE(target, cuda::launchNllLossBackward(ptr<int32_t>(target), gradIn.data(), dtype, rows, cols,
                                                   ptr<float>(grad.gradOut), perRow, scale, computeStream()));
  hostReady({&target, &gradIn, grad.gradOut});
  cpu::nllLossBackward(ptr<int32_t>(target), gradIn.data(), dtype, rows, cols, ptr<float>(grad.gradOut), perRow, scale);
}

void crossEntropy(Allocation& logits, Allocation& target, Allocation& loss, Allocation* gradLogits, DType dtype,
                  size_t rows, size_t cols, Reduction reduction) {
#ifdef HAYATE_WITH_CUDA
  if (onDevice(logits)) {
    // Mean and Sum need the per-row losses somewhere before the fixed-order sum; the block is
    // reused only by work enqueued after it on the same stream, so it can go back at once.
    AllocationPtr scratch;
    float* rowLoss = ptr<float>(loss);
    if (reduction != Reduction::None) {
      scratch = allocate(DeviceType::Cuda, rows * sizeof(float), false);
      rowLoss = ptr<float>(*scratch);
    }
    cuda::launchCrossEntropy(logits.data(), ptr<int32_t>(target), rowLoss, ptr<float>(loss), ptr<void>(gradLogits),
                             dtype, rows, cols, reduction, computeStream());
    return;
  }
#else
  if (onDevice(logits)) throwNoCuda();
#endif
  hostReady({&logits, &target, &loss, gradLogits});
  cpu::crossEntropy(logits.data(), ptr<int32_t>(target), ptr<float>(loss), ptr<void>(gradLogits), dtype, rows, cols,
                    reduction);
}

void crossEntropyBackward(Allocation& logits, Allocation& target, Allocation& gradLogits, DType dtype, size_t rows,
                          size_t cols, Reduction reduction, const LossGrad& grad) {
  const float scale = lossScale(reduction, rows, grad.gradScale);
  const bool perRow = reduction == Reduction::None;
  HY_NN_DEVICE(logits, cuda::launchCrossEntropyBackward(logits.data(), ptr<int32_t>(target), gradLogits.data(), dtype,
                                                        rows, cols, ptr<float>(grad.gradOut), perRow, scale,
                                                        computeStream()));
  hostReady({&logits, &target, &gradLogits, grad.gradOut});
  cpu::crossEntropyBackward(logits.data(), ptr<int32_t>(target), gradLogits.data(), dtype, rows, cols,
                            ptr<float>(grad.gradOut), perRow, scale);
}

void maxPool2d(Allocation& x, Allocation& out, Allocation& indices, DType dtype, const Pool2d& p) {
  HY_NN_DEVICE(x, cuda::launchMaxPool2d(x.data(), out.data(), ptr<int32_t>(indices), dtype, p, computeStream()));
  hostReady({&x, &out, &indices});
  cpu::maxPool2d(x.data(), out.data(), ptr<int32_t>(indices), dtype, p);
}

void maxPool2dBackward(Allocation& gradOut, Allocation& indices, Allocation& gradIn, DType dtype, const Pool2d& p) {
  HY_NN_DEVICE(gradOut, cuda::launchMaxPool2dBackward(gradOut.data(), ptr<int32_t>(indices), gradIn.data(), dtype, p,
                                                      computeStream()));
  hostReady({&gradOut, &indices, &gradIn});
  cpu::maxPool2dBackward(gradOut.data(), ptr<int32_t>(indices), gradIn.data(), dtype, p);
}

void batchNormForward(Allocation& x, Allocation* weight, Allocation* bias, Allocation& runningMean,
                      Allocation& runningVar, Allocation& out, Allocation& saveMean, Allocation& saveInvStd, DType dtype,
                      const BatchNormShape& s, bool training, double momentum, double eps) {
  const float m = static_cast<float>(momentum), e = static_cast<float>(eps);
  HY_NN_DEVICE(x, cuda::launchBatchNormForward(x.data(), ptr<float>(weight), ptr<float>(bias), ptr<float>(runningMean),
                                               ptr<float>(runningVar), out.data(), ptr<float>(saveMean),
                                               ptr<float>(saveInvStd), dtype, s, training, m, e, computeStream()));
  hostReady({&x, weight, bias, &runningMean, &runningVar, &out, &saveMean, &saveInvStd});
  cpu::batchNormForward(x.data(), ptr<float>(weight), ptr<float>(bias), ptr<float>(runningMean), ptr<float>(runningVar),
                        out.data(), ptr<float>(saveMean), ptr<float>(saveInvStd), dtype, s, training, m, e);
}

void batchNormBackward(Allocation& gradOut, Allocation& x, Allocation* weight, Allocation& saveMean,
                       Allocation& saveInvStd, Allocation& gradIn, Allocation* gradWeight, Allocation* gradBias,
                       DType dtype, const BatchNormShape& s) {
  HY_NN_DEVICE(x, cuda::launchBatchNormBackward(gradOut.data(), x.data(), ptr<float>(weight), ptr<float>(saveMean),
                                                ptr<float>(saveInvStd), gradIn.data(), ptr<float>(gradWeight),
                                                ptr<float>(gradBias), dtype, s, computeStream()));
  hostReady({&gradOut, &x, weight, &saveMean, &saveInvStd, &gradIn, gradWeight, gradBias});
  cpu::batchNormBackward(gradOut.data(), x.data(), ptr<float>(weight), ptr<float>(saveMean), ptr<float>(saveInvStd),
                         gradIn.data(), ptr<float>(gradWeight), ptr<float>(gradBias), dtype, s);
}

void dropout(Allocation& x, Allocation& out, Allocation& mask, DType dtype, size_t n, double p, uint64_t seed,
             uint64_t offset) {
  const float pf = static_cast<float>(p), scale = dropoutScale(p);
  HY_NN_DEVICE(x, cuda::launchDropout(x.data(), out.data(), ptr<uint8_t>(mask), dtype, n, pf, scale, seed, offset,
                                      computeStream()));
  hostReady({&x, &out, &mask});
  cpu::dropout(x.data(), out.data(), ptr<uint8_t>(mask), dtype, n, pf, scale, seed, offset);
}

void dropoutBackward(Allocation& gradOut, Allocation& mask, Allocation& gradIn, DType dtype, size_t n, double p) {
  const float scale = dropoutScale(p);
  HY_NN_DEVICE(gradOut, cuda::launchDropoutBackward(gradOut.data(), ptr<uint8_t>(mask), gradIn.data(), dtype, n, scale,
                                                    computeStream()));
  hostReady({&gradOut, &mask, &gradIn});
  cpu::dropoutBackward(gradOut.data(), ptr<uint8_t>(mask), gradIn.data(), dtype, n, scale);
}

}  // namespace hy::nn
