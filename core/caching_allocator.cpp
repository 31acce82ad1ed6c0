#include "caching_allocator.h"

#include <algorithm>
#include <sstream>

#include "error.h"

// Under AddressSanitizer (the emulated test build) the bytes of a segment that no caller asked
// for are poisoned: a cached block's rounding slack, free blocks and the rest of a segment. One
// element read or written past a tensor then ends in ASan's report, as with exact allocations.
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define HY_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define HY_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define HY_POISON(p, n) ((void)(p), (void)(n))
#define HY_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace hy {

struct CachingAllocator::Block {
  char* ptr = nullptr;
  size_t size = 0;
  size_t requested = 0;
  StreamId stream = 0;
  bool allocated = false;
  bool small = false;
  uint64_t pool = 0;  // a private pool (beginPool), 0 for the shared cache
  Block* prev = nullptr;  // neighbours inside the same segment
  Block* next = nullptr;
  std::vector<StreamId> streamUses;
};

bool CachingAllocator::BlockOrder::operator()(const Block* a, const Block* b) const {
  if (a->pool != b->pool) return a->pool < b->pool;
  if (a->stream != b->stream) return a->stream < b->stream;
  if (a->size != b->size) return a->size < b->size;
  return a->ptr < b->ptr;
}

OutOfMemory::OutOfMemory(const std::string& message, const AllocatorStats& s)
    : Error(ErrorKind::OutOfMemory, message, "ERR_OUT_OF_MEMORY"), stats(s) {}

CachingAllocator::CachingAllocator(std::string name, RawMemory* raw) : name_(std::move(name)), raw_(raw) {}

CachingAllocator::~CachingAllocator() {
  for (auto& [base, first] : segments_) {
    raw_->release(base);
    for (Block* b = first; b != nullptr;) {
      Block* n = b->next;
      delete b;
      b = n;
    }
  }
}

void* CachingAllocator::blockPtr(const Block* b) { return b->ptr; }
size_t CachingAllocator::blockSize(const Block* b) { return b->size; }
StreamId CachingAllocator::blockStream(const Block* b) { return b->stream; }

size_t CachingAllocator::roundSize(size_t bytes) {
  if (bytes < kMinBlock) return kMinBlock;
  return (bytes + kMinBlock - 1) / kMinBlock * kMinBlock;
}

size_t CachingAllocator::segmentSize(size_t rounded) const {
  if (rounded <= kSmallLimit) return kSmallSegment;
  if (rounded < (10u << 20)) return kLargeSegmentMin;
  return (rounded + kLargeRound - 1) / kLargeRound * kLargeRound;
}

CachingAllocator::FreeSet& CachingAllocator::poolFor(size_t rounded) {
  return rounded <= kSmallLimit ? smallFree_ : largeFree_;
}

CachingAllocator::Block* CachingAllocator::findFree(size_t rounded, StreamId stream, uint64_t poolId) {
  FreeSet& pool = poolFor(rounded);
  Block key;
  key.pool = poolId;
  key.stream = stream;
  key.size = rounded;
  auto it = pool.lower_bound(&key);
  if (it == pool.end() || (*it)->stream != stream || (*it)->pool != poolId) return nullptr;
  Block* b = *it;
  pool.erase(it);
  return b;
}

void* CachingAllocator::rawAllocate(size_t bytes) {
  if (stats_.limitBytes != 0 && stats_.reservedBytes + bytes > stats_.limitBytes) return nullptr;
  return raw_->allocate(bytes);
}

