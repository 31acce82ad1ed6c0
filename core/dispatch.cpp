#include "dispatch.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include <map>
#include <vector>

#include "../cpu/queue.h"
#include "error.h"
#include "nn.h"
#ifdef HAYATE_WITH_CUDA
#include "../cuda/runtime.h"
#endif

namespace hy {

namespace {

struct HostRaw : RawMemory {
  // Segments of 2 MiB and more start on a 2 MiB boundary and are offered to the kernel as huge
  // pages: with 4 KiB pages a pass over tensors of tens of MiB held in the last-level cache missed
  // the TLB on every page and ran at two thirds of the speed it does on huge pages. Sizes are not
  // rounded: a tail short of 2 MiB stays on small pages.
  void* allocate(size_t bytes) override {
    constexpr size_t kHuge = size_t(2) << 20;
    if (bytes < kHuge) return std::aligned_alloc(64, bytes);
    void* p = nullptr;
    if (posix_memalign(&p, kHuge, bytes) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, bytes, MADV_HUGEPAGE);  // advice only: a kernel that refuses it changes nothing
#endif
    return p;
  }
  // A segment the cache gives back (emptyCache, the out-of-memory retry) may hold a block released
  // in queue order whose queued tasks still use it (Storage::releaseInQueueOrder): it goes back to
  // the system once the queue has run them. Called under the allocator's lock, so it only enqueues.
  void release(void* p) override {
    cpu::Queue& q = cpu::queue();
    if (q.idle()) {
      std::free(p);
      return;
    }
    q.enqueueUnbounded([p] { std::free(p); });
  }
};

CachingAllocator& hostAllocator() {
  static HostRaw* raw = new HostRaw();
  static CachingAllocator* allocator = new CachingAllocator("cpu", raw);
  return *allocator;
}

}  // namespace

[[noreturn]] void throwNoCuda() {
  throwRuntime(std::string("CUDA is not available: ") + cudaStatus().reason, "ERR_CUDA_UNAVAILABLE");
}

StreamId computeStream() {
#ifdef HAYATE_WITH_CUDA
  return cuda::computeStream();
#else
  return 0;
#endif
}

Storage::~Storage() {
  try {
    waitForHost();
  } catch (...) {
    // A failed copy still returns the block (its free waits on the copy stream, or retires the
    // block if that cannot be arranged); the error surfaced where the copy was awaited.
  }
  allocator_->free(block_);  // never throws; null once released in queue order
}

void Storage::releaseInQueueOrder() {
  if (block_ == nullptr || device != DeviceType::Cpu || pinned) return;
#if defined(__SANITIZE_ADDRESS__)
  // The allocator poisons a freed block, and queued tasks would trip on it: drain them first.
  cpu::queue().waitIdle();
#endif
  try {
    waitForHost();
  } catch (...) {
    return;  // the destructor frees it, as it does after any failed copy
  }
  CachingAllocator::Block* block = block_;
  block_ = nullptr;
  allocator_->free(block);
}

void Storage::setPendingWrite(EventId event) {
  std::lock_guard<std::mutex> lock(pendingMutex_);
#ifdef HAYATE_WITH_CUDA
  if (pendingWrite_ != 0) cuda::destroyEvent(pendingWrite_);
#endif
  pendingWrite_ = event;
}

void Storage::waitForHost() {
  std::lock_guard<std::mutex> lock(pendingMutex_);
  if (pendingWrite_ == 0) return;
#ifdef HAYATE_WITH_CUDA
  const EventId e = pendingWrite_;
  pendingWrite_ = 0;
  try {
    cuda::eventSynchronize(e);
  } catch (...) {
    cuda::destroyEvent(e);
    throw;
  }
  cuda::destroyEvent(e);
#endif
}

const CudaStatus& cudaStatus() {
  static const CudaStatus status = [] {
    CudaStatus s;
#ifdef HAYATE_WITH_CUDA
    cuda::probe(s);
#else
    s.compiled = false;
    s.available = false;
    s.reason = "hayate was built without CUDA (nvcc was not found or HAYATE_CPU_ONLY was set)";
#endif
    return s;
  }();
  return status;
}

bool cudaAvailable() { return cudaStatus().available; }

CachingAllocator& allocatorFor(DeviceType device, bool pinned) {
#ifdef HAYATE_WITH_CUDA
  if (device == DeviceType::Cuda) {
    if (!cudaAvailable()) throwNoCuda();
    return cuda::deviceAllocator();
  }
  if (pinned && cudaAvailable()) return cuda::pinnedAllocator();
#else
  if (device == DeviceType::Cuda) throwNoCuda();
#endif
  (void)pinned;
  return hostAllocator();
}

StoragePtr allocate(DeviceType device, size_t bytes, bool pinned) {
  CachingAllocator& allocator = allocatorFor(device, pinned);
  const bool reallyPinned = device == DeviceType::Cpu && pinned && &allocator != &hostAllocator();
  StreamId stream = 0;
#ifdef HAYATE_WITH_CUDA
  if (device == DeviceType::Cuda) stream = cuda::computeStream();
#endif
  CachingAllocator::Block* block = allocator.allocate(bytes, stream);
  try {
    return std::make_shared<Storage>(device, reallyPinned, bytes, &allocator, block);
  } catch (...) {
    allocator.free(block);
    throw;
  }
}

namespace {

// A copy that involves the GPU; the CPU queue has no work left on the host side.
void copyAcrossDevices(Storage& dst, Storage& src, size_t bytes, bool nonBlocking) {
#ifdef HAYATE_WITH_CUDA
  const StreamId compute = cuda::computeStream();
  if (onDevice(dst) && onDevice(src)) {
    cuda::memcpyAsync(dst.data(), src.data(), bytes, cuda::CopyKind::DeviceToDevice, compute);
    return;
  }
  if (onDevice(dst)) {  // host -> device
    src.waitForHost();
    if (src.pinned && nonBlocking) {
      // The copy stream waits for earlier kernels that may still use dst's memory, copies, and the
      // compute stream waits for the copy: the next kernels see the data, this batch's copy
      // overlaps the previous batch's kernels, and src is not reused before the DMA has read it.
      const StreamId copyStream = cuda::copyStream();
      cuda::streamWaitStream(copyStream, compute);
      cuda::memcpyAsync(dst.data(), src.data(), bytes, cuda::CopyKind::HostToDevice, copyStream);
      src.recordStream(copyStream);
      cuda::streamWaitStream(compute, copyStream);
      return;
    }
    cuda::memcpyAsync(dst.data(), src.data(), bytes, cuda::CopyKind::HostToDevice, compute);
    // A pageable source has been staged when the call returns; a pinned one is read by DMA later.
    if (src.pinned) cuda::streamSynchronize(compute);
    return;
  }
  // device -> host
  dst.waitForHost();
  if (dst.pinned && nonBlocking) {
    const StreamId copyStream = cuda::copyStream();
    cuda::streamWaitStream(copyStream, compute);
    dst.recordStream(copyStream);  // its free waits for the DMA even if waitForHost fails
    cuda::memcpyAsync(dst.data(), src.data(), bytes, cuda::CopyKind::DeviceToHost, copyStream);
    src.recordStream(copyStream);
    dst.setPendingWrite(cuda::recordEvent(copyStream));
    return;
  }
  cuda::memcpyAsync(dst.data(), src.data(), bytes, cuda::CopyKind::DeviceToHost, compute);
  cuda::streamSynchronize(compute);
#else
  (void)dst;
  (void)src;
  (void)bytes;
  (void)nonBlocking;
  throwNoCuda();
#endif
}

}  // namespace

void copy(const StoragePtr& dst, const StoragePtr& src, size_t bytes, bool nonBlocking) {
  if (!onDevice(*dst) && !onDevice(*src)) {
    cpu::queue().enqueue([dst, src, bytes] {
      src->waitForHost();
      dst->waitForHost();
      std::memmove(dst->data(), src->data(), bytes);
    });
    return;
  }
  if (!onDevice(*dst) || !onDevice(*src)) refuseWhileCapturing("copy between the host and the GPU");
  cpu::queue().waitIdle();  // queued CPU ops may still read or write the host side
  copyAcrossDevices(*dst, *src, bytes, nonBlocking);
}

StoragePtr copyToDevice(Storage& src, size_t bytes, bool nonBlocking) {
#ifdef HAYATE_WITH_CUDA
  if (!cudaAvailable()) throwNoCuda();
  if (!onDevice(src)) refuseWhileCapturing("copy to the GPU");
  if (!onDevice(src)) cpu::queue().waitIdle();  // queued CPU ops may still write the source
  if (onDevice(src) || !src.pinned || !nonBlocking) {
    StoragePtr dst = allocate(DeviceType::Cuda, bytes, false);
    copyAcrossDevices(*dst, src, bytes, nonBlocking);
    return dst;
  }
  src.waitForHost();
  const StreamId copyStream = cuda::copyStream();
  CachingAllocator& device = cuda::deviceAllocator();
  CachingAllocator::Block* block = device.allocate(bytes, copyStream);
  StoragePtr dst;
  try {
    dst = std::make_shared<Storage>(DeviceType::Cuda, false, bytes, &device, block);
  } catch (...) {
    device.free(block);
    throw;
  }
  // A block of the copy stream's pool was last used on that stream (uses on other streams defer its
  // free), so the copy needs no wait on the compute stream.
  cuda::memcpyAsync(dst->data(), src.data(), bytes, cuda::CopyKind::HostToDevice, copyStream);
  src.recordStream(copyStream);
  cuda::streamWaitStream(cuda::computeStream(), copyStream);
  dst->recordStream(cuda::computeStream());  // kernels will use it: its free waits for them
  return dst;
#else
  (void)src;
  (void)bytes;
  (void)nonBlocking;
  throwNoCuda();
#endif
}

void writeFromHost(const StoragePtr& dst, const void* src, size_t bytes) {
  if (onDevice(*dst)) {
    refuseWhileCapturing("write to a GPU tensor from the host");
#ifdef HAYATE_WITH_CUDA
    cuda::memcpyAsync(dst->data(), src, bytes, cuda::CopyKind::HostToDevice, cuda::computeStream());
    cuda::streamSynchronize(cuda::computeStream());  // the JS buffer may change once we return
    return;
#else
    throwNoCuda();
#endif
  }
  cpu::Queue& q = cpu::queue();
  if (q.idle()) {  // nothing queued can touch dst: write in place
    dst->waitForHost();
    std::memcpy(dst->data(), src, bytes);
    return;
  }
  auto copyOfSource = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                                   static_cast<const unsigned char*>(src) + bytes);
  q.enqueue([dst, copyOfSource] {
    dst->waitForHost();
    std::memcpy(dst->data(), copyOfSource->data(), copyOfSource->size());
  });
}

