// Kernel launchers: plain C++ signatures, enqueue on `stream` and return at once.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/caching_allocator.h"  // StreamId
#include "../core/dtype.h"
#include "../core/elementwise_math.h"
#include "../core/gemm.h"  // GemmParams

namespace hy::cuda {

void launchFill(void* out, DType dtype, size_t n, double value, StreamId stream);
void launchRandom(void* out, DType dtype, size_t n, int kind, uint64_t seed, uint64_t offset, double a, double b,
                  StreamId stream);
void launchCast(const void* in, DType inType, void* out, DType outType, size_t n, StreamId stream);
// float32: tiled SIMT kernel; float16: WMMA tensor cores. Empty shapes are handled by the caller.
void launchGemm(const void* a, const void* b, void* c, DType dtype, const GemmParams& p, StreamId stream);

void launchUnary(UnaryOp op, const void* in, void* out, DType dtype, size_t n, StreamId stream);
void launchUnaryGrad(UnaryGradOp op, const void* x, const void* gradOut, void* gradIn, DType dtype, size_t n,
                     StreamId stream);
void launchScalar(ScalarOp op, const void* in, void* out, DType dtype, size_t n, float s, StreamId stream);
void launchBinary(BinaryOp op, const void* a, const void* b, void* out, DType dtype, const BroadcastLayout& layout,
                  StreamId stream);
void launchReduceSum(const void* in, void* out, DType dtype, size_t outer, size_t reduce, size_t inner, float scale,
                     StreamId stream);

}  // namespace hy::cuda
