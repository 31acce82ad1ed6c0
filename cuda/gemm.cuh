// The GEMM launchers of cuda/gemm.cu, for other CUDA code that multiplies matrices it already has
// on the device (convolution's 1x1 and im2col algorithms). Operands as core/gemm.h describes.
#pragma once
#include "../core/caching_allocator.h"  // StreamId
#include "../core/gemm.h"

namespace hy::cuda {

void launchGemmSimt(const void* a, const void* b, void* c, const GemmParams& p, StreamId stream);  // float32
void launchGemmWmma(const void* a, const void* b, void* c, const GemmParams& p, StreamId stream);  // float16

}  // namespace hy::cuda
