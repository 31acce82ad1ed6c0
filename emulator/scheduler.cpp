// The grid executor: each block's threads are fibers on the stream's host thread, run in rounds.
// In a round each warp in turn (in the selected order) runs its runnable lanes until each exits or
// blocks at a barrier or a warp rendezvous; a complete warp group is released at once, so the
// warp carries on ahead of the others. When no warp can move, a barrier that every live thread
// reached is released. Whatever can never complete (a lane named in a mask that exited or waits
// elsewhere, threads at different __syncthreads) fails the launch with a message naming the call,
// the block and the threads.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define HYEMU_ASAN 1
#endif

// A minimal x86-64 context switch: saves the callee-saved registers, MXCSR and the x87 control
// word on the current stack, stores the stack pointer in *save and continues on `load`.
extern "C" void hyemu_switch(void** save, void* load);
extern "C" void hyemu_trampoline();
asm(R"(
  .text
  .globl hyemu_switch
  .hidden hyemu_switch
  .type hyemu_switch, @function
hyemu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size hyemu_switch, .-hyemu_switch

  .globl hyemu_trampoline
  .hidden hyemu_trampoline
  .type hyemu_trampoline, @function
hyemu_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size hyemu_trampoline, .-hyemu_trampoline
  .section .note.GNU-stack,"",@progbits
  .text
)");

namespace hyemu {

thread_local Thread* tlsThread = nullptr;

namespace {

enum class State : uint8_t { Runnable, Barrier, Warp, Exited, Failed };

struct ThreadRec : Thread {
  State state = State::Exited;
  void* sp = nullptr;
  char* stackLo = nullptr;
  void* fakeStack = nullptr;
  // at a barrier
  const char* file = nullptr;
  int line = 0;
  int reduceKind = -1;
  int predicate = 0;
  int reduceResult = 0;
  const char* yieldedAt = nullptr;  // the last operation at which the thread yielded
  // at a warp rendezvous
  Collective kind = Collective::SyncWarp;
  unsigned mask = 0;
  LaneSlot* slot = nullptr;
  const char* what = nullptr;
  Combine combine = nullptr;
};

struct SharedSite {
  const void* site;
  void* ptr;
};

constexpr size_t kRedzone = 64;
// Rounds in which threads only yield (nobody blocks, exits or is released) before the launch is
// declared hung: a spin-wait on something no thread of this block will do.
constexpr uint64_t kSpinRounds = 200000;
constexpr size_t kArenaBytes = 1u << 20;

#if defined(HYEMU_ASAN)
constexpr size_t kStackBytes = 1u << 20;
#else
constexpr size_t kStackBytes = 256u << 10;
#endif

// Per stream thread: the fibers' stacks, the shared-memory arena and the running block.
struct Executor {
  std::vector<ThreadRec> threads;
  std::vector<unsigned> order;      // the block's threads in run order
  std::vector<unsigned> warpOrder;  // its warps in run order
  std::vector<unsigned> laneOrder;  // per warp (32 slots each), its threads in run order
  std::vector<unsigned> laneCount;
  char* stacks = nullptr;
  unsigned stackCount = 0;
  bool stacksDirty = false;  // an abandoned block left frames (and ASan redzones) on them

  void* schedSp = nullptr;
  void* schedFake = nullptr;
  const void* schedBottom = nullptr;
  size_t schedSize = 0;

  Block block{};
  const LaunchConfig* cfg = nullptr;
  KernelBody* body = nullptr;
  unsigned threadCount = 0;
  size_t dynamicLimit = 0;  // the kernel's dynamic shared-memory limit, read once per launch

  char* arena = nullptr;
  size_t arenaTop = 0;   // bytes of the arena handed out in this block
  size_t arenaHigh = 0;  // the most any block has used: what the next block start re-poisons
  size_t staticBytes = 0;
  char* dynamic = nullptr;
  std::vector<SharedSite> sites;

