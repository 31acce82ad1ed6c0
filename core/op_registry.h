// The op registry: every op is declared once (ops/<family>.h: a name, an argument struct that lists
// its fields and checks its storages' extents) and its implementations register themselves per
// backend from cpu/ and cuda/ with HY_REGISTER_OP. One generic dispatcher reads the arguments,
// checks them, picks the backend from the storages' common device, picks an implementation (by
// name, or the first that applies) and enqueues it: on the CUDA compute stream, or on the CPU queue
// (cpu/queue.h), so the caller returns at once on either device. The pattern of PyTorch's
// DispatchStub / REGISTER_DISPATCH, with several named implementations per backend for the
// autotuner to choose among. No N-API here: the binding supplies arguments through `Fields`.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "caching_allocator.h"  // StreamId
#include "dtype.h"
#include "enums.h"
#include "error.h"  // formatNumber, for the ops' messages
#include "storage.h"

namespace hy::ops {

constexpr int kMaxDims = 8;
struct Dims {
  int n = 0;
  int64_t v[kMaxDims] = {};
};

// Bit masks of the dtypes a dtype field accepts.
constexpr uint32_t kFloatTypes = (1u << static_cast<int>(DType::Float32)) | (1u << static_cast<int>(DType::Float16));
constexpr uint32_t kNumericTypes = kFloatTypes | (1u << static_cast<int>(DType::Int32));
constexpr uint32_t kAllTypes = kNumericTypes | (1u << static_cast<int>(DType::Bool));  // bool: one byte, 0 or 1

// One visitor over an argument struct's fields, by name. The binding's reader fills them from a JS
// object; the describer lists them for `native.ops()`; the collector finds the storages.
class Fields {
 public:
  virtual ~Fields() = default;
  virtual void storage(const char* name, StoragePtr& v) = 0;
  virtual void optionalStorage(const char* name, StoragePtr& v) = 0;  // null when absent
  virtual void dtype(const char* name, DType& v, uint32_t allowed) = 0;
  virtual void size(const char* name, uint64_t& v) = 0;    // an integer in [0, 2^53)
  virtual void number(const char* name, double& v, bool allowNaN) = 0;  // NaN only where allowed
  virtual void boolean(const char* name, bool& v) = 0;
  virtual void enumeration(const char* name, int32_t& v, const EnumNames& names) = 0;
  virtual void dims(const char* name, Dims& v) = 0;        // at most kMaxDims sizes in [0, 2^32]
  // An array of storages (multi-tensor ops: one per tensor of the list), and an array of sizes.
  virtual void storageList(const char* name, std::vector<StoragePtr>& v) = 0;
  virtual void sizeList(const char* name, std::vector<uint64_t>& v) = 0;  // each in [0, 2^53)

  void floatDtype(const char* name, DType& v) { dtype(name, v, kFloatTypes); }
  void number(const char* name, double& v) { number(name, v, false); }
  template <typename E>
  void choice(const char* name, E& v) {
    int32_t code = static_cast<int32_t>(v);
    enumeration(name, code, enumNames<E>());
    v = static_cast<E>(code);
  }
};

// Memory-safety checks of one op's arguments, with one message style:
// "<op>: <argument> must be <expected>, got <value>".
class Check {
 public:
  explicit Check(const char* op) : op_(op) {}
  const char* op() const { return op_; }
  [[noreturn]] void fail(const std::string& argument, const std::string& expected, const std::string& got) const;
  // `s` must hold n elements of dtype.
  void holds(const char* name, const StoragePtr& s, uint64_t n, DType dtype) const;
  void holdsBytes(const char* name, const StoragePtr& s, uint64_t bytes) const;
  // The product of `factors`, or a RangeError when it exceeds 2^52 elements (never wraps).
  uint64_t product(std::initializer_list<uint64_t> factors, const char* what) const;
  // An integer field that kernels count in int: at most 2^31 - 1.
  void fitsInt(const char* name, uint64_t v) const;

