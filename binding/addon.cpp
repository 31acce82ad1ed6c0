// Module entry: storages, transfers, memory statistics and synchronisation (ops are in ops.cpp).
// Every binding function checks its arguments, calls core/dispatch, and maps failures to JS
// errors. No math here.
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../cpu/peak.h"
#include "../cpu/queue.h"
#include "../cpu/streaming.h"
#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "registry.h"
#include "storage.h"

namespace hy::binding {

namespace {

Napi::Value info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CudaStatus& s = cudaStatus();
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", s.compiled);
  cuda.Set("available", s.available);
  cuda.Set("emulated", s.emulated);
  if (!s.available) cuda.Set("reason", s.reason);
  if (s.available) {
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("name", s.deviceName);
    dev.Set("computeCapability", std::to_string(s.computeMajor) + "." + std::to_string(s.computeMinor));
    dev.Set("totalMemory", static_cast<double>(s.totalMemory));
    dev.Set("multiProcessors", s.multiProcessors);
    cuda.Set("device", dev);
    cuda.Set("driverVersion", s.driverVersion);
    cuda.Set("runtimeVersion", s.runtimeVersion);
  }
  return cuda;
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  const DeviceType device = getDevice(info, 0, "alloc");
  const uint64_t bytes = getSize(info, 1, "alloc", "byte count");
  const bool pinned = info.Length() > 2 && !info[2].IsUndefined() ? getBool(info, 2, "alloc", "pinned") : false;
  if (pinned && device != DeviceType::Cpu) throwRange("alloc: only host (cpu) memory can be pinned");
  if (device == DeviceType::Cuda && !cudaAvailable()) {
    throwRuntime("alloc: CUDA is not available: " + cudaStatus().reason, "ERR_CUDA_UNAVAILABLE");
  }
  return StorageTable::add(info.Env(), allocate(device, static_cast<size_t>(bytes), pinned));
}

// free(id): the storage goes back to its allocator now (or once queued CPU work is done with it).
Napi::Value freeFn(const Napi::CallbackInfo& info) {
  StorageTable::free(arg(info, 0));
  return info.Env().Undefined();
}

Napi::Value copyFn(const Napi::CallbackInfo& info) {
  StoragePtr dst = StorageTable::fromArg(info, 0, "copy", "dst");
  StoragePtr src = StorageTable::fromArg(info, 1, "copy", "src");
  const uint64_t bytes = getSize(info, 2, "copy", "byte count");
  const bool nonBlocking = getBool(info, 3, "copy", "nonBlocking");
  if (bytes > src->bytes || bytes > dst->bytes) {
    throwRange("copy: " + std::to_string(bytes) + " bytes exceed the source (" + std::to_string(src->bytes) +
               ") or destination (" + std::to_string(dst->bytes) + ")");
  }
  copy(dst, src, static_cast<size_t>(bytes), nonBlocking);
  return info.Env().Undefined();
}

// toDevice(src, nbytes, nonBlocking): a new cuda Storage holding src's first nbytes.
Napi::Value toDeviceFn(const Napi::CallbackInfo& info) {
  StoragePtr src = StorageTable::fromArg(info, 0, "toDevice", "src");
  const uint64_t bytes = getSize(info, 1, "toDevice", "byte count");
  const bool nonBlocking = getBool(info, 2, "toDevice", "nonBlocking");
  if (bytes > src->bytes) {
    throwRange("toDevice: " + std::to_string(bytes) + " bytes exceed the source (" + std::to_string(src->bytes) + ")");
  }
  if (!cudaAvailable()) throwRuntime("toDevice: CUDA is not available: " + cudaStatus().reason, "ERR_CUDA_UNAVAILABLE");
  return StorageTable::add(info.Env(), copyToDevice(*src, static_cast<size_t>(bytes), nonBlocking));
}

// write(storage, dtype, source): Float32Array into float32/float16, Int32Array into int32,
// Uint8Array (0 or 1) into bool.
Napi::Value writeFn(const Napi::CallbackInfo& info) {
  StoragePtr dst = StorageTable::fromArg(info, 0, "write", "storage");
  const DType dtype = getDType(info, 1, "write");
  Napi::Value v = arg(info, 2);
  const napi_typedarray_type want =
      dtype == DType::Int32 ? napi_int32_array : dtype == DType::Bool ? napi_uint8_array : napi_float32_array;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != want) {
    throwType(std::string("write: ") + dtypeName(dtype) + " data must be a " +
              (dtype == DType::Int32 ? "Int32Array" : dtype == DType::Bool ? "Uint8Array" : "Float32Array") + ", got " +
              describe(v));
  }
  // The element pointer straight from the view: it works for views over a SharedArrayBuffer too
  // (batches that worker threads collated in shared memory), which have no plain ArrayBuffer.
  napi_typedarray_type type;
  size_t n = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byteOffset = 0;
  if (napi_get_typedarray_info(info.Env(), v, &type, &n, &data, &buffer, &byteOffset) != napi_ok) {
    throwType("write: could not read the typed array");
  }
  checkedBytes(n, dtype, *dst, "write");
  const void* src = data;
  if (dtype == DType::Float16) {
    std::vector<uint16_t> half(n);
    const float* f = static_cast<const float*>(src);
    for (size_t i = 0; i < n; ++i) half[i] = floatToHalfBits(f[i]);
    writeFromHost(dst, half.data(), n * 2);
  } else if (dtype == DType::Bool) {
    const uint8_t* b = static_cast<const uint8_t*>(src);
    for (size_t i = 0; i < n; ++i) {
      if (b[i] > 1) throwRange("write: bool data must hold 0 or 1, got " + std::to_string(b[i]) + " at index " + std::to_string(i));
    }
    writeFromHost(dst, src, n);
  } else {
    writeFromHost(dst, src, n * 4);
  }
  return info.Env().Undefined();
}

