#include "storage.h"

#include <algorithm>
#include <cmath>

#include "../core/error.h"
#include "addon_data.h"
#include "args.h"

namespace hy::binding {

namespace {

// Ids are generation * 2^26 + index: 67M live storages at most, and a slot's id repeats only after
// 2^26 - 1 reuses of that slot. Generations start at 1, so no id is below 2^26: the small numbers
// a caller passes by mistake are never ids.
constexpr double kIndexSpan = 67108864.0;  // 2^26
constexpr uint32_t kMaxGeneration = (1u << 26) - 1;

// Host blocks smaller than this are not reported to V8 as external memory (see add).
constexpr size_t kReportedMinBytes = 4096;

// V8 is told of host memory so that it collects dropped tensors under memory pressure, but it
// counts every positive report toward its next collection: an alloc/dispose pair per op of 16 MiB
// cost a mark-compact every few ops. So a disposed storage's bytes stay reported, as a credit (up
// to kExternalCredit) that the next allocations use before reporting more: a loop that disposes
// reports nothing after its first op, and one that leaks reports every allocation, as before.
// Per thread, as each isolate (the main one, each worker's) and its finalizers run on their own.
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

StorageTable& table(napi_env env) { return addonData(Napi::Env(env)).storages; }

}  // namespace

int64_t StorageTable::externalReportedBytes() { return externalReported; }

Napi::Value StorageTable::add(Napi::Env env, StoragePtr allocation) {
  StorageTable& t = table(env);
  uint32_t index;
  if (!t.freeSlots_.empty()) {
    index = t.freeSlots_.back();
    t.freeSlots_.pop_back();
  } else {
    if (t.slots_.size() >= static_cast<size_t>(kIndexSpan)) throwRange("alloc: more than 2^26 live storages");
    index = static_cast<uint32_t>(t.slots_.size());
    t.slots_.emplace_back();
  }
  Slot& slot = t.slots_[index];
  slot.storage = std::move(allocation);
  // Host memory is reported to V8 (less the credit above) so that the finalizers of dropped
  // tensors run under memory pressure; below a few KiB the handles themselves weigh as much, and
  // reporting every small block made V8 collect far more often than the memory warrants.
  if (slot.storage && slot.storage->device == DeviceType::Cpu && slot.storage->bytes >= kReportedMinBytes) {
    slot.reportedBytes = static_cast<int64_t>(slot.storage->bytes);
    reportAllocated(env, slot.reportedBytes);
  }
  return Napi::Number::New(env, slot.generation * kIndexSpan + index);
}

// The slot `value` names, live or not (*stale then says which), or null for a value that was
// never an id (not a number, not an integer, or out of range).
StorageTable::Slot* StorageTable::find(const Napi::Value& value, bool* stale) {
  if (!value.IsNumber()) return nullptr;
  const double id = value.As<Napi::Number>().DoubleValue();
  if (!(id >= kIndexSpan) || id != std::floor(id) || id >= kIndexSpan * (kMaxGeneration + 1.0)) return nullptr;
  const double generation = std::floor(id / kIndexSpan);
  const size_t index = static_cast<size_t>(id - generation * kIndexSpan);
  if (index >= slots_.size()) return nullptr;
  Slot& slot = slots_[index];
  const auto g = static_cast<uint32_t>(generation);
  // A generation past the slot's own was never handed out.
  if (g > slot.generation) return nullptr;
  *stale = g != slot.generation || !slot.storage;
  return &slot;
}

// Queued CPU tasks may still hold the storage: its host block is reusable now (core/storage.h).
void StorageTable::drop(Slot& slot) {
  if (slot.storage && slot.storage.use_count() > 1) slot.storage->releaseInQueueOrder();
  slot.storage.reset();
}

void StorageTable::release(napi_env env, Slot& slot) {
  drop(slot);
  if (slot.reportedBytes != 0) {
    reportFreed(env, slot.reportedBytes);
    slot.reportedBytes = 0;
  }
  slot.generation = slot.generation == kMaxGeneration ? 1 : slot.generation + 1;
}

StoragePtr StorageTable::fromValue(const Napi::Value& v, const char* op, const char* name) {
  // Built only on failure: this runs for every storage of every op call.
  const auto where = [&] { return std::string(op) + ": " + name; };
  bool stale = false;
  Slot* slot = table(v.Env()).find(v, &stale);
  if (slot == nullptr) throwType(where() + " must be a Storage, got " + describe(v));
  if (stale) throwRuntime(where() + ": the tensor's storage was disposed", "ERR_TENSOR_DISPOSED");
  return slot->storage;
}

StoragePtr StorageTable::fromArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  return fromValue(arg(info, i), op, name);
}

void StorageTable::free(const Napi::Value& v) {
  bool stale = false;
  StorageTable& t = table(v.Env());
  Slot* slot = t.find(v, &stale);
  if (slot == nullptr) throwType("free: storage must be a Storage, got " + describe(v));
  if (stale) return;
  t.release(v.Env(), *slot);
  t.freeSlots_.push_back(static_cast<uint32_t>(slot - t.slots_.data()));
}

// The environment is going away (its thread exits, or the process does): what JS never disposed
// is freed here, without telling V8, which no longer counts.
StorageTable::~StorageTable() {
  for (Slot& slot : slots_) drop(slot);
}

}  // namespace hy::binding