void readToHost(Storage& src, void* dst, size_t bytes) {
  if (onDevice(src)) {
    refuseWhileCapturing("read of a GPU tensor");
#ifdef HAYATE_WITH_CUDA
    cuda::memcpyAsync(dst, src.data(), bytes, cuda::CopyKind::DeviceToHost, cuda::computeStream());
    cuda::streamSynchronize(cuda::computeStream());
    nn::raisePendingTargetError();  // a loss kernel that ran before this read saw an invalid target
    return;
#else
    throwNoCuda();
#endif
  }
  cpu::queue().synchronize();
  src.waitForHost();
  std::memcpy(dst, src.data(), bytes);
}

// A host read's copy, made by a task on the CPU queue at the read's place in the queue.
struct HostReadState {
  std::vector<unsigned char> bytes;
  std::exception_ptr error;  // the first error the queue had met by then
};

PendingRead beginRead(const StoragePtr& src, size_t bytes) {
  PendingRead read;
  read.source = src;
  read.bytes = bytes;
  if (!onDevice(*src)) {
    auto state = std::make_shared<HostReadState>();
    read.host = state;
    cpu::queue().enqueue([src, state, bytes] {
      state->error = cpu::queue().takeError();
      if (state->error) return;
      src->waitForHost();
      state->bytes.assign(static_cast<const unsigned char*>(src->data()),
                          static_cast<const unsigned char*>(src->data()) + bytes);
    });
    read.ticket = cpu::queue().lastTicket();
    return read;
  }
  refuseWhileCapturing("read of a GPU tensor");
#ifdef HAYATE_WITH_CUDA
  read.staging = allocate(DeviceType::Cpu, bytes, true);
  const StreamId copyStream = cuda::copyStream();
  // The DMA writes the staging block on the copy stream. Tied to that stream before the copy is
  // enqueued, the block's free waits for the copy however the read ends (awaited, abandoned at
  // teardown, or failed), so the pool never hands it out while the copy may still write it.
  read.staging->recordStream(copyStream);
  cuda::streamWaitStream(copyStream, cuda::computeStream());
  cuda::memcpyAsync(read.staging->data(), src->data(), bytes, cuda::CopyKind::DeviceToHost, copyStream);
  src->recordStream(copyStream);
  read.done = cuda::recordEvent(copyStream);
  // Later kernels wait for the read, so a write enqueued after it cannot tear what it reads.
  cuda::streamWaitStream(cuda::computeStream(), copyStream);
  return read;
#else
  throwNoCuda();
#endif
}