  bool failed = false;
  LaunchResult result;
};

thread_local Executor* tlsExec = nullptr;

Executor& executor() {
  if (tlsExec == nullptr) {
    auto* ex = new Executor();  // lives as long as its stream thread
    ex->threads.resize(kMaxThreadsPerBlock);
    ex->order.resize(kMaxThreadsPerBlock);
    ex->laneOrder.resize(kMaxThreadsPerBlock);
    ex->laneCount.resize(kMaxThreadsPerBlock / 32);
    ex->arena = static_cast<char*>(std::aligned_alloc(4096, kArenaBytes));
    if (ex->arena == nullptr) {
      std::fprintf(stderr, "hayate emulator: cannot allocate the shared-memory arena\n");
      std::abort();
    }
    tlsExec = ex;
  }
  return *tlsExec;
}

void ensureStacks(Executor& ex, unsigned n) {
  if (ex.stackCount >= n) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t slot = kStackBytes + page;  // a guard page below each stack
  void* mem = mmap(nullptr, slot * kMaxThreadsPerBlock, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    std::fprintf(stderr, "hayate emulator: cannot map fiber stacks\n");
    std::abort();
  }
  ex.stacks = static_cast<char*>(mem);
  for (unsigned i = 0; i < kMaxThreadsPerBlock; ++i) {
    mprotect(ex.stacks + i * slot, page, PROT_NONE);
    ex.threads[i].stackLo = ex.stacks + i * slot + page;
  }
  ex.stackCount = kMaxThreadsPerBlock;
}

// ---- fiber switches, annotated for AddressSanitizer ----

inline void asanStart(void** fakeSave, const void* bottom, size_t size) {
#if defined(HYEMU_ASAN)
  __sanitizer_start_switch_fiber(fakeSave, bottom, size);
#else
  (void)fakeSave, (void)bottom, (void)size;
#endif
}
inline void asanFinish(void* fake, const void** oldBottom, size_t* oldSize) {
#if defined(HYEMU_ASAN)
  __sanitizer_finish_switch_fiber(fake, oldBottom, oldSize);
#else
  (void)fake, (void)oldBottom, (void)oldSize;
#endif
}

// From a fiber back to the scheduler. Returns when the scheduler resumes this thread.
void toScheduler(ThreadRec& t, bool finished) {
  Executor& ex = *tlsExec;
  asanStart(finished ? nullptr : &t.fakeStack, ex.schedBottom, ex.schedSize);
  hyemu_switch(&t.sp, ex.schedSp);
  asanFinish(t.fakeStack, nullptr, nullptr);
}

extern "C" void hyemuFiberMain(ThreadRec* t) {
  Executor& ex = *tlsExec;
  asanFinish(nullptr, &ex.schedBottom, &ex.schedSize);
  ex.body->run();
  for (std::vector<AsyncCopy>& group : t->copyGroups) {  // copies still in flight land anyway
    for (const AsyncCopy& c : group) std::memcpy(c.dst, c.src != nullptr ? c.src : c.data, sizeof c.data);
  }
  t->state = State::Exited;
  toScheduler(*t, true);
  __builtin_trap();  // an exited thread is never resumed
}

void initFiber(ThreadRec& t) {
  const uintptr_t top = (reinterpret_cast<uintptr_t>(t.stackLo) + kStackBytes) & ~uintptr_t{15};
  auto* sp = reinterpret_cast<uint64_t*>(top - 128);
  uint32_t mxcsr;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  sp[0] = mxcsr | (uint64_t{0x037f} << 32);  // MXCSR, x87 control word
  sp[1] = 0;                                  // r15
  sp[2] = 0;                                  // r14
  sp[3] = reinterpret_cast<uint64_t>(&hyemuFiberMain);  // r13: entry
  sp[4] = reinterpret_cast<uint64_t>(&t);               // r12: its argument
  sp[5] = 0;                                            // rbx
  sp[6] = 0;                                            // rbp
  sp[7] = reinterpret_cast<uint64_t>(&hyemu_trampoline);
  t.sp = sp;
  t.fakeStack = nullptr;
}

void resume(Executor& ex, ThreadRec& t) {
  tlsThread = &t;
  asanStart(&ex.schedFake, t.stackLo, kStackBytes);
  hyemu_switch(&ex.schedSp, t.sp);
  asanFinish(ex.schedFake, nullptr, nullptr);
  tlsThread = nullptr;
}

// ---- messages ----

std::string describeThread(const ThreadRec& t) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "thread (%u,%u,%u) [warp %u lane %u]", t.index.x, t.index.y, t.index.z,
                t.warp, t.lane);
  return buf;
}

