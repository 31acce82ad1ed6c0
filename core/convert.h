// Scalar conversions shared by the CPU and CUDA backends so both round and saturate alike:
// float -> int32 truncates toward zero, saturates at the int32 range, and maps NaN to 0.
#pragma once
#include <cstdint>

#include "hd.h"

namespace hy {

HY_HD int32_t floatToInt32(double v) {
  if (!(v == v)) return 0;
  if (v >= 2147483647.0) return 2147483647;
  if (v <= -2147483648.0) return static_cast<int32_t>(-2147483647 - 1);
  return static_cast<int32_t>(v);
}

// Any value to bool: nonzero (NaN included) is true, as in PyTorch.
HY_HD uint8_t toBool(double v) { return v != 0 ? 1 : 0; }

}  // namespace hy
