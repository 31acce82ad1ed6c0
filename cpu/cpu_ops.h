// The CPU backend: the same operations as cuda/, in plain C++. Pointers are host memory.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/elementwise_math.h"
#include "../core/gemm.h"

namespace hy::cpu {

void fill(void* out, DType dtype, size_t n, double value);
// kind 0: uniform in [a, b); kind 1: normal with mean a and standard deviation b.
void random(void* out, DType dtype, size_t n, int kind, uint64_t seed, uint64_t offset, double a, double b);
void cast(const void* in, DType inType, void* out, DType outType, size_t n);
// See core/gemm.h for the contract; the dispatcher has already handled empty shapes.
void gemm(const void* a, const void* b, void* c, DType dtype, const GemmParams& p);

// Elementwise: float32 and float16 (math in float32). n elements, contiguous.
void unary(UnaryOp op, const void* in, void* out, DType dtype, size_t n);
void unaryGrad(UnaryGradOp op, const void* x, const void* gradOut, void* gradIn, DType dtype, size_t n);
void scalar(ScalarOp op, const void* in, void* out, DType dtype, size_t n, float s);
void binary(BinaryOp op, const void* a, const void* b, void* out, DType dtype, const BroadcastLayout& layout);
// out[o, i] = scale * sum_r in[o, r, i]
void reduceSum(const void* in, void* out, DType dtype, size_t outer, size_t reduce, size_t inner, float scale);

}  // namespace hy::cpu
