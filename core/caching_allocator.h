// A caching allocator for one memory kind (device memory, pinned host memory, or plain host
// memory). Backends supply the raw allocation and event primitives; everything else — size
// classes, splitting and merging blocks inside segments, per-stream free lists, deferring reuse
// until other streams' work on a block has finished, OOM recovery and statistics — lives here and
// is tested on the CPU with the same code the GPU runs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "error.h"

namespace hy {

using StreamId = uintptr_t;  // an opaque stream handle (0 for the host / default stream)
using EventId = uintptr_t;

struct RawMemory {
  virtual ~RawMemory() = default;
  virtual void* allocate(size_t bytes) = 0;  // nullptr when out of memory
  virtual void release(void* ptr) = 0;
  // Events: record on a stream; query whether all work before it finished; give it back.
  virtual EventId recordEvent(StreamId) { return 0; }
  virtual bool eventDone(EventId) { return true; }
  virtual void destroyEvent(EventId) {}
  virtual void synchronizeEvent(EventId) {}
  // Waits until the work queued on the stream so far has run. Called only in AddressSanitizer
  // builds, before a freed block is poisoned: stream-ordered kernels may still use it until then.
  virtual void synchronizeStream(StreamId) noexcept {}
};

struct AllocatorStats {
  uint64_t liveBytes = 0;        // bytes held by allocated blocks (rounded sizes)
  uint64_t requestedBytes = 0;   // bytes the callers asked for
  uint64_t reservedBytes = 0;    // bytes held in segments from the raw allocator
  uint64_t peakLiveBytes = 0;
  uint64_t peakReservedBytes = 0;
  uint64_t allocations = 0;      // successful allocate() calls
  uint64_t frees = 0;
  uint64_t cacheHits = 0;        // allocations served from cached memory
  uint64_t segmentAllocations = 0;
  uint64_t segmentReleases = 0;
  uint64_t oomRetries = 0;       // raw allocations retried after emptying the cache
  uint64_t pendingFrees = 0;     // blocks waiting on other streams' events
  uint64_t liveBlocks = 0;
  uint64_t segments = 0;
  uint64_t limitBytes = 0;       // 0: no limit
};

class CachingAllocator {
 public:
  struct Block;

  CachingAllocator(std::string name, RawMemory* raw);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Throws hy::Error(OutOfMemory) after emptying the cache and retrying once. Also rethrows, once,
  // an error that an earlier free() had to keep (see free()).
  Block* allocate(size_t bytes, StreamId stream);
  // Return a block; reuse waits for every stream recorded with recordStream(). Never throws: it is
  // called from destructors and finalizers. When the wait cannot be set up (recording an event
  // fails, as every CUDA call does after a sticky kernel fault) the block is retired, never handed
  // out again because a stream may still use it, and the error is rethrown by the next allocate().
  void free(Block* block) noexcept;
  // Mark that `stream` uses the block, so a free waits for that stream's work.
  void recordStream(Block* block, StreamId stream);
  // Give every wholly free segment back to the raw allocator (not while a private pool captures).
  void emptyCache();

  // Private pools, for CUDA graphs. A captured graph replays into the addresses its capture was
  // given, so from beginPool to endPool every allocation on `stream` comes from segments of the
  // pool alone, and a pool's blocks, freed or not, are never handed to anyone else until
  // releasePool (emptyCache keeps a pool's segments). A block from outside the pool freed during
  // the capture may still be read by the graph: it is held until releasePool too. A capture may
  // adopt a wholly free shared segment on its stream. During a capture nothing is released to the
  // raw allocator (the OOM retry is skipped) and pending frees wait: freeing device memory and
  // synchronizing a stream are what a capture forbids.
  void beginPool(uint64_t pool, StreamId stream);
  void endPool();
  // The pool's blocks become ordinary cached memory; live ones stay live.
  void releasePool(uint64_t pool);
  uint64_t activePool();
  AllocatorStats stats();
  void resetPeaks();
  void setLimit(uint64_t bytes);
  const std::string& name() const { return name_; }

  static void* blockPtr(const Block* b);
  static size_t blockSize(const Block* b);
  static StreamId blockStream(const Block* b);

  static constexpr size_t kMinBlock = 512;               // every size rounds up to this
  static constexpr size_t kSmallLimit = 1 << 20;         // <= 1 MiB: small pool
  static constexpr size_t kSmallSegment = 2 << 20;       // small blocks come from 2 MiB segments
  static constexpr size_t kLargeSegmentMin = 20 << 20;   // 1..10 MiB requests share 20 MiB segments
  static constexpr size_t kLargeRound = 2 << 20;         // larger requests round to 2 MiB

 private:
  struct BlockOrder {
    bool operator()(const Block* a, const Block* b) const;
  };
  using FreeSet = std::set<Block*, BlockOrder>;

  static size_t roundSize(size_t bytes);
  size_t segmentSize(size_t rounded) const;
  FreeSet& poolFor(size_t rounded);
  Block* findFree(size_t rounded, StreamId stream, uint64_t pool);
  Block* adoptSegment(size_t rounded, StreamId stream, uint64_t pool);
  void freeNow(Block* block) noexcept;
  void* rawAllocate(size_t bytes);
  void releaseToPool(Block* block);
  void processEvents();
  void releaseCachedSegments();
  [[noreturn]] void throwOutOfMemory(size_t bytes, bool retried);
  void retire(Block* block, std::exception_ptr error) noexcept;
  void raiseDeferredError();

  std::string name_;
  RawMemory* raw_;
  std::mutex mutex_;
  FreeSet smallFree_, largeFree_;
  std::unordered_map<void*, Block*> segments_;  // segment base -> first block
  struct Pending { Block* block; std::vector<EventId> events; };
  std::vector<Pending> pending_;
  std::exception_ptr deferredError_;  // the first free() failure not yet reported
  uint64_t activePool_ = 0;           // the pool capturing, 0 when none
  StreamId poolStream_ = 0;
  std::unordered_map<uint64_t, std::vector<Block*>> heldForPool_;  // outside blocks freed during a capture
  AllocatorStats stats_;
};

// Thrown when memory stays short after the cache was emptied; carries the allocator's figures.
class OutOfMemory : public Error {
 public:
  OutOfMemory(const std::string& message, const AllocatorStats& stats);
  AllocatorStats stats;
};

}  // namespace hy
