// The CUDA runtime subset that cuda/ uses, on the emulated device: device and pinned memory
// (exactly-sized host allocations, so AddressSanitizer sees one byte past a tensor), copies and
// memsets, streams that each run their work in order on their own host thread, events, stream
// waits, host functions, stream capture into graphs and their replay, device properties of an H100
// (sm_90), error names and strings, and the sticky error that a faulted kernel leaves behind.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "internal.h"

#undef warpSize  // a device built-in; here cudaDeviceProp has a field of that name

// A stream capture in progress (cudaStreamBeginCapture): the work recorded so far, and the first
// call that broke it (the capture then ends with cudaErrorStreamCaptureInvalidated).
struct StreamCapture {
  std::vector<std::function<void()>> tasks;
  cudaError_t broken = cudaSuccess;
};

struct CUgraph_st {
  std::vector<std::function<void()>> tasks;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> tasks;
};

struct CUstream_st {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;
  uint64_t pushed = 0, done = 0;
  unsigned flags;
  std::unique_ptr<StreamCapture> capture;  // set while the stream is capturing
  std::thread worker;

  explicit CUstream_st(unsigned f = cudaStreamDefault) : flags(f), worker([this] { loop(); }) {}

  // Queues the task, or records it when the stream is capturing (ticket 0: nothing to wait for).
  uint64_t push(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(m);
    if (capture) {
      capture->tasks.push_back(std::move(task));
      return 0;
    }
    queue.push_back(std::move(task));
    cv.notify_all();
    return ++pushed;
  }
  void waitFor(uint64_t ticket) {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done >= ticket; });
  }
  void drain() {
    uint64_t ticket;
    {
      std::lock_guard<std::mutex> lock(m);
      ticket = pushed;
    }
    waitFor(ticket);
  }
  bool idle() {
    std::lock_guard<std::mutex> lock(m);
    return done == pushed;
  }
  bool capturing() {
    std::lock_guard<std::mutex> lock(m);
    return capture != nullptr;
  }
  // A call that is illegal while the stream captures breaks the capture, as on a GPU.
  cudaError_t breakCapture(cudaError_t why) {
    std::lock_guard<std::mutex> lock(m);
    if (capture && capture->broken == cudaSuccess) capture->broken = why;
    return why;
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return !queue.empty(); });
        task = std::move(queue.front());
        queue.pop_front();
      }
      task();
      {
        std::lock_guard<std::mutex> lock(m);
        ++done;
      }
      cv.notify_all();
    }
  }
};

namespace {

struct EventState {
  std::mutex m;
  std::condition_variable cv;
  uint64_t recorded = 0, completed = 0;
  std::chrono::steady_clock::time_point when{};
};

}  // namespace

struct CUevent_st {
  std::shared_ptr<EventState> state = std::make_shared<EventState>();
  unsigned flags = 0;
};