CachingAllocator::Block* CachingAllocator::allocate(size_t bytes, StreamId stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  raiseDeferredError();
  processEvents();
  const size_t rounded = roundSize(bytes);
  const uint64_t poolId = activePool_ != 0 && stream == poolStream_ ? activePool_ : 0;
  Block* block = findFree(rounded, stream, poolId);
  if (block == nullptr && poolId != 0) block = adoptSegment(rounded, stream, poolId);
  if (block != nullptr) {
    ++stats_.cacheHits;
  } else {
    const size_t segBytes = segmentSize(rounded);
    void* base = rawAllocate(segBytes);
    if (base == nullptr && activePool_ != 0) throwOutOfMemory(bytes, false);  // no retry: it would free memory
    if (base == nullptr) {
      // Wait for deferred frees, give the whole cache back, and try once more.
      for (Pending& p : pending_) {
        for (EventId e : p.events) raw_->synchronizeEvent(e);
      }
      processEvents();
      releaseCachedSegments();
      ++stats_.oomRetries;
      base = rawAllocate(segBytes);
      if (base == nullptr) throwOutOfMemory(bytes, true);
    }
    // A pool's memory is never poisoned: any replay of its graph may touch any of it.
    if (poolId == 0) HY_POISON(base, segBytes);
    block = new Block();
    block->ptr = static_cast<char*>(base);
    block->size = segBytes;
    block->stream = stream;
    block->small = rounded <= kSmallLimit;
    block->pool = poolId;
    segments_[base] = block;
    ++stats_.segmentAllocations;
    ++stats_.segments;
    stats_.reservedBytes += segBytes;
    stats_.peakReservedBytes = std::max(stats_.peakReservedBytes, stats_.reservedBytes);
  }
  const size_t remaining = block->size - rounded;
  if (remaining >= (block->small ? kMinBlock : kSmallLimit + 1)) {
    Block* rest = new Block();
    rest->ptr = block->ptr + rounded;
    rest->size = remaining;
    rest->stream = block->stream;
    rest->small = block->small;
    rest->pool = block->pool;
    rest->prev = block;
    rest->next = block->next;
    if (block->next != nullptr) block->next->prev = rest;
    block->next = rest;
    block->size = rounded;
    poolFor(block->small ? 1 : kSmallLimit + 1).insert(rest);
  }
  block->allocated = true;
  block->requested = bytes;
  HY_UNPOISON(block->ptr, bytes);
  if (block->pool == 0) HY_POISON(block->ptr + bytes, block->size - bytes);
  ++stats_.allocations;
  ++stats_.liveBlocks;
  stats_.liveBytes += block->size;
  stats_.requestedBytes += bytes;
  stats_.peakLiveBytes = std::max(stats_.peakLiveBytes, stats_.liveBytes);
  return block;
}

void CachingAllocator::recordStream(Block* block, StreamId stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stream == block->stream) return;
  if (std::find(block->streamUses.begin(), block->streamUses.end(), stream) == block->streamUses.end()) {
    block->streamUses.push_back(stream);
  }
}

void CachingAllocator::free(Block* block) noexcept {
  if (block == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.frees;
  --stats_.liveBlocks;
  stats_.liveBytes -= block->size;
  stats_.requestedBytes -= block->requested;
  if (activePool_ != 0 && block->pool == 0) {
    heldForPool_[activePool_].push_back(block);  // the capture may have recorded a use of it
    return;
  }
  freeNow(block);
}

void CachingAllocator::freeNow(Block* block) noexcept {
  if (block->streamUses.empty()) {
    releaseToPool(block);
    return;
  }
  Pending p{block, {}};
  try {
    p.events.reserve(block->streamUses.size());
    for (StreamId s : block->streamUses) p.events.push_back(raw_->recordEvent(s));
    pending_.push_back(std::move(p));
  } catch (...) {
    for (EventId e : p.events) {
      try {
        raw_->destroyEvent(e);
      } catch (...) {
      }
    }
    retire(block, std::current_exception());
    return;
  }
  block->streamUses.clear();
  ++stats_.pendingFrees;
}

// Without an event there is no telling when the other streams are done with the block, so it stays
// marked allocated (no merge, no reuse, its segment is never released) until the allocator goes.
void CachingAllocator::retire(Block* block, std::exception_ptr error) noexcept {
  block->streamUses.clear();
  block->requested = 0;
  if (!deferredError_) deferredError_ = error;
}

void CachingAllocator::raiseDeferredError() {
  if (!deferredError_) return;
  const std::exception_ptr e = deferredError_;
  deferredError_ = nullptr;
  const std::string prefix = name_ + ": a freed block was retired, its streams' use could not be tracked: ";
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    throw Error(err.kind(), prefix + err.what(), err.code());
  } catch (const std::exception& err) {
    throw Error(ErrorKind::Runtime, prefix + err.what());
  }
}

// A wholly free segment of the shared cache on the pool's stream becomes the pool's: its last
// users come before the capture in stream order. Without this every capture after a recapture
// would take new memory while the old pool's, given back by releasePool, sat unused.
CachingAllocator::Block* CachingAllocator::adoptSegment(size_t rounded, StreamId stream, uint64_t poolId) {
  FreeSet& pool = poolFor(rounded);
  Block key;
  key.pool = 0;
  key.stream = stream;
  key.size = rounded;
  for (auto it = pool.lower_bound(&key); it != pool.end() && (*it)->pool == 0 && (*it)->stream == stream; ++it) {
    Block* b = *it;
    if (b->prev != nullptr || b->next != nullptr) continue;  // part of a segment others use
    pool.erase(it);
    b->pool = poolId;
    HY_UNPOISON(b->ptr, b->size);  // a pool's memory is never poisoned
    return b;
  }
  return nullptr;
}

