// The storages JavaScript holds, by number: each environment (the main thread, each worker) keeps
// a table of slots, and JS holds a slot's id, generation * 2^26 + index, inside lib/native.ts's
// StorageHandle. A wrapped native object per storage cost most of a small op (the object, its
// wrap, its weak reference and its finalizer); a number costs nothing to make or to drop. The
// generation makes a freed slot's old id stale, so a disposed handle is told from a live one,
// and a number that was never an id is refused.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "../core/storage.h"

namespace hy::binding {

class StorageTable {
 public:
  // A new id for `allocation`, as a JS number.
  static Napi::Value add(Napi::Env env, StoragePtr allocation);
  // The live storage id `value` names, or a JS error: "<op>: <name> must be a Storage, got ...",
  // or "...: the tensor's storage was disposed" (code ERR_TENSOR_DISPOSED) for a freed one.
  static StoragePtr fromValue(const Napi::Value& value, const char* op, const char* name);
  // The same for argument i of a binding function, named "<op>: <name>".
  static StoragePtr fromArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
  // Frees the slot `value` names now; a stale id (already freed) is a no-op.
  static void free(const Napi::Value& value);

  // The host bytes this thread has reported to V8, net (see storage.cpp).
  static int64_t externalReportedBytes();

  ~StorageTable();

 private:
  struct Slot {
    StoragePtr storage;
    uint32_t generation = 1;
    int64_t reportedBytes = 0;  // host bytes reported to V8
  };
  Slot* find(const Napi::Value& value, bool* stale);
  static void drop(Slot& slot);                 // the storage, without the bookkeeping
  void release(napi_env env, Slot& slot);       // drop, give back V8's report, retire the id

  std::vector<Slot> slots_;
  std::vector<uint32_t> freeSlots_;
};

}  // namespace hy::binding