namespace hyemu {
namespace {

// Every piece of global state is created once and never destroyed: stream threads may still be
// running when the process exits.
struct Globals {
  std::mutex m;
  std::vector<CUstream_st*> streams;
  CUstream_st* legacy = nullptr;
  struct Range {
    size_t bytes;
    bool device;  // else pinned host memory
    bool mapped;
  };
  std::map<uintptr_t, Range> ranges;
  std::unordered_map<const void*, size_t> dynamicSharedLimit;
  std::atomic<int> sticky{cudaSuccess};
  std::string* stickyMessage = nullptr;
  OrderSetting order{Order::Forward, 0};
};

Globals& globals() {
  static Globals* g = [] {
    auto* gl = new Globals();
    const char* o = std::getenv("HY_EMU_ORDER");
    const std::string order = o == nullptr ? "" : o;
    if (order == "reverse") {
      gl->order.order = Order::Reverse;
    } else if (order.rfind("shuffle", 0) == 0) {
      gl->order.order = Order::Shuffle;
      gl->order.seed = order.size() > 8 ? std::strtoull(order.c_str() + 8, nullptr, 0) : 1;
    } else if (!order.empty() && order != "forward") {
      std::fprintf(stderr, "hayate emulator: HY_EMU_ORDER=%s is not forward, reverse or shuffle[:seed]\n", o);
      std::abort();
    }
    gl->legacy = new CUstream_st();
    gl->streams.push_back(gl->legacy);
    return gl;
  }();
  return *g;
}

thread_local cudaError_t tlsLastError = cudaSuccess;

cudaError_t ret(cudaError_t e) {
  if (e != cudaSuccess) tlsLastError = e;
  return e;
}

cudaError_t sticky() { return static_cast<cudaError_t>(globals().sticky.load()); }

void setSticky(cudaError_t err, const std::string& message) {
  Globals& g = globals();
  std::lock_guard<std::mutex> lock(g.m);
  int expected = cudaSuccess;
  if (g.sticky.compare_exchange_strong(expected, err)) {
    g.stickyMessage = new std::string(message);
    std::fprintf(stderr, "hayate emulator: %s\n", message.c_str());
  }
}

CUstream_st* streamOf(cudaStream_t s) {
  return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread ? globals().legacy : s;
}

std::vector<CUstream_st*> allStreams() {
  Globals& g = globals();
  std::lock_guard<std::mutex> lock(g.m);
  return g.streams;
}

// Work on the legacy default stream waits for every blocking stream (not the non-blocking ones).
void drainLegacyAndBlocking() {
  for (CUstream_st* st : allStreams()) {
    if (st == globals().legacy || !(st->flags & cudaStreamNonBlocking)) st->drain();
  }
}

// The streams now capturing: a device-wide synchronisation (cudaDeviceSynchronize, cudaFree) would
// wait for work that is only being recorded, so it breaks their captures instead.
bool breakEveryCapture() {
  bool any = false;
  for (CUstream_st* st : allStreams()) {
    if (st->capturing()) {
      st->breakCapture(cudaErrorStreamCaptureUnsupported);
      any = true;
    }
  }
  return any;
}

// Where p..p+bytes lies: in one device allocation, in pinned host memory, or neither.
enum class Where { Device, Pinned, Pageable, Straddles };
Where locate(const void* p, size_t bytes) {
  Globals& g = globals();
  std::lock_guard<std::mutex> lock(g.m);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = g.ranges.upper_bound(a);
  if (it == g.ranges.begin()) return Where::Pageable;
  --it;
  if (a >= it->first + it->second.bytes) return Where::Pageable;
  if (a + bytes > it->first + it->second.bytes) return Where::Straddles;
  return it->second.device ? Where::Device : Where::Pinned;
}

bool deviceAccessible(const void* p, size_t bytes) {
  const Where w = locate(p, bytes);
  return w == Where::Device || w == Where::Pinned;  // pinned memory is mapped into the device
}

}  // namespace

OrderSetting threadOrder() { return globals().order; }

size_t maxDynamicShared(const void* kernel) {
  Globals& g = globals();
  std::lock_guard<std::mutex> lock(g.m);
  auto it = g.dynamicSharedLimit.find(kernel);
  return it == g.dynamicSharedLimit.end() ? kStaticSharedLimit : it->second;
}

void enqueueLaunch(const LaunchConfig& cfg, std::unique_ptr<KernelBody> body) {
  if (sticky() != cudaSuccess) {
    ret(sticky());
    return;
  }
  const dim3 b = cfg.block, g = cfg.grid;
  const uint64_t threads = static_cast<uint64_t>(b.x) * b.y * b.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || b.x > kMaxBlockDim[0] || b.y > kMaxBlockDim[1] ||
      b.z > kMaxBlockDim[2] || g.x == 0 || g.y == 0 || g.z == 0 || g.x > kMaxGridDim[0] || g.y > kMaxGridDim[1] ||
      g.z > kMaxGridDim[2]) {
    ret(cudaErrorInvalidConfiguration);
    return;
  }
  if (cfg.sharedBytes > maxDynamicShared(cfg.kernel) || cfg.sharedBytes > kSharedOptinLimit) {
    ret(cudaErrorInvalidValue);
    return;
  }
  std::shared_ptr<KernelBody> shared(std::move(body));
  const LaunchConfig copy = cfg;
  streamOf(cfg.stream)->push([copy, shared] {
    if (sticky() != cudaSuccess) return;
    const LaunchResult r = runGrid(copy, *shared);
    if (r.error != cudaSuccess) setSticky(r.error, r.message);
  });
}

