// Op declaration: C[p] = alpha * op(A[p]) @ op(B[p]) + beta * C[p] for p < batch, all row-major (the
// contract is core/gemm.h). Implementations: cpu/gemm.cpp (blocked, threaded), cuda/gemm.cu (SIMT
// for float32, WMMA tensor cores for float16).
#pragma once
#include <cfloat>
#include <cmath>

#include "../core/gemm.h"
#include "../core/op_registry.h"

namespace hy::ops {

struct GemmArgs {
  static constexpr const char* kName = "gemm";
  StoragePtr a, b, c;
  DType dtype = DType::Float32;
  uint64_t M = 0, N = 0, K = 0, batch = 1, strideA = 0, strideB = 0, strideC = 0;
  bool transA = false, transB = false;
  double alpha = 1, beta = 0;
  GemmParams p;  // derived by check()

  void fields(Fields& f) {
    f.storage("a", a);
    f.storage("b", b);
    f.storage("c", c);
    f.floatDtype("dtype", dtype);
    f.size("M", M);
    f.size("N", N);
    f.size("K", K);
    f.boolean("transA", transA);
    f.boolean("transB", transB);
    f.number("alpha", alpha);
    f.number("beta", beta);
    f.size("batch", batch);
    f.size("strideA", strideA);
    f.size("strideB", strideB);
    f.size("strideC", strideC);
  }

  bool check(const Check& ck) {
    // Sizes stay below 2^31 so that kernels can count tiles and fragments in int.
    ck.fitsInt("M", M);
    ck.fitsInt("N", N);
    ck.fitsInt("K", K);
    ck.fitsInt("batch", batch);
    if (!(std::fabs(alpha) <= FLT_MAX)) ck.fail("alpha", "a finite float32", formatNumber(alpha));
    if (!(std::fabs(beta) <= FLT_MAX)) ck.fail("beta", "a finite float32", formatNumber(beta));
    // Operands have no offsets, so a shared storage means C overlaps an input it is still reading.
    if (c == a || c == b) ck.fail("c", "a storage other than a and b", "one of them");
    const uint64_t sizeC = M * N;  // < 2^62
    if (batch > 1 && strideC < sizeC) {
      ck.fail("strideC", "at least M*N = " + std::to_string(sizeC) + " so batch items do not overlap",
              std::to_string(strideC));
    }
    extent(ck, "a", a, strideA, transA ? K : M, transA ? M : K);
    extent(ck, "b", b, strideB, transB ? N : K, transB ? K : N);
    extent(ck, "c", c, strideC, M, N);
    p.M = static_cast<int64_t>(M);
    p.N = static_cast<int64_t>(N);
    p.K = static_cast<int64_t>(K);
    p.transA = transA;
    p.transB = transB;
    p.alpha = static_cast<float>(alpha);
    p.beta = static_cast<float>(beta);
    p.batch = static_cast<int64_t>(batch);
    p.strideA = static_cast<int64_t>(strideA);  // sizes are below 2^53
    p.strideB = static_cast<int64_t>(strideB);
    p.strideC = static_cast<int64_t>(strideC);
    // With no product to add, both backends' K loops run zero times and only beta * C remains. A and
    // B are then never read, and zero strides keep their (unchecked) batch pointers in range.
    if (p.alpha == 0.0f || p.K == 0) {
      p.K = 0;
      p.strideA = 0;
      p.strideB = 0;
    }
    return batch > 0 && M > 0 && N > 0;
  }

  // The elements batch items of a rows x cols operand span: (batch - 1) * stride + rows * cols.
  void extent(const Check& ck, const char* name, const StoragePtr& s, uint64_t stride, uint64_t rows,
              uint64_t cols) const {
    const uint64_t size = rows * cols;  // < 2^62
    if (batch == 0 || size == 0) return;
    uint64_t span = 0, n = 0;
    if (__builtin_mul_overflow(batch - 1, stride, &span) || __builtin_add_overflow(span, size, &n)) {
      ck.fail(std::string(name) + "'s extent", "at most 2^52 elements", "a count that overflows");
    }
    ck.holds(name, s, n, dtype);
  }
};

}  // namespace hy::ops
