// The CUDA context of device 0: probe, streams, allocators and events.
#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "check.cuh"
#include "runtime.h"

namespace hy::cuda {

namespace {

struct EventRaw : RawMemory {
  EventId recordEvent(StreamId stream) override {
    cudaEvent_t e;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    check(cudaEventRecord(e, asStream(stream)), "cudaEventRecord");
    return reinterpret_cast<EventId>(e);
  }
  bool eventDone(EventId e) override {
    const cudaError_t err = cudaEventQuery(reinterpret_cast<cudaEvent_t>(e));
    if (err == cudaErrorNotReady) return false;
    if (err != cudaSuccess) cudaGetLastError();  // a failed stream never finishes its work: treat as done
    return true;
  }
  void destroyEvent(EventId e) override { cudaEventDestroy(reinterpret_cast<cudaEvent_t>(e)); }
  void synchronizeEvent(EventId e) override { cudaEventSynchronize(reinterpret_cast<cudaEvent_t>(e)); }
  void synchronizeStream(StreamId s) noexcept override {
    if (cudaStreamSynchronize(asStream(s)) != cudaSuccess) cudaGetLastError();  // a fault is reported elsewhere
  }
};

struct DeviceRaw : EventRaw {
  void* allocate(size_t bytes) override {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void release(void* p) override { cudaFree(p); }
};

struct PinnedRaw : EventRaw {
  void* allocate(size_t bytes) override {
    void* p = nullptr;
    if (cudaHostAlloc(&p, bytes, cudaHostAllocPortable) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void release(void* p) override { cudaFreeHost(p); }
};

struct Context {
  cudaStream_t compute = nullptr;
  cudaStream_t copy = nullptr;
  DeviceRaw deviceRaw;
  PinnedRaw pinnedRaw;
  CachingAllocator device{"cuda", &deviceRaw};
  CachingAllocator pinned{"pinned", &pinnedRaw};
};

// Created on first use and never destroyed: at process exit the driver may already be gone.
Context& context() {
  static Context* ctx = [] {
    check(cudaSetDevice(0), "cudaSetDevice");
    auto* c = new Context();
    check(cudaStreamCreateWithFlags(&c->compute, cudaStreamNonBlocking), "cudaStreamCreate(compute)");
    check(cudaStreamCreateWithFlags(&c->copy, cudaStreamNonBlocking), "cudaStreamCreate(copy)");
    return c;
  }();
  return *ctx;
}

cudaMemcpyKind toKind(CopyKind k) {
  switch (k) {
    case CopyKind::HostToDevice: return cudaMemcpyHostToDevice;
    case CopyKind::DeviceToHost: return cudaMemcpyDeviceToHost;
    case CopyKind::DeviceToDevice: return cudaMemcpyDeviceToDevice;
  }
  return cudaMemcpyDefault;
}

}  // namespace

void probe(CudaStatus& status) {
  status.compiled = true;
#if defined(HY_CUDA_EMULATOR)
  status.emulated = true;
#endif
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    status.available = false;
    status.reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return;
  }
  if (count == 0) {
    status.available = false;
    status.reason = "no CUDA device found";
    return;
  }
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, 0);
  if (err != cudaSuccess) {
    cudaGetLastError();
    status.available = false;
    status.reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return;
  }
  status.available = true;
  status.deviceName = prop.name;
  status.computeMajor = prop.major;
  status.computeMinor = prop.minor;
  status.totalMemory = prop.totalGlobalMem;
  status.multiProcessors = prop.multiProcessorCount;
  cudaDriverGetVersion(&status.driverVersion);
  cudaRuntimeGetVersion(&status.runtimeVersion);
}

CachingAllocator& deviceAllocator() { return context().device; }
CachingAllocator& pinnedAllocator() { return context().pinned; }
StreamId computeStream() { return reinterpret_cast<StreamId>(context().compute); }
StreamId copyStream() { return reinterpret_cast<StreamId>(context().copy); }

void memcpyAsync(void* dst, const void* src, size_t bytes, CopyKind kind, StreamId stream) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, toKind(kind), asStream(stream)), "cudaMemcpyAsync");
}

EventId recordEvent(StreamId stream) { return context().deviceRaw.recordEvent(stream); }

void streamWaitEvent(StreamId stream, EventId event) {
  check(cudaStreamWaitEvent(asStream(stream), reinterpret_cast<cudaEvent_t>(event), 0), "cudaStreamWaitEvent");
}

void streamWaitStream(StreamId waiter, StreamId producer) {
  const EventId e = recordEvent(producer);
  try {
    streamWaitEvent(waiter, e);
  } catch (...) {
    destroyEvent(e);
    throw;
  }
  destroyEvent(e);  // safe: destruction is deferred until the event completes
}

void eventSynchronize(EventId event) {
  check(cudaEventSynchronize(reinterpret_cast<cudaEvent_t>(event)), "cudaEventSynchronize");
}

void destroyEvent(EventId event) { cudaEventDestroy(reinterpret_cast<cudaEvent_t>(event)); }

EventId recordTimingEvent(StreamId stream) {
  cudaEvent_t e;
  check(cudaEventCreate(&e), "cudaEventCreate");
  const cudaError_t err = cudaEventRecord(e, asStream(stream));
  if (err != cudaSuccess) {
    cudaEventDestroy(e);
    check(err, "cudaEventRecord");
  }
  return reinterpret_cast<EventId>(e);
}

double elapsedMs(EventId start, EventId end) {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, reinterpret_cast<cudaEvent_t>(start), reinterpret_cast<cudaEvent_t>(end)),
        "cudaEventElapsedTime");
  return ms;
}

void streamSynchronize(StreamId stream) { check(cudaStreamSynchronize(asStream(stream)), "cudaStreamSynchronize"); }

void deviceSynchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void beginCapture(uint64_t pool) {
  Context& c = context();
  c.device.beginPool(pool, reinterpret_cast<StreamId>(c.compute));
  const cudaError_t err = cudaStreamBeginCapture(c.compute, cudaStreamCaptureModeRelaxed);
  if (err != cudaSuccess) {
    c.device.endPool();
    throwCuda(err, "cudaStreamBeginCapture");
  }
}

GraphId endCapture() {
  Context& c = context();
  cudaGraph_t graph = nullptr;
  const cudaError_t err = cudaStreamEndCapture(c.compute, &graph);
  c.device.endPool();
  if (err != cudaSuccess) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    throwCuda(err, "cudaStreamEndCapture");
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t ierr = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  check(ierr, "cudaGraphInstantiate");
  return reinterpret_cast<GraphId>(exec);
}

void launchGraph(GraphId graph) {
  check(cudaGraphLaunch(reinterpret_cast<cudaGraphExec_t>(graph), context().compute), "cudaGraphLaunch");
}

void destroyGraph(GraphId graph) { cudaGraphExecDestroy(reinterpret_cast<cudaGraphExec_t>(graph)); }

}  // namespace hy::cuda