namespace testing {
void setOrder(Order order, uint64_t seed) { globals().order = OrderSetting{order, seed}; }

// For the emulator's own tests only: forget a sticky fault so that the next case starts clean.
void clearStickyError() {
  for (CUstream_st* s : allStreams()) s->drain();
  globals().sticky.store(cudaSuccess);
  tlsLastError = cudaSuccess;
}
}  // namespace testing

}  // namespace hyemu

using hyemu::ret;
using hyemu::sticky;

#define HYEMU_STICKY_GUARD                                   \
  do {                                                       \
    if (const cudaError_t s_ = sticky(); s_ != cudaSuccess) { \
      return ret(s_);                                        \
    }                                                        \
  } while (0)

// ---- errors ----

namespace {
struct ErrorText {
  cudaError_t code;
  const char* name;
  const char* text;
};
const ErrorText kErrors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInvalidDevicePointer, "cudaErrorInvalidDevicePointer", "invalid device pointer"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorMisalignedAddress, "cudaErrorMisalignedAddress", "misaligned address"},
    {cudaErrorLaunchOutOfResources, "cudaErrorLaunchOutOfResources", "too many resources requested for launch"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
    {cudaErrorInvalidDeviceFunction, "cudaErrorInvalidDeviceFunction", "invalid device function"},
    {cudaErrorAssert, "cudaErrorAssert", "device-side assert triggered"},
    {cudaErrorLaunchTimeout, "cudaErrorLaunchTimeout", "the launch timed out and was terminated"},
    {cudaErrorIllegalState, "cudaErrorIllegalState", "the operation cannot be performed in the present state"},
    {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported",
     "operation not permitted when stream is capturing"},
    {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated",
     "operation failed due to a previous error during capture"},
    {cudaErrorStreamCaptureIsolation, "cudaErrorStreamCaptureIsolation",
     "dependency created on uncaptured work in another stream"},
    {cudaErrorStreamCaptureImplicit, "cudaErrorStreamCaptureImplicit",
     "operation would make the legacy stream depend on a capturing blocking stream"},
};
const ErrorText* findError(cudaError_t e) {
  for (const ErrorText& t : kErrors) {
    if (t.code == e) return &t;
  }
  return nullptr;
}
}  // namespace

const char* cudaGetErrorName(cudaError_t error) {
  const ErrorText* t = findError(error);
  return t != nullptr ? t->name : "cudaErrorUnknown";
}

// The sticky fault's string carries the emulator's account of it: which kernel, block, thread
// and call, and why.
const char* cudaGetErrorString(cudaError_t error) {
  hyemu::Globals& g = hyemu::globals();
  if (error != cudaSuccess && error == sticky() && g.stickyMessage != nullptr) {
    static thread_local std::string text;
    const ErrorText* t = findError(error);
    text = std::string(t != nullptr ? t->text : "unknown error") + " (emulated device: " + *g.stickyMessage + ")";
    return text.c_str();
  }
  const ErrorText* t = findError(error);
  return t != nullptr ? t->text : "unknown error";
}