void CachingAllocator::releaseToPool(Block* block) {
  FreeSet& pool = poolFor(block->small ? 1 : kSmallLimit + 1);
  if (block->pool == 0) {
#if defined(__SANITIZE_ADDRESS__)
    raw_->synchronizeStream(block->stream);
#endif
    HY_POISON(block->ptr, block->size);
  }
  block->allocated = false;
  block->requested = 0;
  if (block->prev != nullptr && !block->prev->allocated) {
    Block* p = block->prev;
    pool.erase(p);
    p->size += block->size;
    p->next = block->next;
    if (block->next != nullptr) block->next->prev = p;
    delete block;
    block = p;
  }
  if (block->next != nullptr && !block->next->allocated) {
    Block* n = block->next;
    pool.erase(n);
    block->size += n->size;
    block->next = n->next;
    if (n->next != nullptr) n->next->prev = block;
    delete n;
  }
  pool.insert(block);
}

void CachingAllocator::processEvents() {
  // During a capture a released block could need its stream synchronized (ASan) or an event
  // recorded, which the capture forbids: pending frees wait until it ends, as PyTorch's do.
  if (activePool_ != 0) return;
  for (size_t i = 0; i < pending_.size();) {
    Pending& p = pending_[i];
    bool done = true;
    for (EventId e : p.events) done = done && raw_->eventDone(e);
    if (!done) {
      ++i;
      continue;
    }
#if defined(__SANITIZE_ADDRESS__)
    // After a sticky fault eventDone reports every event done; wait for the other streams' real
    // completion before the block is poisoned, so that no copy still running trips over it.
    for (EventId e : p.events) raw_->synchronizeEvent(e);
#endif
    for (EventId e : p.events) raw_->destroyEvent(e);
    releaseToPool(p.block);
    --stats_.pendingFrees;
    pending_[i] = std::move(pending_.back());
    pending_.pop_back();
  }
}

void CachingAllocator::releaseCachedSegments() {
  for (auto it = segments_.begin(); it != segments_.end();) {
    Block* b = it->second;
    if (b->allocated || b->next != nullptr || b->pool != 0) {  // a live graph may still use a pool's segment
      ++it;
      continue;
    }
    poolFor(b->small ? 1 : kSmallLimit + 1).erase(b);
    HY_UNPOISON(b->ptr, b->size);  // the raw allocator owns these bytes again
    raw_->release(it->first);
    stats_.reservedBytes -= b->size;
    ++stats_.segmentReleases;
    --stats_.segments;
    delete b;
    it = segments_.erase(it);
  }
}

void CachingAllocator::emptyCache() {
  std::lock_guard<std::mutex> lock(mutex_);
  processEvents();
  if (activePool_ == 0) releaseCachedSegments();
}

void CachingAllocator::beginPool(uint64_t pool, StreamId stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pool == 0 || activePool_ != 0) throw Error(ErrorKind::Runtime, name_ + ": a private pool is already capturing");
  activePool_ = pool;
  poolStream_ = stream;
}

void CachingAllocator::endPool() {
  std::lock_guard<std::mutex> lock(mutex_);
  activePool_ = 0;
  poolStream_ = 0;
}

uint64_t CachingAllocator::activePool() {
  std::lock_guard<std::mutex> lock(mutex_);
  return activePool_;
}

void CachingAllocator::releasePool(uint64_t poolId) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (poolId == 0 || poolId == activePool_) return;
  for (auto& [base, first] : segments_) {
    if (first->pool != poolId) continue;
#if defined(__SANITIZE_ADDRESS__)
    raw_->synchronizeStream(first->stream);  // a replay may still run in the pool's memory
#endif
    for (Block* b = first; b != nullptr; b = b->next) {
      const bool cached = !b->allocated;
      FreeSet& set = poolFor(b->small ? 1 : kSmallLimit + 1);
      if (cached) set.erase(b);
      b->pool = 0;
      if (cached) {
        HY_POISON(b->ptr, b->size);
        set.insert(b);
      }
    }
  }
  auto held = heldForPool_.find(poolId);
  if (held != heldForPool_.end()) {
    const std::vector<Block*> blocks = std::move(held->second);
    heldForPool_.erase(held);
    for (Block* b : blocks) freeNow(b);
  }
}

AllocatorStats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  processEvents();
  return stats_;
}

void CachingAllocator::resetPeaks() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peakLiveBytes = stats_.liveBytes;
  stats_.peakReservedBytes = stats_.reservedBytes;
}

void CachingAllocator::setLimit(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.limitBytes = bytes;
}

void CachingAllocator::throwOutOfMemory(size_t bytes, bool retried) {
  std::ostringstream m;
  m << name_ << ": out of memory allocating " << bytes << " bytes (live " << stats_.liveBytes << " bytes, reserved "
    << stats_.reservedBytes << " bytes";
  if (stats_.limitBytes != 0) m << ", limit " << stats_.limitBytes << " bytes";
  m << (retried ? ", cache emptied and retried once)" : ", during a CUDA-graph capture, which cannot empty the cache)");
  throw OutOfMemory(m.str(), stats_);
}

}  // namespace hy