const void* waitRead(PendingRead& read) {
  if (read.host) {
    cpu::queue().waitFor(read.ticket);
    if (read.host->error) std::rethrow_exception(read.host->error);
    return read.host->bytes.data();
  }
#ifdef HAYATE_WITH_CUDA
  const EventId e = read.done;
  read.done = 0;
  try {
    cuda::eventSynchronize(e);
  } catch (...) {
    cuda::destroyEvent(e);
    throw;
  }
  cuda::destroyEvent(e);
  nn::raisePendingTargetError();
#endif
  return read.staging->data();
}

void finishRead(PendingRead& read) {
#ifdef HAYATE_WITH_CUDA
  if (read.done != 0) {
    cuda::destroyEvent(read.done);
    read.done = 0;
  }
#endif
  read.staging.reset();
  read.source.reset();
  read.host.reset();
}

void cpuSynchronize() { cpu::queue().synchronize(); }

namespace {

struct TimingEvents {
  std::mutex mutex;
  std::map<uint32_t, EventId> events;
  uint32_t next = 1;
};

TimingEvents& timingEvents() {
  static TimingEvents* t = new TimingEvents();
  return *t;
}

EventId timingEvent(uint32_t id) {
  TimingEvents& t = timingEvents();
  std::lock_guard<std::mutex> lock(t.mutex);
  const auto it = t.events.find(id);
  if (it == t.events.end()) throwRange("cuda.Event: the event was destroyed or never recorded (id " + std::to_string(id) + ")");
  return it->second;
}

}  // namespace