// Host bytes of `dtype` to the array a user reads: float16 widens to float32.
void toUserArray(const void* bytes, DType dtype, size_t n, void* out) {
  if (dtype == DType::Float16) {
    const uint16_t* h = static_cast<const uint16_t*>(bytes);
    float* f = static_cast<float*>(out);
    for (size_t i = 0; i < n; ++i) f[i] = halfBitsToFloat(h[i]);
  } else {
    std::memcpy(out, bytes, n * dtypeSize(dtype));
  }
}

Napi::TypedArray newUserArray(Napi::Env env, DType dtype, size_t n, void** data) {
  const size_t width = dtype == DType::Bool ? 1 : 4;  // float16 widens to float32
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, n * width);
  *data = buf.Data();
  if (dtype == DType::Int32) return Napi::Int32Array::New(env, n, buf, 0);
  if (dtype == DType::Bool) return Napi::Uint8Array::New(env, n, buf, 0);
  return Napi::Float32Array::New(env, n, buf, 0);
}

Napi::Value readFn(const Napi::CallbackInfo& info) {
  StoragePtr src = StorageTable::fromArg(info, 0, "read", "storage");
  const DType dtype = getDType(info, 1, "read");
  const uint64_t n = getSize(info, 2, "read", "element count");
  const size_t bytes = checkedBytes(n, dtype, *src, "read");
  void* out = nullptr;
  Napi::TypedArray result = newUserArray(info.Env(), dtype, static_cast<size_t>(n), &out);
  if (dtype == DType::Float16) {
    std::vector<uint16_t> half(static_cast<size_t>(n));
    readToHost(*src, half.data(), bytes);
    toUserArray(half.data(), dtype, static_cast<size_t>(n), out);
  } else {
    readToHost(*src, out, bytes);
  }
  return result;
}

