// One contiguous allocation on one device. Shared ownership so an in-flight read keeps the bytes
// alive after the tensor that owned them was disposed.
#pragma once
#include <cstddef>
#include <memory>
#include <mutex>

#include "caching_allocator.h"
#include "dtype.h"

namespace hy {

class Storage {
 public:
  Storage(DeviceType device, bool pinned, size_t bytes, CachingAllocator* allocator, CachingAllocator::Block* block)
      : device(device), pinned(pinned), bytes(bytes), allocator_(allocator), block_(block),
        ptr_(CachingAllocator::blockPtr(block)) {}
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // The block's address, fixed at construction: queued tasks read it while the owner may be handing
  // the block back (releaseInQueueOrder).
  void* data() const { return ptr_; }
  // Keep the block from reuse until `stream`'s current work has finished.
  void recordStream(StreamId stream) { allocator_->recordStream(block_, stream); }
  // Host memory that an asynchronous device-to-host copy is still writing: host code must wait.
  void setPendingWrite(EventId event);
  void waitForHost();
  // Plain host memory only, called when its owner lets go while queued CPU tasks still hold the
  // storage: the block goes back to the allocator now, as a CUDA block freed on its own stream
  // does. Every host access is ordered by the CPU queue (a task, or host code that first waited for
  // the queue to drain), so whoever gets the block next touches it only after the tasks queued
  // before this call, the last users of these bytes, have run. Without it a loop of large ops
  // holds one output per queued task (up to the queue's 4096) and each new one page-faults.
  void releaseInQueueOrder();

  const DeviceType device;
  const bool pinned;
  const size_t bytes;

 private:
  CachingAllocator* allocator_;
  CachingAllocator::Block* block_;  // null once released
  void* const ptr_;
  std::mutex pendingMutex_;
  EventId pendingWrite_ = 0;
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace hy