uint32_t timingEventRecord() {
#ifdef HAYATE_WITH_CUDA
  if (!cudaAvailable()) throwNoCuda();
  refuseWhileCapturing("cuda.Event.record");
  const EventId e = cuda::recordTimingEvent(cuda::computeStream());
  TimingEvents& t = timingEvents();
  std::lock_guard<std::mutex> lock(t.mutex);
  const uint32_t id = t.next++;
  t.events[id] = e;
  return id;
#else
  throwNoCuda();
#endif
}

void timingEventSynchronize(uint32_t id) {
  refuseWhileCapturing("cuda.Event.synchronize");
  const EventId e = timingEvent(id);
#ifdef HAYATE_WITH_CUDA
  cuda::eventSynchronize(e);
#else
  (void)e;
#endif
}

double timingEventElapsed(uint32_t start, uint32_t end) {
  refuseWhileCapturing("cuda.Event.elapsedTime");
  const EventId a = timingEvent(start), b = timingEvent(end);
#ifdef HAYATE_WITH_CUDA
  cuda::eventSynchronize(a);
  cuda::eventSynchronize(b);
  return cuda::elapsedMs(a, b);
#else
  (void)a;
  (void)b;
  return 0;
#endif
}

void timingEventDestroy(uint32_t id) {
  TimingEvents& t = timingEvents();
  EventId e = 0;
  {
    std::lock_guard<std::mutex> lock(t.mutex);
    const auto it = t.events.find(id);
    if (it == t.events.end()) return;
    e = it->second;
    t.events.erase(it);
  }
#ifdef HAYATE_WITH_CUDA
  cuda::destroyEvent(e);
#else
  (void)e;
#endif
}