std::string where(const Executor& ex) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s (launched at %s:%d), block (%u,%u,%u) of %u threads", ex.cfg->name,
                ex.cfg->file, ex.cfg->line, ex.block.index.x, ex.block.index.y, ex.block.index.z,
                ex.threadCount);
  return buf;
}

std::string vformat(const char* fmt, va_list ap) {
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  return buf;
}

void failBlock(Executor& ex, cudaError_t err, const std::string& message) {
  if (ex.failed) return;
  ex.failed = true;
  ex.result.error = err;
  ex.result.message = "kernel " + where(ex) + ": " + message;
}

std::string describeState(const ThreadRec& u) {
  char buf[256];
  switch (u.state) {
    case State::Exited: return "it exited";
    case State::Barrier: std::snprintf(buf, sizeof buf, "it waits at __syncthreads (%s:%d)", u.file, u.line); return buf;
    case State::Warp:
      std::snprintf(buf, sizeof buf, "it waits at %s(mask 0x%08x) (%s:%d)", u.what, u.mask, u.slot->file,
                    u.slot->line);
      return buf;
    default: return "it is still running";
  }
}

ThreadRec& self(const char* what) {
  Thread* t = tlsThread;
  if (t == nullptr) outsideKernel(what);
  return *static_cast<ThreadRec*>(t);
}

// ---- warp rendezvous ----

unsigned lanesOf(const Executor& ex, unsigned warp) {
  const unsigned first = warp * 32;
  const unsigned count = std::min(32u, ex.threadCount - first);
  return count == 32 ? 0xffffffffu : ((1u << count) - 1);
}

uint64_t poisonValue(unsigned bytes) { return bytes >= 8 ? ~uint64_t{0} : ((uint64_t{1} << (8 * bytes)) - 1); }

// slots[l] is null for a lane of the mask that exited (or that a partial warp does not have):
// votes count the lanes that arrived, and a shuffle reading such a lane gets an undefined value.
void combineBuiltin(Collective kind, LaneSlot* const* s, unsigned mask) {
  unsigned votes = 0, arrived = 0;
  for (unsigned l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u) || s[l] == nullptr) continue;
    arrived |= 1u << l;
    if (s[l]->value != 0) votes |= 1u << l;
  }
  for (unsigned l = 0; l < 32; ++l) {
    if (!(arrived >> l & 1u)) continue;
    LaneSlot& me = *s[l];
    // shfl.sync as the PTX ISA defines it: b[4:0] the lane or offset, c = (32 - width) << 8 with
    // the clamp 0x1f (0 for up), minLane/maxLane the segment's bounds.
    const int lane = static_cast<int>(l);
    const int bval = me.param & 31;
    const int segmask = (32 - me.width) & 31;
    const int cval = kind == Collective::ShflUp ? 0 : 31;
    const int maxLane = (lane & segmask) | (cval & ~segmask);
    const int minLane = lane & segmask;
    int j = lane;
    bool pval = true;
    switch (kind) {
      case Collective::Shfl: j = minLane | (bval & ~segmask); pval = j <= maxLane; break;
      case Collective::ShflUp: j = lane - bval; pval = j >= maxLane; break;
      case Collective::ShflDown: j = lane + bval; pval = j <= maxLane; break;
      case Collective::ShflXor: j = lane ^ bval; pval = j <= maxLane; break;
      case Collective::Ballot: me.result = votes; continue;
      case Collective::Any: me.result = votes != 0; continue;
      case Collective::All: me.result = votes == arrived; continue;
      default: me.result = 0; continue;
    }
    if (!pval) j = lane;
    me.result = (j >= 0 && j < 32 && (arrived >> j & 1u)) ? s[j]->value : poisonValue(me.bytes);
  }
}

// Lane u is at the same warp operation as t. Matrix operations must also agree on which one
// (its combine step, name and variant), or one lane's operands would be read as another's.
bool sameGroup(const ThreadRec& t, const ThreadRec& u) {
  if (u.state != State::Warp || u.kind != t.kind || u.mask != t.mask) return false;
  if (t.kind == Collective::Wmma) {
    return u.combine == t.combine && u.what == t.what && u.slot->param == t.slot->param;
  }
  return true;
}