// Waits for a device-to-host copy (or reads host memory) on a libuv worker thread, so the event
// loop keeps running while the bytes arrive.
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, PendingRead read, DType dtype, size_t n, Napi::TypedArray result, void* out)
      : Napi::AsyncWorker(env, "hayate.read"), deferred_(Napi::Promise::Deferred::New(env)), read_(std::move(read)),
        dtype_(dtype), n_(n), out_(out), result_(Napi::Persistent(result.As<Napi::Object>())) {}
  ~ReadWorker() override { finishRead(read_); }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      toUserArray(waitRead(read_), dtype_, n_, out_);
    } catch (...) {
      error_ = std::current_exception();
    }
    try {
      finishRead(read_);
    } catch (...) {
      if (!error_) error_ = std::current_exception();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_) {
      deferred_.Reject(toJsError(env, error_).Value());
    } else {
      deferred_.Resolve(result_.Value());
    }
    result_.Reset();
  }

 private:
  Napi::Promise::Deferred deferred_;
  PendingRead read_;
  DType dtype_;
  size_t n_;
  void* out_ = nullptr;
  Napi::ObjectReference result_;
  std::exception_ptr error_;
};

Napi::Value readAsyncFn(const Napi::CallbackInfo& info) {
  StoragePtr src = StorageTable::fromArg(info, 0, "readAsync", "storage");
  const DType dtype = getDType(info, 1, "readAsync");
  const uint64_t n = getSize(info, 2, "readAsync", "element count");
  const size_t bytes = checkedBytes(n, dtype, *src, "readAsync");
  void* out = nullptr;
  Napi::TypedArray result = newUserArray(info.Env(), dtype, static_cast<size_t>(n), &out);
  PendingRead read = beginRead(src, bytes);
  ReadWorker* worker = nullptr;
  try {
    worker = new ReadWorker(info.Env(), std::move(read), dtype, static_cast<size_t>(n), result, out);
  } catch (...) {
    finishRead(read);
    throw;
  }
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

CachingAllocator& allocatorArg(const Napi::CallbackInfo& info, const char* op) {
  Napi::Value v = arg(info, 0);
  if (!v.IsString()) throwType(std::string(op) + ": device must be 'cpu', 'cuda' or 'pinned', got " + describe(v));
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "cpu") return allocatorFor(DeviceType::Cpu, false);
  if (s == "cuda") {
    if (!cudaAvailable()) throwRuntime(std::string(op) + ": CUDA is not available: " + cudaStatus().reason, "ERR_CUDA_UNAVAILABLE");
    return allocatorFor(DeviceType::Cuda, false);
  }
  if (s == "pinned") {
    if (!cudaAvailable()) throwRange(std::string(op) + ": pinned memory needs CUDA, which is not available");
    return allocatorFor(DeviceType::Cpu, true);
  }
  throwRange(std::string(op) + ": device must be 'cpu', 'cuda' or 'pinned', got " + describe(v));
}

Napi::Value externalReportedFn(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(StorageTable::externalReportedBytes()));
}

Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  CachingAllocator& a = allocatorArg(info, "memory.stats");
  // Queued CPU ops hold their storages until they have run: figures are those of a drained queue.
  if (&a == &allocatorFor(DeviceType::Cpu, false)) cpu::queue().waitIdle();
  return statsToJs(info.Env(), a.stats());
}

Napi::Value emptyCacheFn(const Napi::CallbackInfo& info) {
  allocatorArg(info, "memory.emptyCache").emptyCache();
  return info.Env().Undefined();
}

Napi::Value resetPeaksFn(const Napi::CallbackInfo& info) {
  allocatorArg(info, "memory.resetPeakStats").resetPeaks();
  return info.Env().Undefined();
}

Napi::Value setLimitFn(const Napi::CallbackInfo& info) {
  CachingAllocator& a = allocatorArg(info, "memory.setLimit");
  a.setLimit(getSize(info, 1, "memory.setLimit", "limit in bytes"));
  return info.Env().Undefined();
}

Napi::Value synchronizeFn(const Napi::CallbackInfo& info) {
  synchronize();
  return info.Env().Undefined();
}