namespace {

struct Graphs {
  std::mutex mutex;
  std::map<uint32_t, uintptr_t> instantiated;  // id -> the instantiated graph
  uint32_t capturing = 0;                      // the id being captured, 0 when none
  std::vector<uint32_t> destroyAfterCapture;   // destroyed while a capture ran (a finalizer, say)
  uint32_t next = 1;
};

#ifdef HAYATE_WITH_CUDA
// Under the graphs' lock, with no capture running.
void destroyNow(Graphs& g, uint32_t id) {
  const auto it = g.instantiated.find(id);
  if (it == g.instantiated.end()) return;
  cuda::destroyGraph(it->second);
  g.instantiated.erase(it);
  // Replays already queued still run in the pool's memory: later users of it are queued after them
  // on the same stream.
  cuda::deviceAllocator().releasePool(id);
}
#endif

Graphs& graphs() {
  static Graphs* g = new Graphs();
  return *g;
}

}  // namespace

bool graphCapturing() {
  Graphs& g = graphs();
  std::lock_guard<std::mutex> lock(g.mutex);
  return g.capturing != 0;
}

void refuseWhileCapturing(const char* what) {
  if (!graphCapturing()) return;
  throwRuntime(std::string(what) +
                   ": not allowed while a CUDA graph is being captured: it synchronizes with the host or copies "
                   "through it, which a graph cannot record; do it before capture() or after it",
               "ERR_CUDA_GRAPH_CAPTURE");
}

uint32_t graphBeginCapture() {
#ifdef HAYATE_WITH_CUDA
  if (!cudaAvailable()) throwNoCuda();
  Graphs& g = graphs();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (g.capturing != 0) throwRuntime("cuda.CUDAGraph.capture: a capture is already running (graphs do not nest)", "ERR_CUDA_GRAPH_CAPTURE");
  cpu::queue().waitIdle();  // host work queued before the capture finishes before it
  const uint32_t id = g.next++;
  cuda::beginCapture(id);
  g.capturing = id;
  return id;
#else
  throwNoCuda();
#endif
}

void graphEndCapture(uint32_t id) {
#ifdef HAYATE_WITH_CUDA
  Graphs& g = graphs();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (g.capturing == 0 || g.capturing != id) throwRange("cuda.CUDAGraph: graph " + std::to_string(id) + " is not capturing");
  g.capturing = 0;
  const std::vector<uint32_t> deferred = std::move(g.destroyAfterCapture);
  g.destroyAfterCapture.clear();
  uintptr_t exec = 0;
  try {
    exec = cuda::endCapture();
  } catch (...) {
    cuda::deviceAllocator().releasePool(id);
    for (uint32_t d : deferred) destroyNow(g, d);
    throw;
  }
  g.instantiated[id] = exec;
  for (uint32_t d : deferred) destroyNow(g, d);
#else
  (void)id;
  throwNoCuda();
#endif
}

void graphReplay(uint32_t id) {
#ifdef HAYATE_WITH_CUDA
  Graphs& g = graphs();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (g.capturing != 0) throwRuntime("cuda.CUDAGraph.replay: not while a capture is running", "ERR_CUDA_GRAPH_CAPTURE");
  const auto it = g.instantiated.find(id);
  if (it == g.instantiated.end()) throwRange("cuda.CUDAGraph.replay: graph " + std::to_string(id) + " was destroyed or never captured");
  cuda::launchGraph(it->second);
#else
  (void)id;
  throwNoCuda();
#endif
}

void graphDestroy(uint32_t id) {
#ifdef HAYATE_WITH_CUDA
  Graphs& g = graphs();
  std::lock_guard<std::mutex> lock(g.mutex);
  // Releasing a pool may free held blocks, which can need events: not while another graph captures.
  if (g.capturing != 0) {
    if (g.instantiated.count(id) != 0) g.destroyAfterCapture.push_back(id);
    return;
  }
  destroyNow(g, id);
#else
  (void)id;
#endif
}

void synchronize() {
  refuseWhileCapturing("synchronize");
#ifdef HAYATE_WITH_CUDA
  if (cudaAvailable()) {
    cuda::deviceSynchronize();
    nn::raisePendingTargetError();
  }
#endif
}

}  // namespace hy
