// The emulated sm_90 device, as seen by the CUDA sources: the emulated build compiles cuda/*.cu
// with the host compiler and includes this header first. It keeps the toolkit's own runtime and
// fp16 headers for types, enums and fp16 rounding (their host paths round as the device does),
// then turns the CUDA language into C++: kernels are plain functions run by one fiber per thread
// (scheduler.cpp), __shared__ arrays live in a per-block arena poisoned at every block start, and
// warp shuffles, votes and barriers are rendezvous checked against their masks.
#pragma once
#if !defined(HY_CUDA_EMULATOR)
#error "emulator/device.h is only for the emulated build (HY_CUDA_EMULATOR)"
#endif

#include <cuda_runtime.h>
#include <cuda_fp16.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// The CUDA language keywords, as plain C++.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __noinline__
#undef __launch_bounds__
#undef __shared__
#undef __constant__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __constant__
// Shared memory must go through HY_SHARED / HY_DYNAMIC_SHARED (cuda/portable.cuh), so that the
// emulator can give each block its own poisoned copy.
#define __shared__ __shared___is_spelled_HY_SHARED_in_cuda_sources

namespace hyemu {

struct Block;

// A cp.async copy in flight: it lands at its group's wait.
struct AsyncCopy {
  void* dst;
  const void* src;  // read when the copy lands; null: data was read when issued
  unsigned char data[16];
};

// One emulated CUDA thread: its indices and its fiber state (scheduler.cpp owns the rest).
struct Thread {
  uint3 index;
  unsigned linear;  // x + y*bx + z*bx*by
  unsigned lane, warp;
  Block* block;
  std::vector<AsyncCopy> copiesOpen;                // issued since the last commit_group
  std::vector<std::vector<AsyncCopy>> copyGroups;  // committed, oldest first
  unsigned matrixCalls;                            // warp-synchronous matrix operations so far
};

struct Block {
  uint3 index;
  dim3 dim;
  dim3 grid;
};

extern thread_local Thread* tlsThread;

[[noreturn]] void outsideKernel(const char* what);

inline Thread& current(const char* what) {
  Thread* t = tlsThread;
  if (t == nullptr) outsideKernel(what);
  return *t;
}

// Ends the running launch with `err` (sticky, as a device fault is on the GPU) and a message that
// cudaGetErrorString then carries. Never returns to the caller.
[[noreturn]] void fail(cudaError_t err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// The same from a warp group's combine step, which runs between fibers: marks the block failed.
void groupFault(cudaError_t err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// ---- launches ----

struct LaunchConfig {
  dim3 grid, block;
  size_t sharedBytes;
  cudaStream_t stream;
  const void* kernel;  // key for cudaFuncSetAttribute
  const char* name;
  const char* file;
  int line;
};

struct KernelBody {
  virtual ~KernelBody() = default;
  virtual void run() = 0;  // one thread's execution of the kernel
};

// Checks the configuration (errors go to cudaGetLastError, as the runtime's do) and queues the
// grid on the stream's host thread.
void enqueueLaunch(const LaunchConfig& cfg, std::unique_ptr<KernelBody> body);

template <typename... P>
struct Launch {
  LaunchConfig cfg;
  void (*kernel)(P...);
  // Arguments are converted to the kernel's parameter types at launch, as <<<>>> does; every
  // thread then gets its own copy of them.
  template <typename... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
    struct Body final : KernelBody {
      void (*kernel)(P...);
      std::tuple<std::decay_t<P>...> params;
      Body(void (*k)(P...), std::tuple<std::decay_t<P>...> t) : kernel(k), params(std::move(t)) {}
      void run() override {
        std::tuple<std::decay_t<P>...> mine = params;
        std::apply(kernel, mine);
      }
    };
    enqueueLaunch(cfg, std::make_unique<Body>(kernel, std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)));
  }
};

template <typename... P>
Launch<P...> makeLaunch(void (*kernel)(P...), dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream,
                        const char* name, const char* file, int line) {
  return Launch<P...>{{grid, block, sharedBytes, stream, reinterpret_cast<const void*>(kernel), name, file, line},
                      kernel};
}

// ---- shared memory ----

// The block's copy of the __shared__ array declared at `site` (one static per declaration and
// template instance), placed at exactly its alignment, poisoned with NaN bytes, with redzones.
void* sharedStatic(const void* site, size_t bytes, size_t align, const char* name);
void* sharedDynamic();
// Whether a warp-synchronous matrix operation of the calling lane moves its memory when the lane
// arrives (true) or when the group is released: by the thread order (see include/mma.h).
bool memoryAtArrival();
// Whether [p, p + bytes) lies in the running block's shared memory.
bool inShared(const void* p, size_t bytes);

// ---- barriers and warp collectives ----

void syncthreads(const char* file, int line);
// Lets the other threads run (after atomics, fences, __nanosleep), so spin-waits progress.
void yieldThread(const char* what);
int syncthreadsReduce(int kind, int predicate, const char* file, int line);  // 0 count, 1 and, 2 or

enum class Collective : uint8_t { Shfl, ShflUp, ShflDown, ShflXor, Ballot, Any, All, SyncWarp, ActiveMask, Wmma };

// What one lane brings to a warp rendezvous, and what it takes away.
struct LaneSlot {
  uint64_t value = 0;
  uint64_t result = 0;
  int param = 0;
  int width = 32;
  unsigned bytes = 4;
  const void* args = nullptr;  // wmma: the lane's operands
  const char* file = nullptr;
  int line = 0;
};

// Called once the group is complete, with slots[lane] for each lane named in mask (else null).
using Combine = void (*)(LaneSlot* const* slots, unsigned mask);

void warpCollective(Collective kind, unsigned mask, LaneSlot* slot, const char* what, Combine combine);

}  // namespace hyemu

