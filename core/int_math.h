// int32 arithmetic shared by cpu/integer.cpp and cuda/integer.cu: computed in 64 bits and wrapped
// to 32 (two's complement), as PyTorch's integer tensors wrap; Python's floor division and modulo.
#pragma once
#include <cstdint>

#include "enums.h"
#include "hd.h"

namespace hy {

HY_HD int32_t wrap32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

// b != 0 (the callers check). INT32_MIN // -1 wraps to INT32_MIN, as in PyTorch.
HY_HD int32_t floorDiv32(int32_t a, int32_t b) {
  const int64_t q = static_cast<int64_t>(a) / b, r = static_cast<int64_t>(a) % b;
  return wrap32((r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q);
}

HY_HD int32_t remainder32(int32_t a, int32_t b) {
  const int64_t r = static_cast<int64_t>(a) % b;
  return static_cast<int32_t>((r != 0 && ((r < 0) != (b < 0))) ? r + b : r);
}

HY_HD int32_t applyIntBinary(IntBinaryOp op, int32_t a, int32_t b) {
  switch (op) {
    case IntBinaryOp::Add: return wrap32(static_cast<int64_t>(a) + b);
    case IntBinaryOp::Sub: return wrap32(static_cast<int64_t>(a) - b);
    case IntBinaryOp::Mul: return wrap32(static_cast<int64_t>(a) * b);
    case IntBinaryOp::FloorDivide: return b == 0 ? 0 : floorDiv32(a, b);
    case IntBinaryOp::Remainder: return b == 0 ? 0 : remainder32(a, b);
    default: return 0;
  }
}

}  // namespace hy
