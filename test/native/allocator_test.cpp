// Deterministic tests of the caching allocator on a private instance over fake raw memory and
// fake events: exact block placement, splitting and merging, per-stream pools, deferred reuse
// until other streams' events complete, OOM recovery and statistics, and frees whose event
// records fail (as every CUDA call does after a sticky fault). Run by test/native.test.ts.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "../../core/caching_allocator.h"
#include "../../core/error.h"

using hy::CachingAllocator;

namespace {

int failures = 0;
int checks = 0;

#define CHECK(cond)                                                       \
  do {                                                                    \
    ++checks;                                                             \
    if (!(cond)) {                                                        \
      ++failures;                                                         \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                     \
  } while (0)

// Raw memory from malloc; events complete only when the test says so. After failRecordAfter more
// successful records, recordEvent throws the error a CUDA call gives after a sticky kernel fault.
struct FakeRaw : hy::RawMemory {
  std::set<void*> live;
  std::set<hy::EventId> pendingEvents;
  std::vector<hy::EventId> destroyed;
  hy::EventId nextEvent = 1;
  int failRecordAfter = -1;  // -1: never fail
  void* allocate(size_t bytes) override {
    void* p = std::malloc(bytes);
    if (p != nullptr) live.insert(p);
    return p;
  }
  void release(void* p) override {
    live.erase(p);
    std::free(p);
  }
  hy::EventId recordEvent(hy::StreamId) override {
    if (failRecordAfter == 0) {
      throw hy::Error(hy::ErrorKind::Runtime,
                      "cudaEventRecord: cudaErrorIllegalAddress: an illegal memory access was encountered",
                      "cudaErrorIllegalAddress");
    }
    if (failRecordAfter > 0) --failRecordAfter;
    pendingEvents.insert(nextEvent);
    return nextEvent++;
  }
  void destroyEvent(hy::EventId e) override {
    pendingEvents.erase(e);
    destroyed.push_back(e);
  }
  bool eventDone(hy::EventId e) override { return pendingEvents.count(e) == 0; }
  void synchronizeEvent(hy::EventId e) override { pendingEvents.erase(e); }
  void completeAll() { pendingEvents.clear(); }
};

char* ptr(CachingAllocator::Block* b) { return static_cast<char*>(CachingAllocator::blockPtr(b)); }

void splitAndMerge() {
  FakeRaw raw;
  CachingAllocator a("test", &raw);
  auto* x = a.allocate(1000, 0);
  auto* y = a.allocate(1000, 0);
  CHECK(a.stats().segments == 1);
  CHECK(ptr(y) == ptr(x) + 1024);  // 1000 rounds to 1024, split from the same 2 MiB segment
  CHECK(CachingAllocator::blockSize(x) == 1024);
  a.free(x);
  a.free(y);
  auto* z = a.allocate(2048, 0);  // fits only because x and y merged back
  CHECK(ptr(z) == ptr(x));
  CHECK(a.stats().segmentAllocations == 1);
  CHECK(a.stats().cacheHits == 2);
  a.free(z);
  a.emptyCache();
  CHECK(a.stats().reservedBytes == 0);
  CHECK(raw.live.empty());
}

void largePool() {
  FakeRaw raw;
  CachingAllocator a("test", &raw);
  auto* x = a.allocate(5u << 20, 0);
  CHECK(a.stats().reservedBytes == (20u << 20));
  auto* y = a.allocate(12u << 20, 0);
  CHECK(ptr(y) == ptr(x) + (5u << 20));
  CHECK(a.stats().segments == 1);
  auto* big = a.allocate(33u << 20, 0);  // rounds to 34 MiB, a segment of its own
  CHECK(a.stats().reservedBytes == (20u << 20) + (34u << 20));
  a.free(x);
  a.emptyCache();  // y still lives in the first segment: nothing to give back there
  CHECK(a.stats().reservedBytes == (20u << 20) + (34u << 20));
  a.free(big);
  a.emptyCache();
  CHECK(a.stats().reservedBytes == (20u << 20));
  a.free(y);
  a.emptyCache();
  CHECK(a.stats().reservedBytes == 0);
}

void perStreamPools() {
  FakeRaw raw;
  CachingAllocator a("test", &raw);
  auto* x = a.allocate(4096, 1);
  char* px = ptr(x);
  a.free(x);
  auto* y = a.allocate(4096, 2);  // another stream never gets stream 1's cached block
  CHECK(ptr(y) != px);
  CHECK(CachingAllocator::blockStream(y) == 2);
  auto* z = a.allocate(4096, 1);
  CHECK(ptr(z) == px);
  a.free(y);
  a.free(z);
}

void deferredReuse() {
  FakeRaw raw;
  CachingAllocator a("test", &raw);
  auto* x = a.allocate(4096, 1);
  char* px = ptr(x);
  a.recordStream(x, 2);  // another stream still reads it
  a.free(x);
  CHECK(a.stats().pendingFrees == 1);
  auto* y = a.allocate(4096, 1);
  CHECK(ptr(y) != px);  // not reused while stream 2's work may be pending
  raw.completeAll();
  auto* z = a.allocate(4096, 1);
  CHECK(ptr(z) == px);  // reused once the event completed
  CHECK(a.stats().pendingFrees == 0);
  a.free(y);
  a.free(z);
  CHECK(a.stats().liveBytes == 0);
}

void outOfMemory() {
  FakeRaw raw;
  CachingAllocator a("test", &raw);
  a.setLimit(40u << 20);
  auto* x = a.allocate(3u << 20, 0);  // a 20 MiB segment
  a.free(x);                          // cached
  auto* y = a.allocate(30u << 20, 0);  // 20 + 30 > 40: the cache is emptied and the retry fits
  CHECK(a.stats().oomRetries == 1);
  CHECK(a.stats().reservedBytes == (30u << 20));
  bool threw = false;
  try {
    a.allocate(20u << 20, 0);
  } catch (const hy::OutOfMemory& e) {
    threw = true;
    CHECK(e.stats.liveBytes == (30u << 20));
    CHECK(e.stats.limitBytes == (40u << 20));
    CHECK(std::string(e.what()).find("out of memory allocating 20971520 bytes") != std::string::npos);
  }
  CHECK(threw);
  CHECK(a.stats().oomRetries == 2);
  a.free(y);
  auto* z = a.allocate(20u << 20, 0);  // fits again
  a.free(z);
}

void pendingFreesCountUnderPressure() {
  FakeRaw raw;
  CachingAllocator a("test", &raw);
  a.setLimit(20u << 20);
  auto* x = a.allocate(3u << 20, 1);
  a.recordStream(x, 2);
  a.free(x);  // pending on stream 2
  // 18 MiB does not fit the 17 MiB free remainder, and a new segment would pass the limit: OOM
  // recovery waits for the pending event, gives the now wholly free segment back, and retries.
  auto* y = a.allocate(18u << 20, 1);
  CHECK(a.stats().pendingFrees == 0);
  CHECK(a.stats().segments == 1);
  CHECK(a.stats().oomRetries == 1);
  CHECK(a.stats().reservedBytes == (18u << 20));
  a.free(y);
}

// Frees the block from a destructor, as Storage's destructor and the JS finalizers do: a throw
// from free() would end the process with std::terminate.
struct FreeOnDestruction {
  CachingAllocator& allocator;
  CachingAllocator::Block* block;
  ~FreeOnDestruction() { allocator.free(block); }
};

void failedEventRecord() {
  FakeRaw raw;
  {
    CachingAllocator a("test", &raw);
    auto* x = a.allocate(4096, 1);
    char* px = ptr(x);
    a.recordStream(x, 2);
    a.recordStream(x, 3);
    raw.failRecordAfter = 1;  // stream 2's event records, stream 3's throws
    { FreeOnDestruction f{a, x}; }  // must not throw
    CHECK(raw.destroyed.size() == 1 && raw.destroyed[0] == 1);  // stream 2's event given back
    CHECK(raw.pendingEvents.empty());
    hy::AllocatorStats st = a.stats();
    CHECK(st.liveBytes == 0 && st.liveBlocks == 0 && st.frees == 1);
    CHECK(st.pendingFrees == 0);  // retired, not pending: no event would ever say it is done
    raw.failRecordAfter = -1;

    // The next allocation reports the error, once, with the CUDA error's code.
    bool threw = false;
    try {
      a.allocate(4096, 1);
    } catch (const hy::Error& e) {
      threw = true;
      CHECK(e.code() == "cudaErrorIllegalAddress");
      CHECK(std::string(e.what()).find("test: a freed block was retired") == 0);
      CHECK(std::string(e.what()).find("cudaEventRecord: cudaErrorIllegalAddress") != std::string::npos);
    }
    CHECK(threw);
    CHECK(a.stats().allocations == 1);

    // The retired block is never handed out again, merged, or given back with its segment.
    auto* y = a.allocate(4096, 1);
    auto* z = a.allocate(2u << 20, 1);  // a whole small segment: a new one
    CHECK(ptr(y) != px && ptr(z) != px);
    CHECK(ptr(y) == px + 4096);
    a.free(y);
    a.free(z);
    a.emptyCache();
    CHECK(a.stats().segments == 1);  // the retired block's segment stays
    CHECK(a.stats().liveBytes == 0);
    auto* w = a.allocate(1024, 1);
    CHECK(ptr(w) != px);
    a.free(w);

    // A free after the fault with no other stream involved needs no event and still works.
    raw.failRecordAfter = 0;
    auto* v = a.allocate(512, 1);
    a.free(v);
    CHECK(a.stats().liveBlocks == 0);
    auto* u = a.allocate(512, 1);  // no deferred error this time
    CHECK(ptr(u) == ptr(v));
    a.free(u);
  }
  CHECK(raw.live.empty());  // the allocator's destructor releases the retired block's segment too
}

}  // namespace

int main() {
  splitAndMerge();
  largePool();
  perStreamPools();
  deferredReuse();
  outOfMemory();
  pendingFreesCountUnderPressure();
  failedEventRecord();
  std::printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
