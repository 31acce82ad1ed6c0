#include <cstring>

#include "../core/convert.h"
#include "../core/half.h"
#include "../ops/creation.h"

namespace hy::cpu {

namespace {

inline double load(const void* in, DType t, size_t i) {
  switch (t) {
    case DType::Float32: return static_cast<const float*>(in)[i];
    case DType::Float16: return halfBitsToFloat(static_cast<const uint16_t*>(in)[i]);
    case DType::Int32: return static_cast<const int32_t*>(in)[i];
  }
  return 0;
}

}  // namespace

void cast(const void* in, DType inType, void* out, DType outType, size_t n) {
  if (inType == outType) {
    std::memmove(out, in, n * dtypeSize(inType));
    return;
  }
  switch (outType) {
    case DType::Float32: {
      float* o = static_cast<float*>(out);
      for (size_t i = 0; i < n; ++i) o[i] = static_cast<float>(load(in, inType, i));
      break;
    }
    case DType::Float16: {
      uint16_t* o = static_cast<uint16_t*>(out);
      // int32 -> float16 goes through float32 exactly as CUDA's __int2float_rn + __float2half_rn.
      for (size_t i = 0; i < n; ++i) o[i] = floatToHalfBits(static_cast<float>(load(in, inType, i)));
      break;
    }
    case DType::Int32: {
      int32_t* o = static_cast<int32_t*>(out);
      for (size_t i = 0; i < n; ++i) o[i] = floatToInt32(load(in, inType, i));
      break;
    }
  }
}

// Registered implementation (ops/creation.h).
namespace {
HY_REGISTER_OP(ops::CastArgs, Cpu, "direct", [](const ops::CastArgs& a, StreamId) {
  cast(a.x->data(), a.xDtype, a.out->data(), a.dtype, a.n);
});
}  // namespace

}  // namespace hy::cpu
