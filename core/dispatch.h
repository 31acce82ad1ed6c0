// The one place that knows which backend owns a storage: the binding calls these, and these call
// the CPU functions or the CUDA launchers. No N-API and no CUDA types here.
#pragma once
#include <cstdint>
#include <string>

#include "caching_allocator.h"
#include "storage.h"

namespace hy {

struct CudaStatus {
  bool compiled = false;
  bool available = false;
  bool emulated = false;  // the emulated device of the test build (emulator/), not a GPU
  std::string reason;
  std::string deviceName;
  int computeMajor = 0, computeMinor = 0;
  uint64_t totalMemory = 0;
  int multiProcessors = 0;
  int driverVersion = 0, runtimeVersion = 0;
};

enum class RandomKind : int32_t { Uniform = 0, Normal = 1 };

const CudaStatus& cudaStatus();
bool cudaAvailable();

// pinned: page-locked host memory where CUDA is available, ordinary host memory otherwise.
AllocationPtr allocate(DeviceType device, size_t bytes, bool pinned);
CachingAllocator& allocatorFor(DeviceType device, bool pinned);

void fill(Allocation& out, DType dtype, size_t n, double value);
void random(Allocation& out, DType dtype, size_t n, RandomKind kind, uint64_t seed, uint64_t offset, double a, double b);
void cast(Allocation& src, DType srcType, Allocation& dst, DType dstType, size_t n);
void copy(Allocation& dst, Allocation& src, size_t bytes, bool nonBlocking);
// A new device allocation holding src's first `bytes`. From pinned memory with nonBlocking, the copy
// runs on the copy stream into memory from that stream's pool, so it waits for no kernel and overlaps
// the compute stream's work; the compute stream waits for the copy before its next kernel.
AllocationPtr copyToDevice(Allocation& src, size_t bytes, bool nonBlocking);

// Host <-> storage transfers of raw bytes.
void writeFromHost(Allocation& dst, const void* src, size_t bytes);
void readToHost(Allocation& src, void* dst, size_t bytes);
// Starts a device-to-host copy into a pinned staging block; waitRead() blocks (call it off the
// main thread) until the bytes are there. For host storages it only takes a reference.
struct PendingRead {
  AllocationPtr source;
  AllocationPtr staging;  // null when reading host memory directly
  EventId done = 0;
  size_t bytes = 0;
};
PendingRead beginRead(const AllocationPtr& src, size_t bytes);
// Returns the host pointer holding the bytes once they have arrived; throws on a CUDA error.
const void* waitRead(PendingRead& read);
void finishRead(PendingRead& read);

void synchronize();

// For backend families in other files (core/<family>.cpp): is this storage on the GPU, the error
// to raise when CUDA is needed but absent, and the stream kernels are enqueued on.
inline bool onDevice(const Allocation& a) { return a.device == DeviceType::Cuda; }
[[noreturn]] void throwNoCuda();
StreamId computeStream();  // 0 where CUDA is not compiled in
void requireSameDevice(const char* op, const Allocation& a, const Allocation& b);

}  // namespace hy
