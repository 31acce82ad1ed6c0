// Neural-network kernels (softmax, losses, pooling, batch norm, dropout): backend dispatch.
// The binding checks shapes, dtypes and devices before calling these; each function then runs on
// the backend that owns the storages. Element data is float32 or float16 (`dtype`); float16 is
// stored as IEEE half and computed in float32. Targets and pooling indices are int32; losses,
// batch-norm parameters and statistics are float32 whatever `dtype` is.
#pragma once
#include <cstddef>
#include <cstdint>

#include "storage.h"

namespace hy::nn {

enum class Reduction : int32_t { None = 0, Mean = 1, Sum = 2 };

// Which op found an invalid target; part of the deferred CUDA error (see raisePendingTargetError).
enum class TargetOp : uint32_t { NllLoss = 1, NllLossBackward = 2, CrossEntropy = 3, CrossEntropyBackward = 4 };
const char* targetOpName(TargetOp op);
[[noreturn]] void throwBadTarget(TargetOp op, int64_t target, uint64_t row, uint64_t cols);

// Upstream gradient of a loss: gradScale times, when gradOut is given, gradOut[row] (reduction
// None) or gradOut[0] (Mean, Sum); Mean divides by rows as well.
struct LossGrad {
  Allocation* gradOut = nullptr;  // float32, optional
  double gradScale = 1.0;
};

void logSoftmax(Allocation& x, Allocation& out, DType dtype, size_t rows, size_t cols);
void logSoftmaxBackward(Allocation& gradOut, Allocation& out, Allocation& gradIn, DType dtype, size_t rows,
                        size_t cols);

void nllLoss(Allocation& logp, Allocation& target, Allocation& loss, DType dtype, size_t rows, size_t cols,
             Reduction reduction);
void nllLossBackward(Allocation& target, Allocation& gradIn, DType dtype, size_t rows, size_t cols, Reduction reduction,
                     const LossGrad& grad);

// gradLogits may be null; when given it receives d(loss)/d(logits) for an upstream gradient of 1.
void crossEntropy(Allocation& logits, Allocation& target, Allocation& loss, Allocation* gradLogits, DType dtype,
                  size_t rows, size_t cols, Reduction reduction);
void crossEntropyBackward(Allocation& logits, Allocation& target, Allocation& gradLogits, DType dtype, size_t rows,
                          size_t cols, Reduction reduction, const LossGrad& grad);

struct Pool2d {
  size_t N, C, H, W, kH, kW, sH, sW, pH, pW, outH, outW;
};
void maxPool2d(Allocation& x, Allocation& out, Allocation& indices, DType dtype, const Pool2d& p);
void maxPool2dBackward(Allocation& gradOut, Allocation& indices, Allocation& gradIn, DType dtype, const Pool2d& p);

struct BatchNormShape {
  size_t N, C, HW;
};
void batchNormForward(Allocation& x, Allocation* weight, Allocation* bias, Allocation& runningMean,
                      Allocation& runningVar, Allocation& out, Allocation& saveMean, Allocation& saveInvStd, DType dtype,
                      const BatchNormShape& s, bool training, double momentum, double eps);
void batchNormBackward(Allocation& gradOut, Allocation& x, Allocation* weight, Allocation& saveMean,
                       Allocation& saveInvStd, Allocation& gradIn, Allocation* gradWeight, Allocation* gradBias,
                       DType dtype, const BatchNormShape& s);

// mask: one uint8 per element, 1 = kept.
void dropout(Allocation& x, Allocation& out, Allocation& mask, DType dtype, size_t n, double p, uint64_t seed,
             uint64_t offset);
void dropoutBackward(Allocation& gradOut, Allocation& mask, Allocation& gradIn, DType dtype, size_t n, double p);

// CUDA loss kernels cannot throw, so an invalid target is recorded in a host-mapped slot and the
// rows it touches get NaN; the next synchronising read (read, readAsync, synchronize) calls this,
// which throws the same RangeError the CPU backend throws at the call, and clears the slot.
void raisePendingTargetError();

}  // namespace hy::nn
