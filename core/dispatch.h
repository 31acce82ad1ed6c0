// Storages and transfers: allocation, copies between devices, host reads and writes, and the
// synchronisation of each device's queue. Ops do not come through here: they go through the op
// registry (op_registry.h). No N-API and no CUDA types here.
#pragma once
#include <cstdint>
#include <memory>
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

const CudaStatus& cudaStatus();
bool cudaAvailable();

// pinned: page-locked host memory where CUDA is available, ordinary host memory otherwise.
StoragePtr allocate(DeviceType device, size_t bytes, bool pinned);
CachingAllocator& allocatorFor(DeviceType device, bool pinned);

// Host-to-host copies run on the CPU queue; copies that involve the GPU first wait for the CPU
// queue (which may still be writing or reading the host side).
void copy(const StoragePtr& dst, const StoragePtr& src, size_t bytes, bool nonBlocking);
// A new device allocation holding src's first `bytes`. From pinned memory with nonBlocking, the copy
// runs on the copy stream into memory from that stream's pool, so it waits for no kernel and overlaps
// the compute stream's work; the compute stream waits for the copy before its next kernel.
StoragePtr copyToDevice(Storage& src, size_t bytes, bool nonBlocking);

// Host <-> storage transfers of raw bytes. Both are ordered with the storage's queue: a write lands
// after the ops enqueued before it and before those enqueued after (the source bytes are copied
// first when the CPU queue is busy, so the caller may reuse them at once); a read waits for the
// ops before it, and raises the first error the CPU queue has met.
void writeFromHost(const StoragePtr& dst, const void* src, size_t bytes);
void readToHost(Storage& src, void* dst, size_t bytes);
// Starts a read: a device-to-host copy into a pinned staging block, or for host storages a copy
// task on the CPU queue, so that later writes cannot tear it. waitRead() blocks (call it off the
// main thread) until the bytes are there.
struct HostReadState;
struct PendingRead {
  StoragePtr source;
  StoragePtr staging;  // device reads: the pinned block the copy lands in
  EventId done = 0;
  size_t bytes = 0;
  std::shared_ptr<HostReadState> host;  // host reads
  uint64_t ticket = 0;
};
PendingRead beginRead(const StoragePtr& src, size_t bytes);
// Returns the host pointer holding the bytes once they have arrived; throws on a CUDA error.
const void* waitRead(PendingRead& read);
void finishRead(PendingRead& read);

// Timing events on the GPU's compute stream, for hy.cuda.Event. Ids are small integers, never
// pointers: a JS caller can only name events it was given.
uint32_t timingEventRecord();
void timingEventSynchronize(uint32_t id);
double timingEventElapsed(uint32_t start, uint32_t end);  // milliseconds; waits for both
void timingEventDestroy(uint32_t id);

// CUDA graphs (hy.cuda.CUDAGraph), named by small integers. graphBeginCapture starts recording
// the GPU's compute stream into a new graph with a private memory pool; graphEndCapture
// instantiates it (on failure the id is gone and its pool released); graphReplay queues one replay
// with no host synchronisation; graphDestroy gives the graph and its pool back.
uint32_t graphBeginCapture();
void graphEndCapture(uint32_t id);
void graphReplay(uint32_t id);
void graphDestroy(uint32_t id);
bool graphCapturing();
// Throws, naming `what`, while a capture runs: host synchronisations and copies through the host
// cannot be recorded into a graph (a GPU would break the capture with a CUDA error).
void refuseWhileCapturing(const char* what);

void synchronize();  // the GPU: waits for every stream, raises a deferred loss-target error
void cpuSynchronize();  // the CPU queue: waits for it, raises the first error a task raised

// For backend families in other files (core/<family>.cpp): is this storage on the GPU, the error
// to raise when CUDA is needed but absent, and the stream kernels are enqueued on.
inline bool onDevice(const Storage& a) { return a.device == DeviceType::Cuda; }
[[noreturn]] void throwNoCuda();
StreamId computeStream();  // 0 where CUDA is not compiled in

}  // namespace hy
