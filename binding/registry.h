// Each binding file adds its functions to the module's exports through one register function,
// called from registerAll() below; addon.cpp holds the core (storage, transfers, memory).
#pragma once
#include <napi.h>

namespace hy::binding {

void registerElementwise(Napi::Env env, Napi::Object exports);  // elementwise.cpp
void registerGemm(Napi::Env env, Napi::Object exports);         // gemm.cpp
void registerNn(Napi::Env env, Napi::Object exports);           // nn.cpp

inline void registerAll(Napi::Env env, Napi::Object exports) {
  registerElementwise(env, exports);
  registerGemm(env, exports);
  registerNn(env, exports);
}

}  // namespace hy::binding
