#include "dispatch.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "../cpu/cpu_ops.h"
#include "error.h"
#include "nn.h"
#ifdef HAYATE_WITH_CUDA
#include "../cuda/kernels.h"
#include "../cuda/runtime.h"
#endif

namespace hy {

namespace {

struct HostRaw : RawMemory {
  void* allocate(size_t bytes) override { return std::aligned_alloc(64, bytes); }
  void release(void* p) override { std::free(p); }
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

void requireSameDevice(const char* op, const Allocation& a, const Allocation& b) {
  if (a.device != b.device) {
    throwRange(std::string(op) + ": tensors are on different devices (" + deviceName(a.device) + " and " +
               deviceName(b.device) + ")");
  }
}

Allocation::~Allocation() {
  try {
    waitForHost();
  } catch (...) {
    // A failed copy still returns the block (its free waits on the copy stream, or retires the
    // block if that cannot be arranged); the error surfaced where the copy was awaited.
  }
  allocator_->free(block_);  // never throws
}

void Allocation::setPendingWrite(EventId event) {
  std::lock_guard<std::mutex> lock(pendingMutex_);
#ifdef HAYATE_WITH_CUDA
  if (pendingWrite_ != 0) cuda::destroyEvent(pendingWrite_);
#endif
  pendingWrite_ = event;
}

void Allocation::waitForHost() {
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

AllocationPtr allocate(DeviceType device, size_t bytes, bool pinned) {
  CachingAllocator& allocator = allocatorFor(device, pinned);
  const bool reallyPinned = device == DeviceType::Cpu && pinned && &allocator != &hostAllocator();
  StreamId stream = 0;
#ifdef HAYATE_WITH_CUDA
  if (device == DeviceType::Cuda) stream = cuda::computeStream();
#endif
  CachingAllocator::Block* block = allocator.allocate(bytes, stream);
  try {
    return std::make_shared<Allocation>(device, reallyPinned, bytes, &allocator, block);
  } catch (...) {
    allocator.free(block);
    throw;
  }
}

void fill(Allocation& out, DType dtype, size_t n, double value) {
  if (onDevice(out)) {
#ifdef HAYATE_WITH_CUDA
    cuda::launchFill(out.data(), dtype, n, value, cuda::computeStream());
    return;
#else
    throwNoCuda();
#endif
  }
  out.waitForHost();
  cpu::fill(out.data(), dtype, n, value);
}

void random(Allocation& out, DType dtype, size_t n, RandomKind kind, uint64_t seed, uint64_t offset, double a,
            double b) {
  if (onDevice(out)) {
#ifdef HAYATE_WITH_CUDA
    cuda::launchRandom(out.data(), dtype, n, static_cast<int>(kind), seed, offset, a, b, cuda::computeStream());
    return;
#else
    throwNoCuda();
#endif
  }
  out.waitForHost();
  cpu::random(out.data(), dtype, n, static_cast<int>(kind), seed, offset, a, b);
}

void cast(Allocation& src, DType srcType, Allocation& dst, DType dstType, size_t n) {
  if (src.device != dst.device) throwRuntime("cast: source and destination are on different devices");
  if (onDevice(src)) {
#ifdef HAYATE_WITH_CUDA
    cuda::launchCast(src.data(), srcType, dst.data(), dstType, n, cuda::computeStream());
    return;
#else
    throwNoCuda();
#endif
  }
  src.waitForHost();
  dst.waitForHost();
  cpu::cast(src.data(), srcType, dst.data(), dstType, n);
}

void copy(Allocation& dst, Allocation& src, size_t bytes, bool nonBlocking) {
  if (!onDevice(dst) && !onDevice(src)) {
    src.waitForHost();
    dst.waitForHost();
    std::memmove(dst.data(), src.data(), bytes);
    return;
  }
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
  (void)nonBlocking;
  throwNoCuda();
#endif
}

AllocationPtr copyToDevice(Allocation& src, size_t bytes, bool nonBlocking) {
#ifdef HAYATE_WITH_CUDA
  if (!cudaAvailable()) throwNoCuda();
  if (onDevice(src) || !src.pinned || !nonBlocking) {
    AllocationPtr dst = allocate(DeviceType::Cuda, bytes, false);
    copy(*dst, src, bytes, nonBlocking);
    return dst;
  }
  src.waitForHost();
  const StreamId copyStream = cuda::copyStream();
  CachingAllocator& device = cuda::deviceAllocator();
  CachingAllocator::Block* block = device.allocate(bytes, copyStream);
  AllocationPtr dst;
  try {
    dst = std::make_shared<Allocation>(DeviceType::Cuda, false, bytes, &device, block);
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

void writeFromHost(Allocation& dst, const void* src, size_t bytes) {
  if (onDevice(dst)) {
#ifdef HAYATE_WITH_CUDA
    cuda::memcpyAsync(dst.data(), src, bytes, cuda::CopyKind::HostToDevice, cuda::computeStream());
    cuda::streamSynchronize(cuda::computeStream());  // the JS buffer may change once we return
    return;
#else
    throwNoCuda();
#endif
  }
  dst.waitForHost();
  std::memcpy(dst.data(), src, bytes);
}

void readToHost(Allocation& src, void* dst, size_t bytes) {
  if (onDevice(src)) {
#ifdef HAYATE_WITH_CUDA
    cuda::memcpyAsync(dst, src.data(), bytes, cuda::CopyKind::DeviceToHost, cuda::computeStream());
    cuda::streamSynchronize(cuda::computeStream());
    nn::raisePendingTargetError();  // a loss kernel that ran before this read saw an invalid target
    return;
#else
    throwNoCuda();
#endif
  }
  src.waitForHost();
  std::memcpy(dst, src.data(), bytes);
}

PendingRead beginRead(const AllocationPtr& src, size_t bytes) {
  PendingRead read;
  read.source = src;
  read.bytes = bytes;
  if (!onDevice(*src)) return read;
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
  return read;
#else
  throwNoCuda();
#endif
}

const void* waitRead(PendingRead& read) {
  if (!read.staging) {
    read.source->waitForHost();
    return read.source->data();
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
}

void synchronize() {
#ifdef HAYATE_WITH_CUDA
  if (cudaAvailable()) {
    cuda::deviceSynchronize();
    nn::raisePendingTargetError();
  }
#endif
}

}  // namespace hy