 private:
  const char* op_;
};

template <typename Args>
using ImplFn = void (*)(const Args&, StreamId);
template <typename Args>
using AppliesFn = bool (*)(const Args&);

template <typename Args>
using WorkspaceFn = uint64_t (*)(const Args&);

// What the autotuner needs to know of an implementation besides whether it applies: the scratch
// bytes it needs for given arguments (the dispatcher allocates them before launching, so a too-large
// workspace is an OutOfMemoryError at the call, never a failure inside the kernel) and whether two
// runs give bit-identical results (false for atomics-based reductions).
template <typename Args>
struct ImplTraits {
  WorkspaceFn<Args> workspace = nullptr;  // null: none
  bool deterministic = true;
};

template <typename Args>
struct Impl {
  const char* name;
  ImplFn<Args> run;
  AppliesFn<Args> applies;  // null: always
  ImplTraits<Args> traits;
};

// One implementation as the autotuner sees it for one call's arguments.
struct Candidate {
  std::string name;
  bool applies;
  uint64_t workspaceBytes;
  bool deterministic;
};

// The workspace slot: an op whose implementations need scratch declares `StoragePtr workspace;`
// (not a field), which the dispatcher fills before the implementation runs.
template <typename Args, typename = void>
struct HasWorkspace : std::false_type {};
template <typename Args>
struct HasWorkspace<Args, std::void_t<decltype(std::declval<Args&>().workspace)>> : std::true_type {};

struct FieldInfo {
  std::string name;
  std::string kind;  // storage, optionalStorage, dtype, size, number, bool, enum, dims, storageList, sizeList
  std::vector<std::string> values;  // dtype and enum fields: the accepted names
};

struct OpInfo {
  std::string name;
  std::vector<FieldInfo> fields;
  std::vector<std::string> impls[2];  // by DeviceType, in preference order
  void (*run)(Fields& source, const std::string& impl);
  // Every implementation on the arguments' device, in preference order, for these arguments.
  std::vector<Candidate> (*candidates)(Fields& source);
};

// Every registered op, in registration order.
const std::vector<OpInfo>& allOps();
const OpInfo* findOp(const std::string& name);

namespace detail {

template <typename Args>
std::vector<Impl<Args>>& implsOf(DeviceType device) {
  static std::vector<Impl<Args>> lists[2];
  return lists[static_cast<int>(device)];
}

std::vector<FieldInfo> describeFields(void (*visit)(Fields&));
OpInfo& addOp(const char* name, void (*run)(Fields&, const std::string&),
             std::vector<Candidate> (*candidates)(Fields&), std::vector<FieldInfo> fields);
// Allocates an implementation's workspace on `device` (an OutOfMemoryError when it does not fit).
StoragePtr allocateWorkspace(DeviceType device, uint64_t bytes);
// The one device every storage in `storages` is on, or a RangeError naming the op and both fields.
// The one device every storage of the argument struct is on, or a RangeError naming the op and
// both fields. `visit` walks the struct's fields.
DeviceType commonDevice(const char* op, void (*visit)(void* args, Fields&), void* args);
// The same, also summing the bytes of every storage the struct names into *bytes.
DeviceType commonDevice(const char* op, void (*visit)(void* args, Fields&), void* args, uint64_t* bytes);
// CPU ops whose storages total at most this many bytes run on the calling thread when the CPU
// queue is idle: queueing a 64-element add cost a thread hand-off several times the kernel, and
// with nothing queued, running it now keeps the queue's order.
constexpr uint64_t kInlineCpuBytes = 64 * 1024;
// True when every CPU task enqueued so far has run.
bool cpuQueueIdle();
// Records an error an inline CPU op raised as the CPU queue's pending error (it surfaces at the
// next read or synchronize, exactly as a queued op's).
void recordCpuError(std::exception_ptr e);
// Waits for any pending device-to-host copy into the struct's host storages (on the CPU queue).
void waitForHost(void (*visit)(void* args, Fields&), void* args);
[[noreturn]] void unknownImpl(const char* op, DeviceType device, const std::string& impl,
                              const std::vector<std::string>& names);
[[noreturn]] void implDoesNotApply(const char* op, const std::string& impl);
[[noreturn]] void noImplementation(const char* op, DeviceType device);
// The CUDA compute stream, or the error that CUDA is absent.
StreamId cudaStream();
// Enqueues a task on the CPU queue (cpu/queue.h).
void enqueueCpu(std::function<void()> task);

template <typename Args>
void visitArgs(void* args, Fields& f) {
  static_cast<Args*>(args)->fields(f);
}

template <typename Args>
void describeArgs(Fields& f) {
  Args a;
  a.fields(f);
}

template <typename Args>
void runOp(Fields& source, const std::string& implName) {
  Args a;
  a.fields(source);
  const bool hasWork = a.check(Check(Args::kName));
  uint64_t touched = 0;
  const DeviceType device = commonDevice(Args::kName, &visitArgs<Args>, &a, &touched);
  const std::vector<Impl<Args>>& impls = implsOf<Args>(device);
  const Impl<Args>* chosen = nullptr;
  if (!implName.empty()) {
    for (const Impl<Args>& i : impls) {
      if (implName == i.name) chosen = &i;
    }
    if (chosen == nullptr) {
      std::vector<std::string> names;
      for (const Impl<Args>& i : impls) names.emplace_back(i.name);
      unknownImpl(Args::kName, device, implName, names);
    }
    if (chosen->applies != nullptr && !chosen->applies(a)) implDoesNotApply(Args::kName, implName);
  } else {
    for (const Impl<Args>& i : impls) {
      if (i.applies == nullptr || i.applies(a)) {
        chosen = &i;
        break;
      }
    }
    if (chosen == nullptr) noImplementation(Args::kName, device);
  }
  if (!hasWork) return;
  const ImplFn<Args> fn = chosen->run;
  if constexpr (HasWorkspace<Args>::value) {
    const uint64_t bytes = chosen->traits.workspace != nullptr ? chosen->traits.workspace(a) : 0;
    if (bytes > 0) a.workspace = allocateWorkspace(device, bytes);
  }
  if (device == DeviceType::Cuda) {
    fn(a, cudaStream());
    return;
  }
  if (touched <= kInlineCpuBytes && cpuQueueIdle()) {
    try {
      waitForHost(&visitArgs<Args>, &a);
      fn(a, 0);
    } catch (...) {
      recordCpuError(std::current_exception());
    }
    return;
  }
  // The task owns the argument struct, and so every storage, until it has run.
  enqueueCpu([a = std::move(a), fn]() mutable {
    waitForHost(&visitArgs<Args>, &a);
    fn(a, 0);
  });
}

template <typename Args>
std::vector<Candidate> candidatesOf(Fields& source) {
  Args a;
  a.fields(source);
  a.check(Check(Args::kName));
  const DeviceType device = commonDevice(Args::kName, &visitArgs<Args>, &a);
  std::vector<Candidate> out;
  for (const Impl<Args>& i : implsOf<Args>(device)) {
    const bool applies = i.applies == nullptr || i.applies(a);
    const uint64_t ws = applies && i.traits.workspace != nullptr ? i.traits.workspace(a) : 0;
    out.push_back({i.name, applies, ws, i.traits.deterministic});
  }
  return out;
}

template <typename Args>
bool registerImpl(DeviceType device, const char* name, ImplFn<Args> fn, AppliesFn<Args> applies = nullptr,
                  ImplTraits<Args> traits = {}) {
  implsOf<Args>(device).push_back({name, fn, applies, traits});
  OpInfo& op = addOp(Args::kName, &runOp<Args>, &candidatesOf<Args>, describeFields(&describeArgs<Args>));
  op.impls[static_cast<int>(device)].emplace_back(name);
  return true;
}

}  // namespace detail

}  // namespace hy::ops

#define HY_OPS_CONCAT2(a, b) a##b
#define HY_OPS_CONCAT(a, b) HY_OPS_CONCAT2(a, b)

// HY_REGISTER_OP(Args, Cpu|Cuda, "name", fn[, applies[, ImplTraits<Args>{workspace, deterministic}]]):
// fn is void(const Args&, StreamId); the optional applies is bool(const Args&) (nullptr: always). Implementations of one backend are tried in the order
// they register (within a file, top to bottom).
#define HY_REGISTER_OP(Args, backend, name, ...)                                                    \
  static const bool HY_OPS_CONCAT(hyRegistered_, __LINE__) = ::hy::ops::detail::registerImpl<Args>( \
      ::hy::DeviceType::backend, name, __VA_ARGS__)
