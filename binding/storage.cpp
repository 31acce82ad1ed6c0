#include "storage.h"

#include "../core/error.h"
#include "addon_data.h"
#include "args.h"

namespace hy::binding {

Napi::Function Storage::define(Napi::Env env) {
  return DefineClass(env, "Storage",
                     {
                         InstanceAccessor<&Storage::nbytes>("nbytes"),
                         InstanceAccessor<&Storage::device>("device"),
                         InstanceAccessor<&Storage::pinned>("pinned"),
                         InstanceAccessor<&Storage::disposed>("disposed"),
                         InstanceMethod<&Storage::dispose>("dispose"),
                     });
}

Napi::Object Storage::create(Napi::Env env, AllocationPtr allocation) {
  auto* holder = new AllocationPtr(std::move(allocation));
  Napi::External<AllocationPtr> token = Napi::External<AllocationPtr>::New(env, holder);
  try {
    Napi::Object obj = addonData(env).storageClass.New({token});
    delete holder;
    return obj;
  } catch (...) {
    delete holder;
    throw;
  }
}

Storage::Storage(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Storage>(info), env_(info.Env()) {
  Napi::Value token = arg(info, 0);
  if (!token.IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "Storage: use alloc() to create storage, not the constructor");
  }
  allocation_ = *token.As<Napi::External<AllocationPtr>>().Data();
  if (allocation_ && allocation_->device == DeviceType::Cpu) {
    reportedBytes_ = static_cast<int64_t>(allocation_->bytes);
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), reportedBytes_);
  }
}

Storage::~Storage() { release(); }

void Storage::release() {
  allocation_.reset();
  if (reportedBytes_ != 0) {
    napi_adjust_external_memory(env_, -reportedBytes_, nullptr);
    reportedBytes_ = 0;
  }
}

AllocationPtr Storage::fromArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Napi::Value v = arg(info, i);
  Napi::Env env = info.Env();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addonData(env).storageClass.Value())) {
    throwType(std::string(op) + ": expected a Storage, got " + describe(v));
  }
  // An object that only inherits from Storage.prototype passes InstanceOf but wraps nothing.
  void* wrapped = nullptr;
  if (napi_unwrap(env, v, &wrapped) != napi_ok || wrapped == nullptr) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    throwType(std::string(op) + ": expected a Storage, got an object that is not one");
  }
  Storage* s = static_cast<Storage*>(wrapped);
  if (!s->allocation_) {
    throwRuntime(std::string(op) + ": the tensor's storage was disposed", "ERR_TENSOR_DISPOSED");
  }
  return s->allocation_;
}

Napi::Value Storage::nbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), allocation_ ? static_cast<double>(allocation_->bytes) : 0);
}

Napi::Value Storage::device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), allocation_ ? deviceName(allocation_->device) : "disposed");
}

Napi::Value Storage::pinned(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), allocation_ && allocation_->pinned);
}

Napi::Value Storage::disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !allocation_); }

Napi::Value Storage::dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

}  // namespace hy::binding