// A lane of the mask that will never arrive and does not need to: exited, or absent from a
// partial warp ("all non-exited threads named in mask must execute the same intrinsic").
bool gone(const Executor& ex, unsigned warp, unsigned lane) {
  return !(lanesOf(ex, warp) >> lane & 1u) || ex.threads[warp * 32 + lane].state == State::Exited;
}

// Releases the complete groups of warp w. Returns whether any of its threads became runnable.
bool resolveWarp(Executor& ex, unsigned w) {
  ThreadRec* lanes = &ex.threads[w * 32];
  const unsigned present = lanesOf(ex, w);
  bool progress = false;
  unsigned activeWaiting = 0;
  for (unsigned l = 0; l < 32; ++l) {
    if (!(present >> l & 1u)) continue;
    ThreadRec& t = lanes[l];
    if (t.state != State::Warp) continue;
    if (t.kind == Collective::ActiveMask) {
      activeWaiting |= 1u << l;
      continue;
    }
    bool complete = true;
    for (unsigned j = 0; j < 32 && complete; ++j) {
      if ((t.mask >> j & 1u) && !gone(ex, w, j) && !sameGroup(t, lanes[j])) complete = false;
    }
    if (!complete) continue;
    LaneSlot* slots[32] = {};
    unsigned mask = 0;  // the lanes that take part
    for (unsigned j = 0; j < 32; ++j) {
      if ((t.mask >> j & 1u) && !gone(ex, w, j)) {
        slots[j] = lanes[j].slot;
        mask |= 1u << j;
      }
    }
    if (t.kind == Collective::Wmma && mask != 0xffffffffu) {
      failBlock(ex, cudaErrorLaunchFailure,
                std::string(t.what) + ": every lane of the warp must take part, but lanes " +
                    std::to_string(__builtin_popcount(~mask)) + " of 32 exited or do not exist");
      return false;
    }
    const unsigned group = t.mask;
    if (t.combine != nullptr) {
      t.combine(slots, mask);
    } else {
      combineBuiltin(t.kind, slots, mask);
    }
    if (ex.failed) return false;
    for (unsigned j = 0; j < 32; ++j) {
      if ((group >> j & 1u) && lanes[j].state == State::Warp) lanes[j].state = State::Runnable;
    }
    progress = true;
  }
  // __activemask resolves once nothing else in the warp can move: the lanes that reached it
  // together are the ones active there.
  if (!progress && activeWaiting != 0) {
    // One call site at a time: lanes at another __activemask are at another instruction.
    const LaneSlot* site = lanes[__builtin_ctz(activeWaiting)].slot;
    unsigned together = 0;
    for (unsigned l = 0; l < 32; ++l) {
      if ((activeWaiting >> l & 1u) && lanes[l].slot->file == site->file && lanes[l].slot->line == site->line) {
        together |= 1u << l;
      }
    }
    for (unsigned l = 0; l < 32; ++l) {
      if (together >> l & 1u) {
        lanes[l].slot->result = together;
        lanes[l].state = State::Runnable;
      }
    }
    progress = true;
  }
  return progress;
}

// Nothing can run and some lane waits at a warp rendezvous that cannot complete: say why.
void diagnoseWarps(Executor& ex) {
  for (unsigned i = 0; i < ex.threadCount; ++i) {
    const ThreadRec& t = ex.threads[i];
    if (t.state != State::Warp) continue;
    const ThreadRec* lanes = &ex.threads[t.warp * 32];
    for (unsigned j = 0; j < 32; ++j) {
      if (!(t.mask >> j & 1u) || gone(ex, t.warp, j) || sameGroup(t, lanes[j])) continue;
      char buf[512];
      std::snprintf(buf, sizeof buf, "%s(mask 0x%08x) at %s:%d by %s is never reached by lane %u (%s): %s", t.what,
                    t.mask, t.slot->file, t.slot->line, describeThread(t).c_str(), j,
                    describeThread(lanes[j]).c_str(), describeState(lanes[j]).c_str());
      failBlock(ex, cudaErrorLaunchFailure, buf);
      return;
    }
  }
}