uint32_t eventId(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const uint64_t id = getSize(info, i, op, "event id");
  if (id > 0xffffffffull) throwRange(std::string(op) + ": event id must be an id this addon returned, got " + describe(arg(info, i)));
  return static_cast<uint32_t>(id);
}

Napi::Value eventRecordFn(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), timingEventRecord());
}

Napi::Value eventSynchronizeFn(const Napi::CallbackInfo& info) {
  timingEventSynchronize(eventId(info, 0, "cuda.Event.synchronize"));
  return info.Env().Undefined();
}

Napi::Value eventElapsedFn(const Napi::CallbackInfo& info) {
  const char* op = "cuda.Event.elapsedTime";
  return Napi::Number::New(info.Env(), timingEventElapsed(eventId(info, 0, op), eventId(info, 1, op)));
}

Napi::Value eventDestroyFn(const Napi::CallbackInfo& info) {
  timingEventDestroy(eventId(info, 0, "cuda.Event.destroy"));
  return info.Env().Undefined();
}

uint32_t graphId(const Napi::CallbackInfo& info, const char* op) {
  const uint64_t id = getSize(info, 0, op, "graph id");
  if (id == 0 || id > 0xffffffffull) throwRange(std::string(op) + ": graph id must be an id this addon returned, got " + describe(arg(info, 0)));
  return static_cast<uint32_t>(id);
}

Napi::Value graphBeginFn(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), graphBeginCapture()); }

Napi::Value graphEndFn(const Napi::CallbackInfo& info) {
  graphEndCapture(graphId(info, "cuda.CUDAGraph.capture"));
  return info.Env().Undefined();
}

Napi::Value graphReplayFn(const Napi::CallbackInfo& info) {
  graphReplay(graphId(info, "cuda.CUDAGraph.replay"));
  return info.Env().Undefined();
}

Napi::Value graphDestroyFn(const Napi::CallbackInfo& info) {
  graphDestroy(graphId(info, "cuda.CUDAGraph.dispose"));
  return info.Env().Undefined();
}

Napi::Value graphCapturingFn(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), graphCapturing()); }

// cpuStreamThreshold(bytes?): the footprint from which the CPU's memory-bound ops stream their
// outputs (cpu/streaming.h), after setting it when given (0: the last-level cache's size). Changed
// after the queued work, which keeps the threshold it was enqueued under.
Napi::Value cpuStreamThresholdFn(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    const uint64_t bytes = getSize(info, 0, "cpuStreamThreshold", "bytes");
    cpuSynchronize();
    cpu::setStreamThreshold(static_cast<size_t>(bytes));
  }
  return Napi::Number::New(info.Env(), static_cast<double>(cpu::streamThreshold()));
}

// cpuPeakGflops(): the measured fp32 FMA peak of the CPU pool's threads together (cpu/peak.h),
// run on the CPU queue's thread after the work before it, so nothing else competes.
Napi::Value cpuPeakGflopsFn(const Napi::CallbackInfo& info) {
  cpuSynchronize();
  cpu::PeakResult r{};
  cpu::queue().enqueue([&r] { r = cpu::measurePeak(); });
  cpuSynchronize();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("gflops", r.gflops);
  o.Set("threads", static_cast<double>(r.threads));
  o.Set("isa", r.isa);
  return o;
}

Napi::Value cpuSynchronizeFn(const Napi::CallbackInfo& info) {
  cpuSynchronize();
  return info.Env().Undefined();
}

