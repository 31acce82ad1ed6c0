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
      : device(device), pinned(pinned), bytes(bytes), allocator_(allocator), block_(block) {}
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return CachingAllocator::blockPtr(block_); }
  // Keep the block from reuse until `stream`'s current work has finished.
  void recordStream(StreamId stream) { allocator_->recordStream(block_, stream); }
  // Host memory that an asynchronous device-to-host copy is still writing: host code must wait.
  void setPendingWrite(EventId event);
  void waitForHost();

  const DeviceType device;
  const bool pinned;
  const size_t bytes;

 private:
  CachingAllocator* allocator_;
  CachingAllocator::Block* block_;
  std::mutex pendingMutex_;
  EventId pendingWrite_ = 0;
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace hy
