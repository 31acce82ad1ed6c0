#include "storage.h"

#include <algorithm>
#include <unordered_set>

#include "../core/error.h"
#include "addon_data.h"
#include "args.h"

namespace hy::binding {

Napi::Function StorageHandle::define(Napi::Env env) {
  return DefineClass(env, "Storage",
                     {
                         InstanceAccessor<&StorageHandle::nbytes>("nbytes"),
                         InstanceAccessor<&StorageHandle::device>("device"),
                         InstanceAccessor<&StorageHandle::pinned>("pinned"),
                         InstanceAccessor<&StorageHandle::disposed>("disposed"),
                         InstanceMethod<&StorageHandle::dispose>("dispose"),
                     });
}

// The allocation create() hands to the constructor it calls. A slot on the thread instead of a
// napi External argument: each External is one more weak handle for the GC to finalize, and it
// cost more than the rest of an allocation. Only create() fills it, so `new Storage()` from
// JavaScript still finds it empty and is refused.
static thread_local StoragePtr* pendingAllocation = nullptr;

Napi::Object StorageHandle::create(Napi::Env env, StoragePtr allocation) {
  pendingAllocation = &allocation;
  try {
    Napi::Object obj = addonData(env).storageClass.New({});
    pendingAllocation = nullptr;
    return obj;
  } catch (...) {
    pendingAllocation = nullptr;
    throw;
  }
}

// Host blocks smaller than this are not reported to V8 as external memory (see the constructor).
static constexpr size_t kReportedMinBytes = 4096;

// V8 is told of host memory so that it collects dropped tensors under memory pressure, but it
// counts every positive report toward its next collection: an alloc/dispose pair per op of 16 MiB
// cost a mark-compact every few ops. So a disposed handle's bytes stay reported, as a credit (up
// to kExternalCredit) that the next allocations use before reporting more: a loop that disposes
// reports nothing after its first op, and one that leaks reports every allocation, as before.
// Per thread, as each isolate (the main one, each worker's) and its finalizers run on their own.
namespace {
thread_local int64_t externalCredit = 0;
thread_local int64_t externalReported = 0;  // the net of this thread's reports, for the tests
constexpr int64_t kExternalCredit = int64_t(64) << 20;

void reportAllocated(napi_env env, int64_t bytes) {
  const int64_t used = std::min(externalCredit, bytes);
  externalCredit -= used;
  int64_t ignored = 0;
  if (bytes > used) {
    napi_adjust_external_memory(env, bytes - used, &ignored);
    externalReported += bytes - used;
  }
}

void reportFreed(napi_env env, int64_t bytes) {
  externalCredit += bytes;
  if (externalCredit > kExternalCredit) {
    int64_t ignored = 0;
    napi_adjust_external_memory(env, kExternalCredit - externalCredit, &ignored);
    externalReported += kExternalCredit - externalCredit;
    externalCredit = kExternalCredit;
  }
}
}  // namespace

int64_t StorageHandle::externalReportedBytes() { return externalReported; }

// The live handles of this thread's isolate (handles are made, used and finalized on its thread),
// so that fromValue accepts a wrapped pointer only after finding it here: an object some other
// class wraps is refused before it is read as a StorageHandle. It replaced a type tag (and an
// instanceof walk before that): tagging a fresh object added a second private property, a map
// transition that cost a tenth of an allocation.
namespace {
thread_local std::unordered_set<const StorageHandle*>* liveHandles = nullptr;
std::unordered_set<const StorageHandle*>& live() {
  if (liveHandles == nullptr) liveHandles = new std::unordered_set<const StorageHandle*>();  // never freed: finalizers may run at exit
  return *liveHandles;
}
}  // namespace

StorageHandle::StorageHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StorageHandle>(info), env_(info.Env()) {
  if (pendingAllocation == nullptr) {
    throw Napi::TypeError::New(info.Env(), "Storage: use alloc() to create storage, not the constructor");
  }
  storage_ = std::move(*pendingAllocation);
  pendingAllocation = nullptr;  // a constructor run from inside this one finds no allocation
  live().insert(this);
  // Host memory is reported to V8 (less the credit above) so that the finalizers of dropped
  // tensors run under memory pressure; below a few KiB the wrapper objects themselves weigh as much, and reporting every
  // small block made V8 collect far more often than the memory warrants (a 64-element op paid
  // for it twice, at alloc and at dispose).
  if (storage_ && storage_->device == DeviceType::Cpu && storage_->bytes >= kReportedMinBytes) {
    reportedBytes_ = static_cast<int64_t>(storage_->bytes);
    reportAllocated(info.Env(), reportedBytes_);
  }
}

StorageHandle::~StorageHandle() {
  live().erase(this);
  release();
}

void StorageHandle::release() {
  // Queued CPU tasks may still hold the storage: its host block is reusable now (core/storage.h).
  if (storage_ && storage_.use_count() > 1) storage_->releaseInQueueOrder();
  storage_.reset();
  if (reportedBytes_ != 0) {
    reportFreed(env_, reportedBytes_);
    reportedBytes_ = 0;
  }
}

StoragePtr StorageHandle::fromValue(const Napi::Value& v, const char* op, const char* name) {
  Napi::Env env = v.Env();
  // Built only on failure: this runs for every storage of every op call.
  const auto where = [&] { return std::string(op) + ": " + name; };
  if (!v.IsObject()) throwType(where() + " must be a Storage, got " + describe(v));
  // Only a pointer found among the live handles is one: an object that wraps nothing, one that
  // merely inherits from Storage.prototype, and one another class wraps are all refused.
  void* wrapped = nullptr;
  if (napi_unwrap(env, v, &wrapped) != napi_ok || wrapped == nullptr ||
      live().count(static_cast<const StorageHandle*>(wrapped)) == 0) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    throwType(where() + " must be a Storage, got " + describe(v));
  }
  StorageHandle* s = static_cast<StorageHandle*>(wrapped);
  if (!s->storage_) throwRuntime(where() + ": the tensor's storage was disposed", "ERR_TENSOR_DISPOSED");
  return s->storage_;
}

StoragePtr StorageHandle::fromArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  return fromValue(arg(info, i), op, name);
}

Napi::Value StorageHandle::nbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), storage_ ? static_cast<double>(storage_->bytes) : 0);
}

Napi::Value StorageHandle::device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), storage_ ? deviceName(storage_->device) : "disposed");
}

Napi::Value StorageHandle::pinned(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), storage_ && storage_->pinned);
}

Napi::Value StorageHandle::disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !storage_); }

Napi::Value StorageHandle::dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

}  // namespace hy::binding