// Waits for the CPU queue on a libuv worker thread, so the event loop keeps running meanwhile.
class CpuSyncWorker : public Napi::AsyncWorker {
 public:
  explicit CpuSyncWorker(Napi::Env env)
      : Napi::AsyncWorker(env, "hayate.cpuSynchronize"), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      cpuSynchronize();
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  void OnOK() override {
    if (error_) {
      deferred_.Reject(toJsError(Env(), error_).Value());
    } else {
      deferred_.Resolve(Env().Undefined());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::exception_ptr error_;
};

Napi::Value cpuSynchronizeAsyncFn(const Napi::CallbackInfo& info) {
  auto* worker = new CpuSyncWorker(info.Env());
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value setErrorClassesFn(const Napi::CallbackInfo& info) {
  setErrorClasses(info);
  return info.Env().Undefined();
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  exports.Set("info", Napi::Function::New<wrap<info>>(env, "info"));
  exports.Set("alloc", Napi::Function::New<wrap<alloc>>(env, "alloc"));
  exports.Set("free", Napi::Function::New<wrap<freeFn>>(env, "free"));
  exports.Set("copy", Napi::Function::New<wrap<copyFn>>(env, "copy"));
  exports.Set("write", Napi::Function::New<wrap<writeFn>>(env, "write"));
  exports.Set("toDevice", Napi::Function::New<wrap<toDeviceFn>>(env, "toDevice"));
  exports.Set("read", Napi::Function::New<wrap<readFn>>(env, "read"));
  exports.Set("readAsync", Napi::Function::New<wrap<readAsyncFn>>(env, "readAsync"));
  exports.Set("memoryStats", Napi::Function::New<wrap<memoryStats>>(env, "memoryStats"));
  exports.Set("externalReportedBytes", Napi::Function::New<wrap<externalReportedFn>>(env, "externalReportedBytes"));
  exports.Set("emptyCache", Napi::Function::New<wrap<emptyCacheFn>>(env, "emptyCache"));
  exports.Set("resetPeakStats", Napi::Function::New<wrap<resetPeaksFn>>(env, "resetPeakStats"));
  exports.Set("setMemoryLimit", Napi::Function::New<wrap<setLimitFn>>(env, "setMemoryLimit"));
  exports.Set("synchronize", Napi::Function::New<wrap<synchronizeFn>>(env, "synchronize"));
  exports.Set("eventRecord", Napi::Function::New<wrap<eventRecordFn>>(env, "eventRecord"));
  exports.Set("eventSynchronize", Napi::Function::New<wrap<eventSynchronizeFn>>(env, "eventSynchronize"));
  exports.Set("eventElapsed", Napi::Function::New<wrap<eventElapsedFn>>(env, "eventElapsed"));
  exports.Set("eventDestroy", Napi::Function::New<wrap<eventDestroyFn>>(env, "eventDestroy"));
  exports.Set("graphBegin", Napi::Function::New<wrap<graphBeginFn>>(env, "graphBegin"));
  exports.Set("graphEnd", Napi::Function::New<wrap<graphEndFn>>(env, "graphEnd"));
  exports.Set("graphReplay", Napi::Function::New<wrap<graphReplayFn>>(env, "graphReplay"));
  exports.Set("graphDestroy", Napi::Function::New<wrap<graphDestroyFn>>(env, "graphDestroy"));
  exports.Set("graphCapturing", Napi::Function::New<wrap<graphCapturingFn>>(env, "graphCapturing"));
  exports.Set("cpuSynchronize", Napi::Function::New<wrap<cpuSynchronizeFn>>(env, "cpuSynchronize"));
  exports.Set("cpuPeakGflops", Napi::Function::New<wrap<cpuPeakGflopsFn>>(env, "cpuPeakGflops"));
  exports.Set("cpuStreamThreshold", Napi::Function::New<wrap<cpuStreamThresholdFn>>(env, "cpuStreamThreshold"));
  exports.Set("cpuSynchronizeAsync", Napi::Function::New<wrap<cpuSynchronizeAsyncFn>>(env, "cpuSynchronizeAsync"));
  exports.Set("setErrorClasses", Napi::Function::New<wrap<setErrorClassesFn>>(env, "setErrorClasses"));
  registerAll(env, exports);
  return exports;
}

}  // namespace hy::binding

static Napi::Object initHayate(Napi::Env env, Napi::Object exports) { return hy::binding::init(env, exports); }

NODE_API_MODULE(hayate, initHayate)
