// Op declarations: the elementwise family and sum reductions (float32 or float16 data, float32
// math). Implementations: cpu/elementwise.cpp, cuda/elementwise.cu. The op codes are the lists in
// core/enums.h; their math is core/elementwise_math.h, shared by both backends.
#pragma once
#include "../core/elementwise_math.h"
#include "../core/op_registry.h"

namespace hy::ops {

struct UnaryArgs {
  static constexpr const char* kName = "unary";
  UnaryOp op = UnaryOp::Neg;
  StoragePtr x, out;
  DType dtype = DType::Float32;
  uint64_t n = 0;
  void fields(Fields& f) {
    f.choice("op", op);
    f.storage("x", x);
    f.storage("out", out);
    f.floatDtype("dtype", dtype);
    f.size("n", n);
  }
  bool check(const Check& c) const {
    c.holds("x", x, n, dtype);
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

// gradIn = gradOut * f'(x)
struct UnaryGradArgs {
  static constexpr const char* kName = "unaryGrad";
  UnaryGradOp op = UnaryGradOp::Relu;
  StoragePtr x, gradOut, gradIn;
  DType dtype = DType::Float32;
  uint64_t n = 0;
  void fields(Fields& f) {
    f.choice("op", op);
    f.storage("x", x);
    f.storage("gradOut", gradOut);
    f.storage("gradIn", gradIn);
    f.floatDtype("dtype", dtype);
    f.size("n", n);
  }
  bool check(const Check& c) const {
    c.holds("x", x, n, dtype);
    c.holds("gradOut", gradOut, n, dtype);
    c.holds("gradIn", gradIn, n, dtype);
    return n > 0;
  }
};

// out = x (op) s, the scalar rounded to float32 once.
struct ScalarArgs {
  static constexpr const char* kName = "scalar";
  ScalarOp op = ScalarOp::Add;
  StoragePtr x, out;
  DType dtype = DType::Float32;
  uint64_t n = 0;
  double s = 0;
  void fields(Fields& f) {
    f.choice("op", op);
    f.storage("x", x);
    f.storage("out", out);
    f.floatDtype("dtype", dtype);
    f.size("n", n);
    f.number("s", s, true);  // NaN propagates as in PyTorch
  }
  bool check(const Check& c) const {
    c.holds("x", x, n, dtype);
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

// out[i] = a[i . stridesA] (op) b[i . stridesB] over `shape` (broadcasting by zero strides); out
// is contiguous.
struct BinaryArgs {
  static constexpr const char* kName = "binary";
  BinaryOp op = BinaryOp::Add;
  StoragePtr a, b, out;
  DType dtype = DType::Float32;
  Dims shape, stridesA, stridesB;
  BroadcastLayout layout;  // derived by check()
  void fields(Fields& f) {
    f.choice("op", op);
    f.storage("a", a);
    f.storage("b", b);
    f.storage("out", out);
    f.floatDtype("dtype", dtype);
    f.dims("shape", shape);
    f.dims("stridesA", stridesA);
    f.dims("stridesB", stridesB);
  }
  // last + (extent - 1) * stride, or a RangeError when that leaves 2^52 elements.
  static uint64_t lastIndex(const Check& c, const char* name, uint64_t last, uint64_t extent, int64_t stride) {
    uint64_t step = 0;
    if (__builtin_mul_overflow(extent - 1, static_cast<uint64_t>(stride), &step) ||
        __builtin_add_overflow(last, step, &last) || last >= (uint64_t(1) << 52)) {
      c.fail(name, "strides whose last element lies below 2^52", "a larger extent");
    }
    return last;
  }
  bool check(const Check& c) {
    if (stridesA.n != shape.n) c.fail("stridesA", std::to_string(shape.n) + " strides like shape", std::to_string(stridesA.n));
    if (stridesB.n != shape.n) c.fail("stridesB", std::to_string(shape.n) + " strides like shape", std::to_string(stridesB.n));
    // Every element each input may touch must lie inside its storage; nothing may wrap.
    bool empty = false;
    for (int d = 0; d < shape.n; ++d) empty = empty || shape.v[d] == 0;
    layout.ndim = shape.n;
    uint64_t n = 1, lastA = 0, lastB = 0;
    for (int d = 0; d < shape.n; ++d) {
      layout.shape[d] = shape.v[d];
      layout.strideA[d] = stridesA.v[d];
      layout.strideB[d] = stridesB.v[d];
      if (empty) continue;
      const uint64_t extent = static_cast<uint64_t>(shape.v[d]);
      n = c.product({n, extent}, "the element count of shape");
      lastA = lastIndex(c, "stridesA", lastA, extent, stridesA.v[d]);
      lastB = lastIndex(c, "stridesB", lastB, extent, stridesB.v[d]);
    }
    if (empty) n = 0;
    if (n > 0) {
      c.holds("a", a, lastA + 1, dtype);
      c.holds("b", b, lastB + 1, dtype);
    }
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

// out[o, i] = scale * sum_r x[o, r, i]
struct ReduceSumArgs {
  static constexpr const char* kName = "reduceSum";
  StoragePtr x, out;
  DType dtype = DType::Float32;
  uint64_t outer = 0, reduce = 0, inner = 0;
  double scale = 1;
  void fields(Fields& f) {
    f.storage("x", x);
    f.storage("out", out);
    f.floatDtype("dtype", dtype);
    f.size("outer", outer);
    f.size("reduce", reduce);
    f.size("inner", inner);
    f.number("scale", scale);
  }
  bool check(const Check& c) const {
    c.holds("x", x, c.product({outer, reduce, inner}, "outer * reduce * inner"), dtype);
    const uint64_t n = c.product({outer, inner}, "outer * inner");
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

}  // namespace hy::ops
