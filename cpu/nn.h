// CPU twins of the CUDA neural-network kernels (cuda/nn.h): same arguments, host pointers.
// Losses throw hy::Error on an invalid target before writing anything.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/nn.h"

namespace hy::cpu {

void logSoftmax(const void* x, void* out, DType dtype, size_t rows, size_t cols);
void logSoftmaxBackward(const void* gradOut, const void* out, void* gradIn, DType dtype, size_t rows, size_t cols);

void nllLoss(const void* logp, const int32_t* target, float* loss, DType dtype, size_t rows, size_t cols,
             nn::Reduction reduction);
// Row i's gradient is scale * (gradOut ? gradOut[perRow ? i : 0] : 1).
void nllLossBackward(const int32_t* target, void* gradIn, DType dtype, size_t rows, size_t cols, const float* gradOut,
                     bool perRow, float scale);
void crossEntropy(const void* logits, const int32_t* target, float* loss, void* gradLogits, DType dtype, size_t rows,
                  size_t cols, nn::Reduction reduction);
void crossEntropyBackward(const void* logits, const int32_t* target, void* gradLogits, DType dtype, size_t rows,
                          size_t cols, const float* gradOut, bool perRow, float scale);

void maxPool2d(const void* x, void* out, int32_t* indices, DType dtype, const nn::Pool2d& p);
void maxPool2dBackward(const void* gradOut, const int32_t* indices, void* gradIn, DType dtype, const nn::Pool2d& p);

void batchNormForward(const void* x, const float* weight, const float* bias, float* runningMean, float* runningVar,
                      void* out, float* saveMean, float* saveInvStd, DType dtype, const nn::BatchNormShape& s,
                      bool training, float momentum, float eps);
void batchNormBackward(const void* gradOut, const void* x, const float* weight, const float* saveMean,
                       const float* saveInvStd, void* gradIn, float* gradWeight, float* gradBias, DType dtype,
                       const nn::BatchNormShape& s);

void dropout(const void* x, void* out, uint8_t* mask, DType dtype, size_t n, float p, float scale, uint64_t seed,
             uint64_t offset);
void dropoutBackward(const void* gradOut, const uint8_t* mask, void* gradIn, DType dtype, size_t n, float scale);

}  // namespace hy::cpu
