// Per-environment state (the main thread and each worker thread that loads the addon).
#pragma once
#include <napi.h>

namespace hy::binding {

struct AddonData {
  Napi::FunctionReference storageClass;
  Napi::FunctionReference outOfMemoryClass;  // set from JS; plain Error until then
};

inline AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace hy::binding
