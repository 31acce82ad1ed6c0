// Host-side CUDA runtime services for the rest of the native core, with plain C++ signatures so
// that code outside cuda/ never includes CUDA headers: device probe, the compute and copy
// streams, the device and pinned allocators, events and copies.
#pragma once
#include <cstddef>

#include "../core/caching_allocator.h"
#include "../core/dispatch.h"
#include "../core/nn.h"

namespace hy::cuda {

void probe(CudaStatus& status);  // fills status; never throws

CachingAllocator& deviceAllocator();
CachingAllocator& pinnedAllocator();
StreamId computeStream();  // kernels run here, in order
StreamId copyStream();     // non-blocking host<->device copies run here

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
void memcpyAsync(void* dst, const void* src, size_t bytes, CopyKind kind, StreamId stream);
EventId recordEvent(StreamId stream);
void streamWaitEvent(StreamId stream, EventId event);
void streamWaitStream(StreamId waiter, StreamId producer);  // waiter runs after producer's current work
void eventSynchronize(EventId event);                       // blocks the calling thread
void destroyEvent(EventId event);
// Events that keep time (hy.cuda.Event); the others are created without timing, which is cheaper.
EventId recordTimingEvent(StreamId stream);
double elapsedMs(EventId start, EventId end);  // both must have completed
void streamSynchronize(StreamId stream);
void deviceSynchronize();

// CUDA graphs. From beginCapture to endCapture the compute stream's work is recorded, not run
// (relaxed mode: the allocator may still take new device memory), and the device allocator serves
// the compute stream from the private pool `pool`. endCapture ends the capture even when it throws
// (a capture broken by an illegal call) and returns the instantiated graph.
using GraphId = uintptr_t;
void beginCapture(uint64_t pool);
GraphId endCapture();
void launchGraph(GraphId graph);  // on the compute stream
void destroyGraph(GraphId graph);

// Returns true and the error a loss kernel recorded for an invalid target, clearing it. Only
// meaningful after the work that wrote it has finished (a stream or event synchronisation).
bool takeTargetError(nn::TargetOp* op, int64_t* target, uint64_t* row, uint64_t* cols);
// The device address of that slot (created on first use), for kernels to record into.
uint64_t* targetErrorSlot();

}  // namespace hy::cuda
