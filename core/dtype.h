// Element types and devices shared by every backend. DType itself is declared in enums.h, with
// the other enums TypeScript sees by name.
#pragma once
#include <cstddef>
#include <cstdint>

#include "enums.h"

namespace hy {

inline size_t dtypeSize(DType t) { return t == DType::Float16 ? 2 : t == DType::Bool ? 1 : 4; }

inline const char* dtypeName(DType t) {
  const EnumNames& e = enumNames<DType>();
  const int32_t i = static_cast<int32_t>(t);
  return i >= 0 && i < e.count ? e.names[i] : "unknown";
}

enum class DeviceType : int32_t { Cpu = 0, Cuda = 1 };

inline const char* deviceName(DeviceType d) { return d == DeviceType::Cuda ? "cuda" : "cpu"; }

}  // namespace hy