cudaError_t cudaGetLastError() {
  const cudaError_t s = sticky();
  if (s != cudaSuccess) return s;
  const cudaError_t e = hyemu::tlsLastError;
  hyemu::tlsLastError = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() {
  const cudaError_t s = sticky();
  return s != cudaSuccess ? s : hyemu::tlsLastError;
}

// ---- device ----

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : ret(cudaErrorInvalidDevice); }

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return ret(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "hayate emulated sm_90 (H100 limits)");
  prop->totalGlobalMem = size_t{80} << 30;
  prop->sharedMemPerBlock = hyemu::kStaticSharedLimit;
  prop->sharedMemPerBlockOptin = hyemu::kSharedOptinLimit;
  prop->sharedMemPerMultiprocessor = 228 * 1024;
  prop->regsPerBlock = 65536;
  prop->regsPerMultiprocessor = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = static_cast<int>(hyemu::kMaxThreadsPerBlock);
  for (int i = 0; i < 3; ++i) {
    prop->maxThreadsDim[i] = static_cast<int>(hyemu::kMaxBlockDim[i]);
    prop->maxGridSize[i] = static_cast<int>(hyemu::kMaxGridDim[i]);
  }
  prop->totalConstMem = 64 * 1024;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = hyemu::kMultiProcessors;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->maxBlocksPerMultiProcessor = 32;
  prop->l2CacheSize = 50 * 1024 * 1024;
  prop->memoryBusWidth = 5120;
  prop->concurrentKernels = 1;
  prop->asyncEngineCount = 3;
  prop->unifiedAddressing = 1;
  prop->canMapHostMemory = 1;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  if (hyemu::breakEveryCapture()) return ret(cudaErrorStreamCaptureUnsupported);
  for (CUstream_st* s : hyemu::allStreams()) s->drain();
  HYEMU_STICKY_GUARD;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;  // hints only
  if (value < 0 || static_cast<size_t>(value) > hyemu::kSharedOptinLimit) return ret(cudaErrorInvalidValue);
  hyemu::Globals& g = hyemu::globals();
  std::lock_guard<std::mutex> lock(g.m);
  g.dynamicSharedLimit[func] = static_cast<size_t>(value);
  return cudaSuccess;
}

// ---- memory ----

namespace {
cudaError_t allocate(void** p, size_t bytes, bool device, bool mapped, size_t align) {
  HYEMU_STICKY_GUARD;
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  void* mem = nullptr;
  if (posix_memalign(&mem, align, bytes) != 0) return ret(cudaErrorMemoryAllocation);
  if (device) std::memset(mem, 0xff, bytes);  // NaN, not the zero pages a fresh mapping gives
  hyemu::Globals& g = hyemu::globals();
  std::lock_guard<std::mutex> lock(g.m);
  g.ranges[reinterpret_cast<uintptr_t>(mem)] = {bytes, device, mapped};
  *p = mem;
  return cudaSuccess;
}

cudaError_t release(void* p, bool device) {
  if (p == nullptr) return cudaSuccess;
  if (hyemu::breakEveryCapture()) return ret(cudaErrorStreamCaptureUnsupported);  // it synchronizes the device
  hyemu::Globals& g = hyemu::globals();
  {
    std::lock_guard<std::mutex> lock(g.m);
    auto it = g.ranges.find(reinterpret_cast<uintptr_t>(p));
    if (it == g.ranges.end() || it->second.device != device) return ret(cudaErrorInvalidValue);
    g.ranges.erase(it);
  }
  cudaDeviceSynchronize();  // cudaFree synchronizes the device
  std::free(p);
  return cudaSuccess;
}
}  // namespace

cudaError_t cudaMalloc(void** p, size_t bytes) { return allocate(p, bytes, true, false, 256); }
cudaError_t cudaFree(void* p) { return release(p, true); }
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned flags) {
  return allocate(p, bytes, false, (flags & cudaHostAllocMapped) != 0, 64);
}
cudaError_t cudaMallocHost(void** p, size_t bytes) { return allocate(p, bytes, false, false, 64); }
cudaError_t cudaFreeHost(void* p) { return release(p, false); }

