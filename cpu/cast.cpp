#include <cstring>

#include "../core/convert.h"
#include "../core/half.h"
#include "half_convert.h"
#include "../ops/creation.h"
#include "parallel.h"

namespace hy::cpu {

namespace {

inline double load(const void* in, DType t, size_t i) {
  switch (t) {
    case DType::Float32: return static_cast<const float*>(in)[i];
    case DType::Float16: return halfBitsToFloat(static_cast<const uint16_t*>(in)[i]);
    case DType::Int32: return static_cast<const int32_t*>(in)[i];
    case DType::Bool: return static_cast<const uint8_t*>(in)[i];
  }
  return 0;
}

// The float32 <-> float16 casts (autocast's and every fp16 tensor's), on the CPU's conversion
// instructions where it has them (cpu/half_convert.h).
void floatToHalf(const float* in, uint16_t* out, size_t n) { halfConversions().toHalf(in, out, n); }
void halfToFloat(const uint16_t* in, float* out, size_t n) { halfConversions().toFloat(in, out, n); }

}  // namespace

void cast(const void* in, DType inType, void* out, DType outType, size_t n) {
  if (inType == outType) {
    std::memmove(out, in, n * dtypeSize(inType));
    return;
  }
  if (inType == DType::Float32 && outType == DType::Float16) {
    return floatToHalf(static_cast<const float*>(in), static_cast<uint16_t*>(out), n);
  }
  if (inType == DType::Float16 && outType == DType::Float32) {
    return halfToFloat(static_cast<const uint16_t*>(in), static_cast<float*>(out), n);
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
    case DType::Bool: {
      uint8_t* o = static_cast<uint8_t*>(out);
      for (size_t i = 0; i < n; ++i) o[i] = toBool(load(in, inType, i));
      break;
    }
  }
}

// Registered implementation (ops/creation.h).
namespace {
// Large casts split over the pool; each element's result does not depend on the split.
HY_REGISTER_OP(ops::CastArgs, Cpu, "direct", [](const ops::CastArgs& a, StreamId) {
  const size_t inSize = dtypeSize(a.xDtype), outSize = dtypeSize(a.dtype);
  parallelFor(a.n, size_t(1) << 17, [&](size_t b, size_t e) {
    cast(static_cast<const char*>(a.x->data()) + b * inSize, a.xDtype, static_cast<char*>(a.out->data()) + b * outSize,
         a.dtype, e - b);
  });
});
}  // namespace

}  // namespace hy::cpu
