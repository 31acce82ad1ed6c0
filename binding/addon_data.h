// Per-environment state (the main thread and each worker thread that loads the addon).
#pragma once
#include <napi.h>

#include <unordered_map>

#include "storage.h"

namespace hy::binding {

struct AddonData {
  StorageTable storages;  // the storages this environment's JS holds, by id
  Napi::FunctionReference outOfMemoryClass;  // set from JS; plain Error until then
  // Property keys of op fields, made once per field name (the names are string literals, so their
  // addresses identify them): reading a field then creates no string.
  // (Node-API 8 holds references to objects only, so the strings live in one array.)
  Napi::ObjectReference fieldKeys;
  std::unordered_map<const char*, uint32_t> fieldKeyIndex;
};

inline AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace hy::binding