cudaError_t cudaHostGetDevicePointer(void** device, void* host, unsigned flags) {
  if (flags != 0) return ret(cudaErrorInvalidValue);
  if (hyemu::locate(host, 1) != hyemu::Where::Pinned) return ret(cudaErrorInvalidValue);
  *device = host;  // unified addressing: the same address on both sides
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  HYEMU_STICKY_GUARD;
  if (bytes == 0) return cudaSuccess;
  using hyemu::Where;
  const Where d = hyemu::locate(dst, bytes), s = hyemu::locate(src, bytes);
  if (d == Where::Straddles || s == Where::Straddles) return ret(cudaErrorInvalidValue);
  if (kind == cudaMemcpyDefault) {
    const bool dd = d == Where::Device, sd = s == Where::Device;
    kind = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
              : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  }
  const bool dstDevice = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool srcDevice = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dstDevice ? !hyemu::deviceAccessible(dst, bytes) : d == Where::Device) return ret(cudaErrorInvalidValue);
  if (srcDevice ? !hyemu::deviceAccessible(src, bytes) : s == Where::Device) return ret(cudaErrorInvalidValue);
  CUstream_st* st = hyemu::streamOf(stream);
  // A captured copy is replayed later from the same addresses: pageable memory (staged, or copied
  // synchronously) cannot be captured.
  if (st->capturing() && (kind == cudaMemcpyHostToHost || (!srcDevice && s == Where::Pageable) ||
                          (!dstDevice && d == Where::Pageable))) {
    return ret(st->breakCapture(cudaErrorStreamCaptureUnsupported));
  }
  if (!srcDevice && s == Where::Pageable) {
    // From pageable memory the runtime stages the source before returning: the caller may
    // reuse it at once.
    auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                               static_cast<const unsigned char*>(src) + bytes);
    st->push([dst, staged] {
      if (sticky() == cudaSuccess) std::memcpy(dst, staged->data(), staged->size());
    });
    return cudaSuccess;
  }
  const uint64_t ticket = st->push([dst, src, bytes] {
    if (sticky() == cudaSuccess) std::memcpy(dst, src, bytes);
  });
  if (kind == cudaMemcpyHostToHost || (!dstDevice && d == Where::Pageable)) {
    st->waitFor(ticket);  // host to host, or into pageable memory, the copy is synchronous
    HYEMU_STICKY_GUARD;
  }
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  hyemu::drainLegacyAndBlocking();
  if (const cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, nullptr); e != cudaSuccess) return e;
  return cudaStreamSynchronize(nullptr);
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream) {
  HYEMU_STICKY_GUARD;
  if (bytes == 0) return cudaSuccess;
  if (!hyemu::deviceAccessible(p, bytes)) return ret(cudaErrorInvalidValue);
  hyemu::streamOf(stream)->push([p, value, bytes] {
    if (sticky() == cudaSuccess) std::memset(p, value, bytes);
  });
  return cudaSuccess;
}

cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  hyemu::drainLegacyAndBlocking();
  if (const cudaError_t e = cudaMemsetAsync(p, value, bytes, nullptr); e != cudaSuccess) return e;
  return cudaStreamSynchronize(nullptr);
}

// ---- streams ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  HYEMU_STICKY_GUARD;
  auto* s = new CUstream_st(flags);
  hyemu::Globals& g = hyemu::globals();
  std::lock_guard<std::mutex> lock(g.m);
  g.streams.push_back(s);
  *stream = s;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0); }

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  CUstream_st* st = hyemu::streamOf(stream);
  if (st->capturing()) return ret(st->breakCapture(cudaErrorStreamCaptureUnsupported));
  st->drain();
  HYEMU_STICKY_GUARD;
  return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  HYEMU_STICKY_GUARD;
  CUstream_st* st = hyemu::streamOf(stream);
  if (st->capturing()) return ret(st->breakCapture(cudaErrorStreamCaptureUnsupported));
  return hyemu::streamOf(stream)->idle() ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* data) {
  HYEMU_STICKY_GUARD;
  hyemu::streamOf(stream)->push([fn, data] {
    if (sticky() == cudaSuccess) fn(data);
  });
  return cudaSuccess;
}