void diagnoseSpin(Executor& ex) {
  for (unsigned i = 0; i < ex.threadCount; ++i) {
    const ThreadRec& t = ex.threads[i];
    if (t.state != State::Runnable) continue;
    failBlock(ex, cudaErrorLaunchTimeout,
              describeThread(t) + " spins at " + (t.yieldedAt != nullptr ? t.yieldedAt : "?") + " for " +
                  std::to_string(kSpinRounds) +
                  " rounds in which no thread blocked, exited or was released: it waits for something no thread "
                  "of this block will do (blocks run one after another here, and CUDA does not promise that "
                  "blocks run together)");
    return;
  }
}

// All live threads wait at __syncthreads: release them, unless they wait at different ones.
bool resolveBarrier(Executor& ex) {
  const ThreadRec* first = nullptr;
  int count = 0, all = 1, any = 0;
  for (unsigned i = 0; i < ex.threadCount; ++i) {
    const ThreadRec& t = ex.threads[i];
    if (t.state == State::Exited) continue;
    if (t.state != State::Barrier) return false;
    if (first == nullptr) {
      first = &t;
    } else if (t.file != first->file || t.line != first->line || t.reduceKind != first->reduceKind) {
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "divergent __syncthreads: %s waits at %s:%d while %s waits at %s:%d; every live thread of the "
                    "block must reach the same barrier",
                    describeThread(*first).c_str(), first->file, first->line, describeThread(t).c_str(), t.file,
                    t.line);
      failBlock(ex, cudaErrorLaunchFailure, buf);
      return false;
    }
    count += t.predicate != 0;
    all &= t.predicate != 0;
    any |= t.predicate != 0;
  }
  if (first == nullptr) return false;
  const int kind = first->reduceKind;
  const int result = kind == 0 ? count : (kind == 1 ? all : any);
  for (unsigned i = 0; i < ex.threadCount; ++i) {
    ThreadRec& t = ex.threads[i];
    if (t.state == State::Barrier) {
      t.reduceResult = result;
      t.state = State::Runnable;
    }
  }
  return true;
}

// ---- orders ----

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The block's thread order, then from it the order of warps (by first appearance) and of each
// warp's lanes.
void threadOrderFor(Executor& ex, uint64_t blockLinear) {
  const OrderSetting o = threadOrder();
  const unsigned n = ex.threadCount;
  for (unsigned i = 0; i < n; ++i) ex.order[i] = o.order == Order::Reverse ? n - 1 - i : i;
  if (o.order == Order::Shuffle) {
    uint64_t s = o.seed ^ (blockLinear * 0x2545f4914f6cdd1dull);
    for (unsigned i = n; i > 1; --i) std::swap(ex.order[i - 1], ex.order[splitmix(s) % i]);
  }
  const unsigned warps = (n + 31) / 32;
  ex.warpOrder.clear();
  for (unsigned w = 0; w < warps; ++w) ex.laneCount[w] = 0;
  for (unsigned k = 0; k < n; ++k) {
    const unsigned t = ex.order[k], w = t / 32;
    if (ex.laneCount[w] == 0) ex.warpOrder.push_back(w);
    ex.laneOrder[w * 32 + ex.laneCount[w]++] = t;
  }
}

