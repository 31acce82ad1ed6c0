// StorageHandle: the JS object (class name Storage) that owns one hy::Storage. dispose() frees it at once; the finalizer is
// only the safety net for handles nobody disposed.
#pragma once
#include <napi.h>

#include "../core/storage.h"

namespace hy::binding {

class StorageHandle : public Napi::ObjectWrap<StorageHandle> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object create(Napi::Env env, StoragePtr allocation);
  // The live storage `value` holds, or a JS error: "<op>: <name> must be a Storage, got ...".
  static StoragePtr fromValue(const Napi::Value& value, const char* op, const char* name);
  // The same for argument i of a binding function, named "<op>: <name>".
  static StoragePtr fromArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);

  // The host bytes this thread has reported to V8, net (see storage.cpp).
  static int64_t externalReportedBytes();

  explicit StorageHandle(const Napi::CallbackInfo& info);
  ~StorageHandle() override;

 private:
  Napi::Value nbytes(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value pinned(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  void release();

  StoragePtr storage_;
  napi_env env_;
  int64_t reportedBytes_ = 0;  // host bytes reported to V8
};

}  // namespace hy::binding