// ---- events ----

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  HYEMU_STICKY_GUARD;
  auto* e = new CUevent_st();
  e->flags = flags;
  *event = e;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  delete event;  // work already queued keeps the state alive
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  HYEMU_STICKY_GUARD;
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  // A GPU records an event node into the graph; the emulator does not model captured events.
  if (CUstream_st* s = hyemu::streamOf(stream); s->capturing()) {
    return ret(s->breakCapture(cudaErrorStreamCaptureUnsupported));
  }
  std::shared_ptr<EventState> st = event->state;
  // The count and the queued completion under one lock, so that a wait on this event from another
  // host thread is queued either before both or after both.
  std::lock_guard<std::mutex> lock(st->m);
  const uint64_t seq = ++st->recorded;
  // Completion is recorded even after a fault, so that waiters never hang.
  hyemu::streamOf(stream)->push([st, seq] {
    {
      std::lock_guard<std::mutex> inner(st->m);
      if (seq > st->completed) {
        st->completed = seq;
        st->when = std::chrono::steady_clock::now();
      }
    }
    st->cv.notify_all();
  });
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  HYEMU_STICKY_GUARD;
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  std::lock_guard<std::mutex> lock(event->state->m);
  return event->state->completed >= event->state->recorded ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  EventState& st = *event->state;
  {
    std::unique_lock<std::mutex> lock(st.m);
    const uint64_t target = st.recorded;
    st.cv.wait(lock, [&] { return st.completed >= target; });
  }
  HYEMU_STICKY_GUARD;
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  HYEMU_STICKY_GUARD;
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  // Every event here was recorded outside a capture: a captured wait on it depends on uncaptured work.
  if (CUstream_st* s = hyemu::streamOf(stream); s->capturing()) {
    return ret(s->breakCapture(cudaErrorStreamCaptureIsolation));
  }
  std::shared_ptr<EventState> st = event->state;
  std::lock_guard<std::mutex> lock(st->m);
  const uint64_t target = st->recorded;
  hyemu::streamOf(stream)->push([st, target] {
    std::unique_lock<std::mutex> lock(st->m);
    st->cv.wait(lock, [&] { return st->completed >= target; });
  });
  return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  HYEMU_STICKY_GUARD;
  if (start == nullptr || end == nullptr) return ret(cudaErrorInvalidResourceHandle);
  if ((start->flags | end->flags) & cudaEventDisableTiming) return ret(cudaErrorInvalidResourceHandle);
  std::scoped_lock lock(start->state->m, end->state->m);
  if (start->state->recorded == 0 || end->state->recorded == 0) return ret(cudaErrorInvalidResourceHandle);
  if (start->state->completed < start->state->recorded || end->state->completed < end->state->recorded) {
    return cudaErrorNotReady;
  }
  *ms = std::chrono::duration<float, std::milli>(end->state->when - start->state->when).count();
  return cudaSuccess;
}

// ---- stream capture and graphs ----

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  HYEMU_STICKY_GUARD;
  if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
      mode != cudaStreamCaptureModeRelaxed) {
    return ret(cudaErrorInvalidValue);
  }
  CUstream_st* st = hyemu::streamOf(stream);
  if (st == hyemu::globals().legacy) return ret(cudaErrorStreamCaptureUnsupported);
  std::lock_guard<std::mutex> lock(st->m);
  if (st->capture) return ret(cudaErrorIllegalState);
  st->capture = std::make_unique<StreamCapture>();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  if (graph == nullptr) return ret(cudaErrorInvalidValue);
  *graph = nullptr;
  CUstream_st* st = hyemu::streamOf(stream);
  std::unique_ptr<StreamCapture> capture;
  {
    std::lock_guard<std::mutex> lock(st->m);
    if (!st->capture) return ret(cudaErrorIllegalState);
    capture = std::move(st->capture);
  }
  if (capture->broken != cudaSuccess) return ret(cudaErrorStreamCaptureInvalidated);
  HYEMU_STICKY_GUARD;
  *graph = new CUgraph_st{std::move(capture->tasks)};
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  if (status == nullptr) return ret(cudaErrorInvalidValue);
  CUstream_st* st = hyemu::streamOf(stream);
  std::lock_guard<std::mutex> lock(st->m);
  *status = !st->capture                             ? cudaStreamCaptureStatusNone
            : st->capture->broken == cudaSuccess ? cudaStreamCaptureStatusActive
                                                 : cudaStreamCaptureStatusInvalidated;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  HYEMU_STICKY_GUARD;
  if (exec == nullptr || graph == nullptr) return ret(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->tasks};
  return cudaSuccess;
}

// One replay is one task on the stream: the recorded work in the order it was captured, each
// piece checking the sticky error as it would have when queued.
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  HYEMU_STICKY_GUARD;
  if (exec == nullptr) return ret(cudaErrorInvalidResourceHandle);
  CUstream_st* st = hyemu::streamOf(stream);
  if (st->capturing()) return ret(st->breakCapture(cudaErrorStreamCaptureUnsupported));  // no child graphs here
  auto tasks = std::make_shared<std::vector<std::function<void()>>>(exec->tasks);
  st->push([tasks] {
    for (auto& task : *tasks) task();
  });
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;  // a replay already queued holds its own copy of the work
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