uint64_t gcd(uint64_t a, uint64_t b) {
  while (b != 0) {
    const uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// ---- blocks ----

void resetArena(Executor& ex) {
#if defined(HYEMU_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(ex.arena, ex.arenaHigh);
#endif
  std::memset(ex.arena, 0xff, ex.arenaHigh);  // NaN in float, half and double: reads before writes show
#if defined(HYEMU_ASAN)
  ASAN_POISON_MEMORY_REGION(ex.arena, kArenaBytes);
#endif
  ex.sites.clear();
  ex.staticBytes = 0;
  ex.arenaTop = 0;
  ex.dynamic = nullptr;
  const size_t dyn = ex.cfg->sharedBytes;
  if (dyn > 0) {
    // 16-byte aligned (as extern __shared__ __align__(16) is), but deliberately not 32-byte.
    char* p = ex.arena + kRedzone;
    if ((reinterpret_cast<uintptr_t>(p) & 31u) == 0) p += 16;
    ex.dynamic = p;
    ex.arenaTop = static_cast<size_t>(p - ex.arena) + dyn;
#if defined(HYEMU_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(p, dyn);
#endif
    std::memset(p, 0xff, dyn);
    ex.arenaHigh = std::max(ex.arenaHigh, ex.arenaTop);
  }
}

void runBlock(Executor& ex, uint64_t linear) {
  const dim3 g = ex.cfg->grid, b = ex.cfg->block;
  ex.block.index.x = static_cast<unsigned>(linear % g.x);
  ex.block.index.y = static_cast<unsigned>((linear / g.x) % g.y);
  ex.block.index.z = static_cast<unsigned>(linear / (static_cast<uint64_t>(g.x) * g.y));
  resetArena(ex);
#if defined(HYEMU_ASAN)
  if (ex.stacksDirty) {
    for (unsigned i = 0; i < ex.stackCount; ++i) ASAN_UNPOISON_MEMORY_REGION(ex.threads[i].stackLo, kStackBytes);
    ex.stacksDirty = false;
  }
#endif
  for (unsigned i = 0; i < ex.threadCount; ++i) {
    ThreadRec& t = ex.threads[i];
    t.index.x = i % b.x;
    t.index.y = (i / b.x) % b.y;
    t.index.z = i / (b.x * b.y);
    t.linear = i;
    t.lane = i % 32;
    t.warp = i / 32;
    t.block = &ex.block;
    t.copiesOpen.clear();
    t.copyGroups.clear();
    t.matrixCalls = 0;
    t.yieldedAt = nullptr;
    t.state = State::Runnable;
    initFiber(t);
  }
  ex.block.dim = b;
  ex.block.grid = g;
  threadOrderFor(ex, linear);
  // A warp runs until all its lanes are blocked (or yield, at atomics, fences and __nanosleep);
  // its rendezvous resolve as soon as they are complete, so one warp runs ahead of the others up
  // to the next __syncthreads, as it may on the device: a missing barrier between warps shows even
  // where warp operations follow. Yielding threads run again next round, so a spin-wait on
  // another warp progresses; one that nothing can end fails as a timeout.
  uint64_t idleRounds = 0;
  for (;;) {
    bool moved = false;     // a thread blocked, exited or was released this round
    bool yielding = false;  // a thread yielded and is still runnable
    for (const unsigned w : ex.warpOrder) {
      for (;;) {
        for (unsigned k = 0; k < ex.laneCount[w]; ++k) {
          ThreadRec& t = ex.threads[ex.laneOrder[w * 32 + k]];
          if (t.state != State::Runnable) continue;
          resume(ex, t);
          if (ex.failed) {
            ex.stacksDirty = true;
            return;
          }
          if (t.state == State::Runnable) {
            yielding = true;
          } else {
            moved = true;
          }
        }
        if (!resolveWarp(ex, w)) break;
        moved = true;
      }
      if (ex.failed) break;
    }
    if (ex.failed) break;
    if (yielding) {
      idleRounds = moved ? 0 : idleRounds + 1;
      if (idleRounds > kSpinRounds) {
        diagnoseSpin(ex);
        break;
      }
      continue;
    }
    diagnoseWarps(ex);
    if (ex.failed) break;
    if (resolveBarrier(ex)) continue;
    break;  // every thread exited, or the barrier diverged
  }
  if (ex.failed) ex.stacksDirty = true;
}

}  // namespace

// ---- entry points used by device code ----

void outsideKernel(const char* what) {
  std::fprintf(stderr, "hayate emulator: %s used outside a kernel\n", what);
  std::abort();
}

void fail(cudaError_t err, const char* fmt, ...) {
  ThreadRec& t = self("a device fault");
  va_list ap;
  va_start(ap, fmt);
  const std::string message = vformat(fmt, ap);
  va_end(ap);
  failBlock(*tlsExec, err, describeThread(t) + ": " + message);
  t.state = State::Failed;
  toScheduler(t, false);
  __builtin_trap();  // a failed block is abandoned, never resumed
}

void groupFault(cudaError_t err, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const std::string message = vformat(fmt, ap);
  va_end(ap);
  failBlock(*tlsExec, err, message);
}

void yieldThread(const char* what) {
  ThreadRec& t = self(what);
  t.yieldedAt = what;
  toScheduler(t, false);  // still runnable: the scheduler runs the others first
}

void syncthreads(const char* file, int line) {
  ThreadRec& t = self("__syncthreads");
  t.state = State::Barrier;
  t.file = file;
  t.line = line;
  t.reduceKind = -1;
  t.predicate = 0;
  toScheduler(t, false);
}

int syncthreadsReduce(int kind, int predicate, const char* file, int line) {
  ThreadRec& t = self("__syncthreads_count/and/or");
  t.state = State::Barrier;
  t.file = file;
  t.line = line;
  t.reduceKind = kind;
  t.predicate = predicate;
  toScheduler(t, false);
  return t.reduceResult;
}

void warpCollective(Collective kind, unsigned mask, LaneSlot* slot, const char* what, Combine combine) {
  ThreadRec& t = self(what);
  if (kind != Collective::ActiveMask) {
    if (!(mask >> t.lane & 1u)) {
      fail(cudaErrorLaunchFailure, "%s(mask 0x%08x) at %s:%d: the mask does not include the calling lane %u", what,
           mask, slot->file, slot->line, t.lane);
    }
    if (kind >= Collective::Shfl && kind <= Collective::ShflXor &&
        (slot->width <= 0 || slot->width > 32 || (slot->width & (slot->width - 1)) != 0)) {
      fail(cudaErrorLaunchFailure, "%s at %s:%d: width %d is not a power of two in [1, 32]", what, slot->file,
           slot->line, slot->width);
    }
  }
  t.state = State::Warp;
  t.kind = kind;
  t.mask = mask;
  t.slot = slot;
  t.what = what;
  t.combine = combine;
  toScheduler(t, false);
}

uint64_t warpValue(Collective kind, const char* what, const char* file, int line, unsigned mask, uint64_t value,
                   unsigned bytes, int param, int width) {
  LaneSlot s;
  s.value = value;
  s.bytes = bytes;
  s.param = param;
  s.width = width;
  s.file = file;
  s.line = line;
  warpCollective(kind, mask, &s, what, nullptr);
  return s.result;
}

void* sharedStatic(const void* site, size_t bytes, size_t align, const char* name) {
  self("a __shared__ array");
  Executor& ex = *tlsExec;
  for (const SharedSite& s : ex.sites) {
    if (s.site == site) return s.ptr;
  }
  const size_t total = ex.staticBytes + bytes;
  if (total > kStaticSharedLimit) {
    fail(cudaErrorInvalidValue, "__shared__ %s (%zu bytes) takes static shared memory to %zu bytes, over the 48 KiB "
         "a block may declare statically", name, bytes, total);
  }
  // Static and dynamic together: 48 KiB, or static plus the kernel's opt-in dynamic limit.
  const size_t optIn = ex.dynamicLimit;
  if (optIn == kStaticSharedLimit ? total + ex.cfg->sharedBytes > kStaticSharedLimit
                                  : total + optIn > kSharedOptinLimit) {
    fail(cudaErrorInvalidValue, "__shared__ %s: %zu bytes of static and %zu of dynamic shared memory exceed the "
         "block's limit (48 KiB, or 227 KiB with cudaFuncSetAttribute)", name, total, ex.cfg->sharedBytes);
  }
#if defined(HYEMU_ASAN)
  // Whole 8-byte granules, so that even s[-1] falls in a poisoned redzone.
  if (align < 8) align = 8;
#endif
  // Exactly the declared alignment and no more, so code that assumes more fails here too.
  uintptr_t p = reinterpret_cast<uintptr_t>(ex.arena) + ex.arenaTop + kRedzone;
  p = (p + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
  if (align < 256 && (p & (2 * align - 1)) == 0) p += align;
  const size_t end = p + bytes - reinterpret_cast<uintptr_t>(ex.arena);
  if (end + kRedzone > kArenaBytes) fail(cudaErrorInvalidValue, "shared memory arena exhausted");
  ex.arenaTop = end;
  ex.arenaHigh = std::max(ex.arenaHigh, end);
  ex.staticBytes += bytes;
  char* ptr = reinterpret_cast<char*>(p);
#if defined(HYEMU_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(ptr, bytes);
#endif
  std::memset(ptr, 0xff, bytes);
  ex.sites.push_back({site, ptr});
  return ptr;
}

bool memoryAtArrival() {
  ThreadRec& t = self("a warp matrix operation");
  const OrderSetting o = threadOrder();
  const unsigned call = t.matrixCalls++;
  if (o.order == Order::Forward) return false;
  if (o.order == Order::Reverse) return true;
  uint64_t s = o.seed ^ (uint64_t{t.linear} << 32) ^ call;
  return (splitmix(s) & 1u) != 0;
}

bool inShared(const void* p, size_t bytes) {
  self("a shared-memory address check");
  const Executor& ex = *tlsExec;
  const auto a = reinterpret_cast<uintptr_t>(p), lo = reinterpret_cast<uintptr_t>(ex.arena);
  return a >= lo && a + bytes <= lo + ex.arenaTop;
}

void* sharedDynamic() {
  self("extern __shared__ memory");
  // Without dynamic bytes, the arena's first redzone: poisoned under ASan, never null.
  return tlsExec->dynamic != nullptr ? tlsExec->dynamic : tlsExec->arena;
}

LaunchResult runGrid(const LaunchConfig& cfg, KernelBody& body) {
  Executor& ex = executor();
  ex.cfg = &cfg;
  ex.body = &body;
  ex.failed = false;
  ex.result = LaunchResult{};
  ex.threadCount = cfg.block.x * cfg.block.y * cfg.block.z;
  ex.dynamicLimit = maxDynamicShared(cfg.kernel);
  ensureStacks(ex, ex.threadCount);
  const uint64_t blocks = static_cast<uint64_t>(cfg.grid.x) * cfg.grid.y * cfg.grid.z;
  const OrderSetting o = threadOrder();
  // Blocks in the same order as threads; a shuffle is an affine permutation i -> (a*i + c) mod n.
  uint64_t s = o.seed;
  uint64_t a = 1, c = 0;
  if (o.order == Order::Shuffle && blocks > 1) {
    a = 1 + 2 * (splitmix(s) % blocks);
    while (gcd(a, blocks) != 1) a += 2;  // any multiplier coprime to n permutes 0..n-1
    c = splitmix(s) % blocks;
  }
  for (uint64_t i = 0; i < blocks && !ex.failed; ++i) {
    uint64_t linear = i;
    if (o.order == Order::Reverse) linear = blocks - 1 - i;
    if (o.order == Order::Shuffle) linear = static_cast<uint64_t>((static_cast<unsigned __int128>(a) * i + c) % blocks);
    runBlock(ex, linear);
  }
  return ex.result;
}

}  // namespace hyemu

// ---- -fsanitize=alignment reports become misaligned-address faults of the launch ----
namespace {
struct UbsanLocation {
  const char* file;
  uint32_t line, column;
};
struct UbsanType {
  uint16_t kind, info;
  char name[1];
};
struct UbsanTypeMismatch {
  UbsanLocation loc;
  const UbsanType* type;
  unsigned char logAlignment;
  unsigned char checkKind;
};
[[noreturn]] void misaligned(UbsanTypeMismatch* d, uintptr_t ptr) {
  const size_t align = size_t{1} << d->logAlignment;
  if (hyemu::tlsThread == nullptr) {
    std::fprintf(stderr, "hayate emulator: misaligned access to %s at %p (needs %zu-byte alignment) at %s:%u\n",
                 d->type->name, reinterpret_cast<void*>(ptr), align, d->loc.file, d->loc.line);
    std::abort();
  }
  hyemu::fail(cudaErrorMisalignedAddress, "misaligned address: %s at %p needs %zu-byte alignment (%s:%u)",
              d->type->name, reinterpret_cast<void*>(ptr), align, d->loc.file, d->loc.line);
}
}  // namespace

// The compiler declares these as (void*, void*) built-ins; -Bsymbolic-functions (emulator.cmake)
// binds the addon's calls to these definitions even where a sanitizer runtime exports its own.
extern "C" void __ubsan_handle_type_mismatch_v1(void* d, void* ptr) {
  misaligned(static_cast<UbsanTypeMismatch*>(d), reinterpret_cast<uintptr_t>(ptr));
}
extern "C" void __ubsan_handle_type_mismatch_v1_abort(void* d, void* ptr) {
  misaligned(static_cast<UbsanTypeMismatch*>(d), reinterpret_cast<uintptr_t>(ptr));
}
