// Element types shared by every backend. The numeric codes are part of the binding's contract.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hy {

enum class DType : int32_t { Float32 = 0, Float16 = 1, Int32 = 2 };
constexpr int kNumDTypes = 3;

inline size_t dtypeSize(DType t) { return t == DType::Float16 ? 2 : 4; }

inline const char* dtypeName(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::Int32: return "int32";
  }
  return "unknown";
}

enum class DeviceType : int32_t { Cpu = 0, Cuda = 1 };

inline const char* deviceName(DeviceType d) { return d == DeviceType::Cuda ? "cuda" : "cpu"; }

}  // namespace hy
