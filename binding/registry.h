// Each binding file adds its functions to the module's exports through one register function,
// called from registerAll() below; addon.cpp holds the core (storage, transfers, memory).
#pragma once
#include <napi.h>

namespace hy::binding {

void registerOps(Napi::Env env, Napi::Object exports);  // ops.cpp: run, ops, enums

inline void registerAll(Napi::Env env, Napi::Object exports) { registerOps(env, exports); }

}  // namespace hy::binding
