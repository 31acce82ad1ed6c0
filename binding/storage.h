// Storage: the JS handle of one native allocation. dispose() frees it at once; the finalizer is
// only the safety net for handles nobody disposed.
#pragma once
#include <napi.h>

#include "../core/storage.h"

namespace hy::binding {

class Storage : public Napi::ObjectWrap<Storage> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object create(Napi::Env env, AllocationPtr allocation);
  // The live allocation of argument i, or a JS error naming op.
  static AllocationPtr fromArg(const Napi::CallbackInfo& info, size_t i, const char* op);

  explicit Storage(const Napi::CallbackInfo& info);
  ~Storage() override;

 private:
  Napi::Value nbytes(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value pinned(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  void release();

  AllocationPtr allocation_;
  napi_env env_;
  int64_t reportedBytes_ = 0;  // host bytes reported to V8
};

}  // namespace hy::binding
