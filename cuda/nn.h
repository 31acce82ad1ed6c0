// Launchers of the neural-network kernels: plain C++ signatures, enqueue on `stream` and return.
// The twins in cpu/nn.h take the same arguments.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/caching_allocator.h"  // StreamId
#include "../core/dtype.h"
#include "../core/nn.h"

namespace hy::cuda {

void launchLogSoftmax(const void* x, void* out, DType dtype, size_t rows, size_t cols, StreamId stream);
void launchLogSoftmaxBackward(const void* gradOut, const void* out, void* gradIn, DType dtype, size_t rows, size_t cols,
                              StreamId stream);

// Invalid targets are recorded in the pending-error slot (takeTargetError) and give NaN.
void launchNllLoss(const void* logp, const int32_t* target, float* loss, DType dtype, size_t rows, size_t cols,
                   nn::Reduction reduction, StreamId stream);
void launchNllLossBackward(const int32_t* target, void* gradIn, DType dtype, size_t rows, size_t cols,
                           const float* gradOut, bool perRow, float scale, StreamId stream);
// rowLoss: rows floats; for reduction None it is the loss itself, otherwise scratch that a second,
// single-block launch sums in a fixed order into loss[0] (deterministic, no atomics).
void launchCrossEntropy(const void* logits, const int32_t* target, float* rowLoss, float* loss, void* gradLogits,
                        DType dtype, size_t rows, size_t cols, nn::Reduction reduction, StreamId stream);
void launchCrossEntropyBackward(const void* logits, const int32_t* target, void* gradLogits, DType dtype, size_t rows,
                                size_t cols, const float* gradOut, bool perRow, float scale, StreamId stream);
// Returns true and the recorded error, clearing it, when a loss kernel saw an invalid target.
// Only meaningful after the work that wrote it has finished (a stream or event synchronisation).
bool takeTargetError(nn::TargetOp* op, int64_t* target, uint64_t* row, uint64_t* cols);

void launchMaxPool2d(const void* x, void* out, int32_t* indices, DType dtype, const nn::Pool2d& p, StreamId stream);
void launchMaxPool2dBackward(const void* gradOut, const int32_t* indices, void* gradIn, DType dtype,
                             const nn::Pool2d& p, StreamId stream);

void launchBatchNormForward(const void* x, const float* weight, const float* bias, float* runningMean,
                            float* runningVar, void* out, float* saveMean, float* saveInvStd, DType dtype,
                            const nn::BatchNormShape& s, bool training, float momentum, float eps, StreamId stream);
void launchBatchNormBackward(const void* gradOut, const void* x, const float* weight, const float* saveMean,
                             const float* saveInvStd, void* gradIn, float* gradWeight, float* gradBias, DType dtype,
                             const nn::BatchNormShape& s, StreamId stream);

void launchDropout(const void* x, void* out, uint8_t* mask, DType dtype, size_t n, float p, float scale, uint64_t seed,
                   uint64_t offset, StreamId stream);
void launchDropoutBackward(const void* gradOut, const uint8_t* mask, void* gradIn, DType dtype, size_t n, float scale,
                           StreamId stream);

}  // namespace hy::cuda
