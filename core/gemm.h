// GEMM family: C[p] = alpha * op(A[p]) @ op(B[p]) + beta * C[p] for p in 0..batch-1, all row-major.
// op(A) is M x K (A is stored K x M when transA), op(B) is K x N (B is stored N x K when transB),
// C is M x N. Strides are element offsets between batch items; 0 broadcasts one A or B.
#pragma once
#include <cstdint>

#include "dtype.h"

namespace hy {

// Plain description shared by the CPU backend and the CUDA launchers, derived by ops::GemmArgs::check,
// which guarantees M, N, K, batch < 2^31, that every operand's extent fits its storage, that the three
// storages share a device and that C overlaps neither input nor, across the batch, itself.
struct GemmParams {
  int64_t M = 0, N = 0, K = 0;
  bool transA = false, transB = false;
  float alpha = 1.0f, beta = 0.0f;  // fp32: both dtypes accumulate and scale in fp32
  int64_t batch = 1;
  int64_t strideA = 0, strideB = 0, strideC = 0;
};

}  // namespace hy