// ---- the built-in variables ----
#define threadIdx (::hyemu::current("threadIdx").index)
#define blockIdx (::hyemu::current("blockIdx").block->index)
#define blockDim (::hyemu::current("blockDim").block->dim)
#define gridDim (::hyemu::current("gridDim").block->grid)
#ifndef warpSize
#define warpSize 32
#endif

#define HY_LAUNCH(grid, block, sharedBytes, stream, ...)                                                     \
  ::hyemu::makeLaunch(&(__VA_ARGS__), dim3(grid), dim3(block), (sharedBytes), (stream), #__VA_ARGS__, __FILE__, \
                      __LINE__)
#define HY_SHARED(type, name, dims) HY_SHARED_ALIGNED(alignof(type), type, name, dims)
#define HY_SHARED_ALIGNED(align, type, name, dims)                                                      \
  static char hy_site_##name;                                                                           \
  using hy_shared_type_##name = type dims;                                                              \
  hy_shared_type_##name& name = *static_cast<hy_shared_type_##name*>(::hyemu::sharedStatic(             \
      &hy_site_##name, sizeof(hy_shared_type_##name),                                                   \
      (align) > alignof(hy_shared_type_##name) ? (align) : alignof(hy_shared_type_##name), #name))
#define HY_DYNAMIC_SHARED(type, name) type* name = static_cast<type*>(::hyemu::sharedDynamic())

// ---- barriers, fences, votes, shuffles ----
#define __syncthreads() ::hyemu::syncthreads(__FILE__, __LINE__)
#define __syncthreads_count(p) ::hyemu::syncthreadsReduce(0, (p), __FILE__, __LINE__)
#define __syncthreads_and(p) ::hyemu::syncthreadsReduce(1, (p), __FILE__, __LINE__)
#define __syncthreads_or(p) ::hyemu::syncthreadsReduce(2, (p), __FILE__, __LINE__)

inline void __threadfence_block() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  ::hyemu::yieldThread("__threadfence_block");
}
inline void __threadfence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  ::hyemu::yieldThread("__threadfence");
}
inline void __threadfence_system() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  ::hyemu::yieldThread("__threadfence_system");
}
[[noreturn]] inline void __trap() { ::hyemu::fail(cudaErrorLaunchFailure, "__trap() called"); }
inline void __nanosleep(unsigned) { ::hyemu::yieldThread("__nanosleep"); }

namespace hyemu {
uint64_t warpValue(Collective kind, const char* what, const char* file, int line, unsigned mask, uint64_t value,
                   unsigned bytes, int param, int width);
template <Collective K, typename T>
inline T shuffle(const char* what, const char* file, int line, unsigned mask, T var, int param, int width = 32) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffles move at most 8 bytes");
  uint64_t v = 0;
  std::memcpy(&v, &var, sizeof(T));
  const uint64_t r = warpValue(K, what, file, line, mask, v, sizeof(T), param, width);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}
inline unsigned vote(Collective kind, const char* what, const char* file, int line, unsigned mask, int predicate) {
  return static_cast<unsigned>(warpValue(kind, what, file, line, mask, predicate != 0, 4, 0, 32));
}
inline void syncwarp(const char* file, int line, unsigned mask = 0xffffffffu) {
  warpValue(Collective::SyncWarp, "__syncwarp", file, line, mask, 0, 4, 0, 32);
}
}  // namespace hyemu

// Macros, so that a rendezvous error names the call's file and line.
#define __shfl_sync(...) ::hyemu::shuffle<::hyemu::Collective::Shfl>("__shfl_sync", __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) \
  ::hyemu::shuffle<::hyemu::Collective::ShflUp>("__shfl_up_sync", __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) \
  ::hyemu::shuffle<::hyemu::Collective::ShflDown>("__shfl_down_sync", __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) \
  ::hyemu::shuffle<::hyemu::Collective::ShflXor>("__shfl_xor_sync", __FILE__, __LINE__, __VA_ARGS__)
