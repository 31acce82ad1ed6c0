// Dispatch for the elementwise family and sum reductions (CPU or CUDA by the storage's device).
#pragma once
#include "elementwise_math.h"
#include "storage.h"

namespace hy {

void unary(UnaryOp op, Allocation& in, Allocation& out, DType dtype, size_t n);
void unaryGrad(UnaryGradOp op, Allocation& x, Allocation& gradOut, Allocation& gradIn, DType dtype, size_t n);
void scalar(ScalarOp op, Allocation& in, Allocation& out, DType dtype, size_t n, float s);
void binary(BinaryOp op, Allocation& a, Allocation& b, Allocation& out, DType dtype, const BroadcastLayout& layout);
void reduceSum(Allocation& in, Allocation& out, DType dtype, size_t outer, size_t reduce, size_t inner, float scale);

}  // namespace hy
