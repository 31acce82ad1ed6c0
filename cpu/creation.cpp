#include <cstring>

#include "../core/convert.h"
#include "../core/half.h"
#include "../core/philox.h"
#include "../ops/creation.h"

namespace hy::cpu {

void fill(void* out, DType dtype, size_t n, double value) {
  switch (dtype) {
    case DType::Float32: {
      float* o = static_cast<float*>(out);
      const float v = static_cast<float>(value);
      for (size_t i = 0; i < n; ++i) o[i] = v;
      break;
    }
    case DType::Float16: {
      uint16_t* o = static_cast<uint16_t*>(out);
      const uint16_t v = floatToHalfBits(static_cast<float>(value));
      for (size_t i = 0; i < n; ++i) o[i] = v;
      break;
    }
    case DType::Int32: {
      int32_t* o = static_cast<int32_t*>(out);
      const int32_t v = floatToInt32(value);
      for (size_t i = 0; i < n; ++i) o[i] = v;
      break;
    }
    case DType::Bool: std::memset(out, toBool(value), n); break;
  }
}

void random(void* out, DType dtype, size_t n, int kind, uint64_t seed, uint64_t offset, double a, double b) {
  if (kind == static_cast<int>(RandomKind::Integer)) {
    for (size_t i = 0; i < n; ++i) static_cast<int32_t*>(out)[i] = philoxInteger(seed, offset, i, a, b);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    // float32 first, then the storage type: the CUDA kernel rounds the same way.
    float v;
    if (kind == 0) {
      v = static_cast<float>(a + (b - a) * static_cast<double>(philoxUniform(seed, offset, i)));
    } else {
      v = static_cast<float>(a + b * philoxNormal(seed, offset, i));
    }
    switch (dtype) {
      case DType::Float32: static_cast<float*>(out)[i] = v; break;
      case DType::Float16: static_cast<uint16_t*>(out)[i] = floatToHalfBits(v); break;
      case DType::Int32: static_cast<int32_t*>(out)[i] = floatToInt32(v); break;
      case DType::Bool: static_cast<uint8_t*>(out)[i] = toBool(v); break;
    }
  }
}

// Registered implementations (ops/creation.h).
namespace {
HY_REGISTER_OP(ops::FillArgs, Cpu, "direct",
               [](const ops::FillArgs& a, StreamId) { fill(a.out->data(), a.dtype, a.n, a.value); });
HY_REGISTER_OP(ops::RandomArgs, Cpu, "philox", [](const ops::RandomArgs& a, StreamId) {
  random(a.out->data(), a.dtype, a.n, static_cast<int>(a.kind), a.seed, a.offset, a.a, a.b);
});
}  // namespace

}  // namespace hy::cpu