#define __ballot_sync(mask, p) ::hyemu::vote(::hyemu::Collective::Ballot, "__ballot_sync", __FILE__, __LINE__, mask, p)
#define __any_sync(mask, p) \
  static_cast<int>(::hyemu::vote(::hyemu::Collective::Any, "__any_sync", __FILE__, __LINE__, mask, p))
#define __all_sync(mask, p) \
  static_cast<int>(::hyemu::vote(::hyemu::Collective::All, "__all_sync", __FILE__, __LINE__, mask, p))
#define __syncwarp(...) ::hyemu::syncwarp(__FILE__, __LINE__, ##__VA_ARGS__)
// The lanes of the warp that reached an __activemask together: lanes that took another branch
// are blocked elsewhere (or exited) when it resolves, so they are not in it.
#define __activemask() \
  static_cast<unsigned>(::hyemu::warpValue(::hyemu::Collective::ActiveMask, "__activemask", __FILE__, __LINE__, 0, 0, 4, 0, 32))

// ---- atomics (real host atomics: streams run on their own host threads) ----
namespace hyemu {
template <typename T, typename F>
inline T atomicUpdate(T* address, F f) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomics on 4- or 8-byte words");
  using Word = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  Word* w = reinterpret_cast<Word*>(address);
  Word old = __atomic_load_n(w, __ATOMIC_RELAXED);
  for (;;) {
    T oldValue;
    std::memcpy(&oldValue, &old, sizeof(T));
    const T next = f(oldValue);
    Word nextWord;
    std::memcpy(&nextWord, &next, sizeof(T));
    if (__atomic_compare_exchange_n(w, &old, nextWord, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return oldValue;
  }
}
}  // namespace hyemu

// Every atomic lets the other threads run afterwards (see yieldThread), so that a thread spinning
// on an atomic does not starve the thread it waits for. The operation is the argument: it runs first.
namespace hyemu {
template <typename T>
inline T yielding(const char* what, T old) {
  yieldThread(what);
  return old;
}
}  // namespace hyemu

template <typename T>
inline T atomicAdd(T* address, T val) {
  if constexpr (std::is_integral<T>::value) {
    return ::hyemu::yielding("atomicAdd", __atomic_fetch_add(address, val, __ATOMIC_SEQ_CST));
  } else {
    return ::hyemu::yielding("atomicAdd",
                             ::hyemu::atomicUpdate(address, [val](T o) { return static_cast<T>(o + val); }));
  }
}
template <typename T>
inline T atomicSub(T* address, T val) {
  return ::hyemu::yielding("atomicSub", __atomic_fetch_sub(address, val, __ATOMIC_SEQ_CST));
}
template <typename T>
inline T atomicExch(T* address, T val) {
  return ::hyemu::yielding("atomicExch", ::hyemu::atomicUpdate(address, [val](T) { return val; }));
}
template <typename T>
inline T atomicMax(T* address, T val) {
  return ::hyemu::yielding("atomicMax", ::hyemu::atomicUpdate(address, [val](T o) { return o < val ? val : o; }));
}
template <typename T>
inline T atomicMin(T* address, T val) {
  return ::hyemu::yielding("atomicMin", ::hyemu::atomicUpdate(address, [val](T o) { return val < o ? val : o; }));
}
template <typename T>
inline T atomicAnd(T* address, T val) {
  return ::hyemu::yielding("atomicAnd", __atomic_fetch_and(address, val, __ATOMIC_SEQ_CST));
}
template <typename T>
inline T atomicOr(T* address, T val) {
  return ::hyemu::yielding("atomicOr", __atomic_fetch_or(address, val, __ATOMIC_SEQ_CST));
}
template <typename T>
inline T atomicXor(T* address, T val) {
  return ::hyemu::yielding("atomicXor", __atomic_fetch_xor(address, val, __ATOMIC_SEQ_CST));
}
template <typename T>
inline T atomicCAS(T* address, T compare, T val) {
  __atomic_compare_exchange_n(address, &compare, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return ::hyemu::yielding("atomicCAS", compare);
}

// ---- loads with cache hints, integer and fast-math intrinsics ----
// Plain typed loads: the emulated build checks their alignment (-fsanitize=alignment), so a
// misaligned 16-byte __ldg fails as it does on the device.
template <typename T>
inline T __ldg(const T* p) { return *p; }
template <typename T>
inline T __ldcs(const T* p) { return *p; }
template <typename T>
inline T __ldcg(const T* p) { return *p; }
template <typename T>
inline void __stcs(T* p, T v) { *p = v; }
template <typename T>
inline void __stcg(T* p, T v) { *p = v; }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
}
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline long long clock64() { return static_cast<long long>(__builtin_ia32_rdtsc()); }
