// Op declarations: int32 arithmetic. out[i] = a[i . stridesA] (op) b[i . stridesB] over `shape`
// (broadcasting by zero strides), int32 in and out, wrapping on overflow as PyTorch's integer
// tensors do. floorDivide rounds toward negative infinity and remainder takes the divisor's sign
// (Python's // and %); a zero divisor is a RangeError naming its position: before any write on the
// CPU, at the next synchronising read on CUDA (the element gets 0).
// Implementations: cpu/integer.cpp, cuda/integer.cu.
#pragma once
#include "shape.h"  // StridedLayout, detail::layoutOf

namespace hy::ops {

struct IntBinaryArgs {
  static constexpr const char* kName = "intBinary";
  IntBinaryOp op = IntBinaryOp::Add;
  StoragePtr a, b, out;
  Dims shape, stridesA, stridesB;
  StridedLayout<2> layout;  // derived by check()
  void fields(Fields& f) {
    f.choice("op", op);
    f.storage("a", a);
    f.storage("b", b);
    f.storage("out", out);
    f.dims("shape", shape);
    f.dims("stridesA", stridesA);
    f.dims("stridesB", stridesB);
  }
  bool check(const Check& c) {
    const Dims* strides[2] = {&stridesA, &stridesB};
    const char* names[2] = {"stridesA", "stridesB"};
    uint64_t last[2];
    const uint64_t n = detail::layoutOf<2>(c, shape, strides, names, layout, last);
    if (n > 0) {
      c.holds("a", a, last[0] + 1, DType::Int32);
      c.holds("b", b, last[1] + 1, DType::Int32);
    }
    c.holds("out", out, n, DType::Int32);
    return n > 0;
  }
};

}  // namespace hy::ops
