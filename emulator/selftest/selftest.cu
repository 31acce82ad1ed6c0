// The emulator's own tests: small kernels written to be wrong (a missing barrier, a divergent
// __syncthreads, a shuffle with a wrong mask, misaligned vector accesses, launches over the sm_90
// limits, stores past an allocation or a shared array), each of which must fail as the issue on a
// GPU would, and correct ones (WMMA against a float64 GEMM, shuffles, votes) that must pass.
// Built with the emulated addon (build-emu / build-asan); prints "N passed, N failed, N skipped".
#include <cuda_fp16.h>
#include <mma.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "../../cuda/portable.cuh"
#include "../internal.h"

extern char** environ;

namespace hyemu::testing {
void clearStickyError();
void setOrder(Order order, uint64_t seed);
}  // namespace hyemu::testing

namespace {

using hyemu::Order;

int passed = 0, failed = 0;
std::vector<std::string> skipped;

void check(bool ok, const std::string& name, const std::string& detail = "") {
  if (ok) {
    ++passed;
    std::printf("ok - %s\n", name.c_str());
  } else {
    ++failed;
    std::printf("not ok - %s%s%s\n", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  }
}

// Synchronizes; returns the sticky error (then clears it so the next case starts clean).
cudaError_t finish(std::string* message = nullptr) {
  const cudaError_t e = cudaDeviceSynchronize();
  if (message != nullptr) *message = cudaGetErrorString(e);
  hyemu::testing::clearStickyError();
  return e;
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

template <typename T>
T* deviceArray(size_t n) {
  void* p = nullptr;
  if (cudaMalloc(&p, n * sizeof(T)) != cudaSuccess) std::abort();
  return static_cast<T*>(p);
}

template <typename T>
std::vector<T> fetch(const T* d, size_t n) {
  std::vector<T> h(n);
  cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
  return h;
}

// ---- kernels ----

// Each thread writes its slot and reads its neighbour's: correct only with the barrier.
__global__ void neighbourKernel(float* out, bool barrier) {
  HY_SHARED(float, s, [64]);
  const unsigned i = threadIdx.x;
  s[i] = static_cast<float>(i);
  if (barrier) __syncthreads();
  out[i] = s[(i + 1) % 64];
}

__global__ void divergentBarrierKernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void barrierVsWarpKernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncwarp();
  }
  out[threadIdx.x] = 1;
}

// Lanes 16..31 exit first: "all non-exited threads named in mask" still meet, so the xor among
// lanes 0..15 is defined, and a read from an exited lane gives an undefined value (poison here).
__global__ void shuffleAfterExitKernel(float* out) {
  const unsigned lane = threadIdx.x;
  if (lane >= 16) return;
  out[lane] = __shfl_xor_sync(0xffffffffu, static_cast<float>(lane), 1);
  out[16 + lane] = __shfl_sync(0xffffffffu, static_cast<float>(lane), static_cast<int>(lane) + 16);
  out[32 + lane] = static_cast<float>(__ballot_sync(0xffffffffu, lane % 2 == 0));
}

// Half the warp at a full-mask shuffle, the other half at a full-mask __syncwarp: each waits for
// the other forever on the device.
__global__ void shuffleVsSyncwarpKernel(float* out) {
  if (threadIdx.x < 16) {
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
  } else {
    __syncwarp();
  }
}

// A 48-thread block: its second warp has lanes 0..15 only, which full-mask operations accept.
__global__ void partialWarpKernel(unsigned* out) {
  out[threadIdx.x] = __ballot_sync(0xffffffffu, threadIdx.x % 3 == 0);
  __syncwarp();
}

// Lanes 0..15 at ldmatrix.x4 and 16..31 at ldmatrix.x2: different operations, never one group.
__global__ void mixedMatrixOpsKernel(float* out) {
  HY_SHARED_ALIGNED(16, __half, tile, [4 * 64]);
  for (unsigned i = threadIdx.x; i < 4 * 64; i += 32) tile[i] = __float2half_rn(1.0f);
  __syncthreads();
  const __half* row = &tile[(threadIdx.x % 32) * 8];
  if (threadIdx.x < 16) {
    uint32_t r[4];
    hy::cuda::ptx::ldmatrixX4(r, row);
    out[threadIdx.x] = static_cast<float>(r[0]);
  } else {
    uint32_t r[2];
    hy::cuda::ptx::ldmatrixX2(r, row);
    out[threadIdx.x] = static_cast<float>(r[0]);
  }
}

__global__ void shuffleMaskWithoutSelfKernel(float* out) {
  out[threadIdx.x] = __shfl_sync(0x1u, 2.0f, 0);
}

// Shuffles and votes within their masks and widths, against what the PTX ISA specifies.
__global__ void warpOpsKernel(int* out) {
  const int lane = static_cast<int>(threadIdx.x);
  out[0 * 32 + lane] = __shfl_down_sync(0xffffffffu, lane, 3, 16);
  out[1 * 32 + lane] = __shfl_up_sync(0xffffffffu, lane, 2);
  out[2 * 32 + lane] = __shfl_xor_sync(0xffffffffu, lane, 5);
  out[3 * 32 + lane] = __shfl_sync(0xffffffffu, lane * 10, 7, 8);
  out[4 * 32 + lane] = static_cast<int>(__ballot_sync(0xffffffffu, lane % 3 == 0));
  out[5 * 32 + lane] = __all_sync(0xffffffffu, lane < 32) * 2 + __any_sync(0xffffffffu, lane == 31);
  if (lane < 10) {
    out[6 * 32 + lane] = static_cast<int>(__activemask());
  } else {
    out[6 * 32 + lane] = static_cast<int>(__activemask());
  }
  out[8 * 32 + lane] = __shfl_xor_sync(0xffffffffu, lane, 16, 16);  // later segments read earlier ones
  out[9 * 32 + lane] = __shfl_down_sync(0xffffffffu, lane, 33);      // the offset's low 5 bits: 1
  if (lane < 16) {
    out[7 * 32 + lane] = __shfl_xor_sync(0x0000ffffu, lane, 1);
  } else {
    out[7 * 32 + lane] = __shfl_xor_sync(0xffff0000u, lane, 2);
  }
}

__global__ void misalignedVectorKernel(const float* in, float* out) {
  const float4 v = *reinterpret_cast<const float4*>(in + 1);  // 4-byte aligned, not 16
  out[0] = v.x;
}

__global__ void misalignedHalf2Kernel(const __half* in, float* out) {
  const __half2 v = *reinterpret_cast<const __half2*>(in + 1);
  out[0] = __low2float(v);
}

__global__ void sharedPoisonKernel(float* out) {
  HY_SHARED(float, s, [32]);
  out[threadIdx.x] = s[threadIdx.x];  // read before any write
}

__global__ void dynamicSharedKernel(float* out) {
  HY_DYNAMIC_SHARED(float, buf);
  buf[threadIdx.x] = static_cast<float>(threadIdx.x) * 2.0f;
  __syncthreads();
  out[threadIdx.x] = buf[blockDim.x - 1 - threadIdx.x];
}

__global__ void bigStaticSharedKernel(float* out) {
  HY_SHARED(float, s, [13000]);  // 52,000 bytes > 48 KiB
  s[threadIdx.x] = 1.0f;
  out[threadIdx.x] = s[threadIdx.x];
}

__global__ void emptyKernel(int*) {}

__global__ void storePastEndKernel(float* out, int n) { out[n] = 1.0f; }  // one element too far

__global__ void sharedOverflowKernel(float* out) {
  HY_SHARED(float, s, [32]);
  s[threadIdx.x + 1] = 1.0f;  // thread 31 writes s[32]
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x];
}

__global__ void atomicKernel(float* sum, unsigned* count) {
  atomicAdd(sum, 0.5f);
  atomicAdd(count, 1u);
}

// Thread 0 spins on a flag that thread 32 (the next warp) sets: the spin must not starve it.
__global__ void spinAcrossWarpsKernel(int* flag, int* out) {
  if (threadIdx.x == 0) {
    while (atomicAdd(flag, 0) == 0) {
    }
    out[0] = 7;
  }
  if (threadIdx.x == 32) atomicExch(flag, 1);
}

// Nothing ever sets the flag: a hang on the device, a timeout here.
__global__ void spinForeverKernel(int* flag) {
  while (atomicAdd(flag, 0) == 0) {
    __nanosleep(100);
  }
}

// C (32 x 32) = A (32 x 48) * B (48 x 32), one warp per 16 x 16 output tile.
__global__ void wmmaGemmKernel(const __half* a, const __half* b, float* c) {
  using namespace nvcuda;
  const int warp = static_cast<int>(threadIdx.x / 32);
  const int tm = warp / 2, tn = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k = 0; k < 48; k += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
    wmma::load_matrix_sync(fa, a + tm * 16 * 48 + k, 48);
    wmma::load_matrix_sync(fb, b + tn * 16 * 48 + k, 48);  // b stored column-major: (k, n) at n*48 + k
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(c + tm * 16 * 32 + tn * 16, acc, 32, wmma::mem_row_major);
}

__global__ void wmmaMisalignedKernel(const __half* a, float* c) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a + 8, 16);  // 16 bytes past a 256-byte boundary: not 32-byte aligned
  c[threadIdx.x] = __half2float(fa.x[0]);
}


// ---- inline-PTX wrappers (cuda/ptx.cuh), fragments built by hand from the PTX ISA's tables ----

__device__ uint32_t packHalves(const __half* p, size_t i0, size_t i1) {
  return static_cast<uint32_t>(__half_as_ushort(p[i0])) | (static_cast<uint32_t>(__half_as_ushort(p[i1])) << 16);
}

// D (16 x 8) = A (16 x 16, row-major) * B (16 x 8, b[k * 8 + n]) + C. swapped: a[1] and a[2]
// exchanged, the kind of layout slip the emulator must expose.
__global__ void mmaKernel(const __half* A, const __half* B, const float* C, float* D, bool swapped) {
  const unsigned lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  uint32_t a[4] = {packHalves(A, g * 16 + 2 * t, g * 16 + 2 * t + 1),
                   packHalves(A, (g + 8) * 16 + 2 * t, (g + 8) * 16 + 2 * t + 1),
                   packHalves(A, g * 16 + 2 * t + 8, g * 16 + 2 * t + 9),
                   packHalves(A, (g + 8) * 16 + 2 * t + 8, (g + 8) * 16 + 2 * t + 9)};
  if (swapped) {
    const uint32_t x = a[1];
    a[1] = a[2];
    a[2] = x;
  }
  const uint32_t b[2] = {packHalves(B, (2 * t) * 8 + g, (2 * t + 1) * 8 + g),
                         packHalves(B, (2 * t + 8) * 8 + g, (2 * t + 9) * 8 + g)};
  const float c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  float d[4];
  hy::cuda::ptx::mmaM16N8K16(d, a, b, c);
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// Four 8 x 8 matrices through shared memory; out[lane * 8 + i] = r[i], out[lane * 8 + 4 + i] = .trans.
__global__ void ldmatrixKernel(const __half* src, uint32_t* out) {
  HY_SHARED_ALIGNED(16, __half, tile, [4 * 64]);
  const unsigned lane = threadIdx.x;
  for (unsigned i = lane; i < 4 * 64; i += 32) tile[i] = src[i];
  __syncthreads();
  const __half* row = &tile[(lane / 8) * 64 + (lane % 8) * 8];
  uint32_t r[4], rt[4];
  hy::cuda::ptx::ldmatrixX4(r, row);
  hy::cuda::ptx::ldmatrixX4Trans(rt, row);
  for (int i = 0; i < 4; ++i) {
    out[lane * 8 + i] = r[i];
    out[lane * 8 + 4 + i] = rt[i];
  }
}

// Each thread copies 16 bytes with cp.async; before the wait its own slot still reads poison,
// after wait_group 0 and a barrier every slot holds the source.
__global__ void cpAsyncKernel(const float* src, float* before, float* after) {
  HY_SHARED_ALIGNED(16, float, tile, [128]);
  const unsigned lane = threadIdx.x;
  hy::cuda::ptx::cpAsync16(&tile[4 * lane], &src[4 * lane]);
  hy::cuda::ptx::cpAsyncCommit();
  before[lane] = tile[4 * lane];
  hy::cuda::ptx::cpAsyncWait<0>();
  __syncthreads();
  for (int k = 0; k < 4; ++k) after[4 * lane + k] = tile[(4 * lane + k + 5) % 128];
}

// ---- cases ----

void testMissingBarrier() {
  float* out = deviceArray<float>(64);
  bool wrongSomewhere = false;
  bool rightWithBarrier = true;
  const Order orders[] = {Order::Forward, Order::Reverse, Order::Shuffle};
  for (Order o : orders) {
    hyemu::testing::setOrder(o, 12345);
    for (int barrier = 0; barrier < 2; ++barrier) {
      HY_LAUNCH(1, 64, 0, nullptr, neighbourKernel)(out, barrier == 1);
      finish();
      const std::vector<float> h = fetch(out, 64);
      bool right = true;
      for (unsigned i = 0; i < 64; ++i) right = right && h[i] == static_cast<float>((i + 1) % 64);
      if (barrier == 1) rightWithBarrier = rightWithBarrier && right;
      if (barrier == 0 && !right) wrongSomewhere = true;
    }
  }
  hyemu::testing::setOrder(Order::Forward, 0);
  check(wrongSomewhere, "a missing __syncthreads changes the result under one of the thread orders");
  check(rightWithBarrier, "with the barrier the result is right under forward, reverse and shuffled orders");
  cudaFree(out);
}

void expectFault(const char* name, const std::function<void()>& launch, cudaError_t expected, const char* text) {
  launch();
  std::string message;
  const cudaError_t e = finish(&message);
  check(e == expected && contains(message, text), name,
        std::string("got ") + cudaGetErrorName(e) + ": " + message);
}

void testRendezvousErrors() {
  int* ibuf = deviceArray<int>(64);
  float* fbuf = deviceArray<float>(64);
  expectFault("a divergent __syncthreads fails the launch",
              [&] { HY_LAUNCH(1, 64, 0, nullptr, divergentBarrierKernel)(ibuf); }, cudaErrorLaunchFailure,
              "divergent __syncthreads");
  expectFault("half a warp at __syncthreads and half at a full-mask __syncwarp fails the launch",
              [&] { HY_LAUNCH(1, 32, 0, nullptr, barrierVsWarpKernel)(ibuf); }, cudaErrorLaunchFailure,
              "waits at __syncthreads");
  HY_LAUNCH(1, 32, 0, nullptr, shuffleAfterExitKernel)(fbuf);
  {
    const cudaError_t e = finish();
    const std::vector<float> h = fetch(fbuf, 48);
    bool ok = e == cudaSuccess;
    for (unsigned l = 0; l < 16; ++l) {
      ok = ok && h[l] == static_cast<float>(l ^ 1u) && std::isnan(h[16 + l]) && h[32 + l] == static_cast<float>(0x5555u);
    }
    check(ok, "after half the warp exited, full-mask shuffles and votes run over the rest; reading an exited lane "
              "gives poison");
  }
  expectFault("a full-mask shuffle whose other lanes wait at __syncwarp fails the launch (a deadlock on the device)",
              [&] { HY_LAUNCH(1, 32, 0, nullptr, shuffleVsSyncwarpKernel)(fbuf); }, cudaErrorLaunchFailure,
              "waits at __syncwarp");
  {
    unsigned* ub = deviceArray<unsigned>(48);
    HY_LAUNCH(1, 48, 0, nullptr, partialWarpKernel)(ub);
    const cudaError_t e = finish();
    const std::vector<unsigned> h = fetch(ub, 48);
    bool ok = e == cudaSuccess;
    for (unsigned t = 0; t < 48; ++t) ok = ok && h[t] == (t < 32 ? 0x49249249u : 0x00002492u);
    check(ok, "full-mask ballot and __syncwarp in the 16-lane second warp of a 48-thread block");
    cudaFree(ub);
  }
  expectFault("lanes at ldmatrix.x4 and ldmatrix.x2 in one warp fail the launch instead of mixing operands",
              [&] { HY_LAUNCH(1, 32, 0, nullptr, mixedMatrixOpsKernel)(fbuf); }, cudaErrorLaunchFailure,
              "ldmatrix");
  expectFault("a shuffle whose mask leaves out the calling lane fails the launch",
              [&] { HY_LAUNCH(1, 32, 0, nullptr, shuffleMaskWithoutSelfKernel)(fbuf); }, cudaErrorLaunchFailure,
              "does not include the calling lane");
  cudaFree(ibuf);
  cudaFree(fbuf);
}

void testWarpOps() {
  int* out = deviceArray<int>(10 * 32);
  HY_LAUNCH(1, 32, 0, nullptr, warpOpsKernel)(out);
  const cudaError_t e = finish();
  const std::vector<int> h = fetch(out, 10 * 32);
  bool ok = e == cudaSuccess;
  unsigned ballot = 0;
  for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
  for (int l = 0; l < 32 && ok; ++l) {
    const int down = (l % 16) + 3 < 16 ? l + 3 : l;
    const int up = l >= 2 ? l - 2 : l;
    const int shfl = ((l / 8) * 8 + 7) * 10;
    const int halves = l < 16 ? (l ^ 1) : (l ^ 2);
    ok = h[l] == down && h[32 + l] == up && h[64 + l] == (l ^ 5) && h[96 + l] == shfl &&
         static_cast<unsigned>(h[128 + l]) == ballot && h[160 + l] == 3 &&
         h[192 + l] == (l < 10 ? 0x3ff : static_cast<int>(0xfffffc00u)) && h[224 + l] == halves &&
         h[256 + l] == (l < 16 ? l : l - 16) && h[288 + l] == (l < 31 ? l + 1 : l);
    if (!ok) std::printf("# lane %d: %d %d %d %d %x %d %x %d\n", l, h[l], h[32 + l], h[64 + l], h[96 + l], h[128 + l],
                         h[160 + l], h[192 + l], h[224 + l]);
  }
  check(ok, "shuffles (widths, up/down edges, xor across segments, offsets mod 32), ballot/any/all and "
            "__activemask per branch give the PTX results");
  cudaFree(out);
}

void testAlignmentAndShared() {
  float* f = deviceArray<float>(64);
  __half* h = deviceArray<__half>(64);
  expectFault("a 16-byte vector load at a 4-byte-aligned address fails with cudaErrorMisalignedAddress",
              [&] { HY_LAUNCH(1, 1, 0, nullptr, misalignedVectorKernel)(f, f); }, cudaErrorMisalignedAddress,
              "misaligned address");
  expectFault("a half2 load at an odd half fails with cudaErrorMisalignedAddress",
              [&] { HY_LAUNCH(1, 1, 0, nullptr, misalignedHalf2Kernel)(h, f); }, cudaErrorMisalignedAddress,
              "misaligned address");
  HY_LAUNCH(1, 32, 0, nullptr, sharedPoisonKernel)(f);
  finish();
  std::vector<float> out = fetch(f, 32);
  bool allNan = true;
  for (float v : out) allNan = allNan && std::isnan(v);
  check(allNan, "shared memory read before it is written reads NaN (poisoned at every block start)");
  HY_LAUNCH(1, 64, 1024, nullptr, dynamicSharedKernel)(f);
  const cudaError_t e = finish();
  out = fetch(f, 64);
  bool ok = e == cudaSuccess;
  for (unsigned i = 0; i < 64; ++i) ok = ok && out[i] == static_cast<float>(63 - i) * 2.0f;
  check(ok, "dynamic shared memory is per block and survives the barrier");
  cudaFree(f);
  cudaFree(h);
}

void testWmma() {
  std::vector<__half> a(32 * 48), b(48 * 32);
  std::vector<double> ref(32 * 32, 0.0);
  for (size_t i = 0; i < a.size(); ++i) a[i] = __float2half_rn(std::sin(0.37 * static_cast<double>(i)));
  for (size_t i = 0; i < b.size(); ++i) b[i] = __float2half_rn(std::cos(0.11 * static_cast<double>(i)));
  for (int m = 0; m < 32; ++m) {
    for (int n = 0; n < 32; ++n) {
      for (int k = 0; k < 48; ++k) ref[m * 32 + n] += static_cast<double>(__half2float(a[m * 48 + k])) * __half2float(b[n * 48 + k]);
    }
  }
  __half* da = deviceArray<__half>(a.size());
  __half* db = deviceArray<__half>(b.size());
  float* dc = deviceArray<float>(32 * 32);
  cudaMemcpy(da, a.data(), a.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size() * 2, cudaMemcpyHostToDevice);
  HY_LAUNCH(1, 128, 0, nullptr, wmmaGemmKernel)(da, db, dc);
  const cudaError_t e = finish();
  const std::vector<float> c = fetch(dc, 32 * 32);
  double worst = 0;
  for (size_t i = 0; i < c.size(); ++i) worst = std::max(worst, std::fabs(c[i] - ref[i]));
  check(e == cudaSuccess && worst < 1e-4, "a WMMA GEMM (row-major A, column-major B) matches the float64 reference",
        "max error " + std::to_string(worst));
  expectFault("wmma::load_matrix_sync from a pointer that is not 32-byte aligned fails",
              [&] { HY_LAUNCH(1, 32, 0, nullptr, wmmaMisalignedKernel)(da, dc); }, cudaErrorMisalignedAddress,
              "not 32-byte aligned");
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}


void testPtx() {
  std::vector<__half> a(16 * 16), b(16 * 8);
  std::vector<float> c(16 * 8);
  for (size_t i = 0; i < a.size(); ++i) a[i] = __float2half_rn(std::sin(0.7 * static_cast<double>(i)));
  for (size_t i = 0; i < b.size(); ++i) b[i] = __float2half_rn(std::cos(0.3 * static_cast<double>(i)));
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(i % 7) - 3.0f;
  std::vector<double> ref(16 * 8);
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 8; ++n) {
      double acc = c[m * 8 + n];
      for (int k = 0; k < 16; ++k) acc += static_cast<double>(__half2float(a[m * 16 + k])) * __half2float(b[k * 8 + n]);
      ref[m * 8 + n] = acc;
    }
  }
  __half* da = deviceArray<__half>(a.size());
  __half* db = deviceArray<__half>(b.size());
  float* dc = deviceArray<float>(c.size());
  float* dd = deviceArray<float>(c.size());
  cudaMemcpy(da, a.data(), a.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dc, c.data(), c.size() * 4, cudaMemcpyHostToDevice);
  for (int swapped = 0; swapped < 2; ++swapped) {
    HY_LAUNCH(1, 32, 0, nullptr, mmaKernel)(da, db, dc, dd, swapped == 1);
    const cudaError_t e = finish();
    const std::vector<float> d = fetch(dd, 16 * 8);
    double worst = 0;
    for (size_t i = 0; i < d.size(); ++i) worst = std::max(worst, std::fabs(d[i] - ref[i]));
    if (swapped == 0) {
      check(e == cudaSuccess && worst < 1e-4, "mma.sync m16n8k16 with the PTX ISA's fragment layout matches float64",
            "max error " + std::to_string(worst));
    } else {
      check(e == cudaSuccess && worst > 0.1, "the same mma with two A registers swapped gives wrong numbers",
            "max error " + std::to_string(worst));
    }
  }

  std::vector<__half> m(4 * 64);
  for (size_t i = 0; i < m.size(); ++i) m[i] = __float2half_rn(static_cast<float>(i));
  __half* dm = deviceArray<__half>(m.size());
  uint32_t* dout = deviceArray<uint32_t>(32 * 8);
  cudaMemcpy(dm, m.data(), m.size() * 2, cudaMemcpyHostToDevice);
  HY_LAUNCH(1, 32, 0, nullptr, ldmatrixKernel)(dm, dout);
  const cudaError_t e = finish();
  const std::vector<uint32_t> out = fetch(dout, 32 * 8);
  bool ok = e == cudaSuccess;
  for (int lane = 0; lane < 32 && ok; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) {
      const float lo = hy::cuda::ptx::detail::half(out[lane * 8 + i], 0), hi = hy::cuda::ptx::detail::half(out[lane * 8 + i], 1);
      const float tlo = hy::cuda::ptx::detail::half(out[lane * 8 + 4 + i], 0),
                  thi = hy::cuda::ptx::detail::half(out[lane * 8 + 4 + i], 1);
      ok = ok && lo == static_cast<float>(i * 64 + g * 8 + 2 * t) && hi == static_cast<float>(i * 64 + g * 8 + 2 * t + 1) &&
           tlo == static_cast<float>(i * 64 + (2 * t) * 8 + g) && thi == static_cast<float>(i * 64 + (2 * t + 1) * 8 + g);
    }
  }
  check(ok, "ldmatrix.x4 and .x4.trans give each lane the PTX ISA's elements");

  std::vector<float> src(128);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
  float* dsrc = deviceArray<float>(128);
  float* dbefore = deviceArray<float>(32);
  float* dafter = deviceArray<float>(128);
  cudaMemcpy(dsrc, src.data(), 128 * 4, cudaMemcpyHostToDevice);
  HY_LAUNCH(1, 32, 0, nullptr, cpAsyncKernel)(dsrc, dbefore, dafter);
  const cudaError_t e2 = finish();
  const std::vector<float> before = fetch(dbefore, 32), after = fetch(dafter, 128);
  bool poisoned = true, landed = e2 == cudaSuccess;
  for (float v : before) poisoned = poisoned && std::isnan(v);
  for (int i = 0; i < 128; ++i) landed = landed && after[i] == src[(i + 5) % 128];
  check(poisoned, "a cp.async destination read before cp.async.wait_group still holds the poison");
  check(landed, "after cp.async.wait_group 0 and a barrier every thread's copy has landed");
  for (void* p : {static_cast<void*>(da), static_cast<void*>(db), static_cast<void*>(dc), static_cast<void*>(dd),
                  static_cast<void*>(dm), static_cast<void*>(dout), static_cast<void*>(dsrc),
                  static_cast<void*>(dbefore), static_cast<void*>(dafter)}) {
    cudaFree(p);
  }
}

void expectLaunchError(const char* name, const std::function<void()>& launch, cudaError_t expected) {
  cudaGetLastError();
  launch();
  const cudaError_t e = cudaGetLastError();
  finish();
  check(e == expected, name, std::string("got ") + cudaGetErrorName(e));
}

void testLaunchLimits() {
  int* buf = deviceArray<int>(4);
  float* f = deviceArray<float>(1024);
  expectLaunchError("1025 threads a block: cudaErrorInvalidConfiguration",
                    [&] { HY_LAUNCH(1, 1025, 0, nullptr, emptyKernel)(buf); }, cudaErrorInvalidConfiguration);
  expectLaunchError("block z of 65: cudaErrorInvalidConfiguration",
                    [&] { HY_LAUNCH(1, dim3(1, 1, 65), 0, nullptr, emptyKernel)(buf); }, cudaErrorInvalidConfiguration);
  expectLaunchError("grid y of 65536: cudaErrorInvalidConfiguration",
                    [&] { HY_LAUNCH(dim3(1, 65536), 32, 0, nullptr, emptyKernel)(buf); }, cudaErrorInvalidConfiguration);
  expectLaunchError("grid z of 65536: cudaErrorInvalidConfiguration",
                    [&] { HY_LAUNCH(dim3(1, 1, 65536), 32, 0, nullptr, emptyKernel)(buf); }, cudaErrorInvalidConfiguration);
  expectLaunchError("an empty grid: cudaErrorInvalidConfiguration",
                    [&] { HY_LAUNCH(0, 32, 0, nullptr, emptyKernel)(buf); }, cudaErrorInvalidConfiguration);
  expectLaunchError("grid y of 65535 and 1024 threads launch",
                    [&] { HY_LAUNCH(dim3(1, 65535), 1, 0, nullptr, emptyKernel)(buf); }, cudaSuccess);
  expectLaunchError("49 KiB of dynamic shared memory without cudaFuncSetAttribute: cudaErrorInvalidValue",
                    [&] { HY_LAUNCH(1, 64, 49 * 1024, nullptr, dynamicSharedKernel)(f); }, cudaErrorInvalidValue);
  cudaFuncSetAttribute(reinterpret_cast<const void*>(&dynamicSharedKernel), cudaFuncAttributeMaxDynamicSharedMemorySize,
                       100 * 1024);
  expectLaunchError("49 KiB of dynamic shared memory after cudaFuncSetAttribute(100 KiB) launches",
                    [&] { HY_LAUNCH(1, 64, 49 * 1024, nullptr, dynamicSharedKernel)(f); }, cudaSuccess);
  expectLaunchError("101 KiB of dynamic shared memory over the 100 KiB attribute: cudaErrorInvalidValue",
                    [&] { HY_LAUNCH(1, 64, 101 * 1024, nullptr, dynamicSharedKernel)(f); }, cudaErrorInvalidValue);
  check(cudaFuncSetAttribute(reinterpret_cast<const void*>(&dynamicSharedKernel),
                             cudaFuncAttributeMaxDynamicSharedMemorySize, 228 * 1024) == cudaErrorInvalidValue,
        "cudaFuncSetAttribute above the 227 KiB opt-in limit: cudaErrorInvalidValue");
  cudaGetLastError();
  expectFault("52,000 bytes of static __shared__ (over 48 KiB) fails the launch",
              [&] { HY_LAUNCH(1, 32, 0, nullptr, bigStaticSharedKernel)(f); }, cudaErrorInvalidValue,
              "over the 48 KiB");
  cudaFree(buf);
  cudaFree(f);
}

void testStickyAndStreams() {
  float* f = deviceArray<float>(64);
  HY_LAUNCH(1, 1, 0, nullptr, misalignedVectorKernel)(f, f);
  cudaDeviceSynchronize();
  std::vector<float> h(4);
  const cudaError_t e = cudaMemcpy(h.data(), f, 16, cudaMemcpyDeviceToHost);
  const std::string text = cudaGetErrorString(e);
  check(e == cudaErrorMisalignedAddress && contains(text, "misalignedVectorKernel") && contains(text, "block (0,0,0)"),
        "a faulted kernel leaves a sticky error whose string names the kernel, block and thread", text);
  finish();

  // Two streams on their own threads, ordered by an event.
  cudaStream_t s1, s2;
  cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking);
  cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking);
  float* sum = deviceArray<float>(1);
  unsigned* count = deviceArray<unsigned>(1);
  cudaMemsetAsync(sum, 0, 4, s1);
  cudaMemsetAsync(count, 0, 4, s1);
  cudaEvent_t ev;
  cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
  cudaEventRecord(ev, s1);
  cudaStreamWaitEvent(s2, ev, 0);
  HY_LAUNCH(8, 128, 0, s2, atomicKernel)(sum, count);
  cudaStreamSynchronize(s2);
  float hs = 0;
  unsigned hc = 0;
  cudaMemcpy(&hs, sum, 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(&hc, count, 4, cudaMemcpyDeviceToHost);
  check(finish() == cudaSuccess && hs == 512.0f && hc == 1024u,
        "atomics over 8 blocks on a second stream that waits on the first stream's event");
  cudaEventDestroy(ev);
  cudaFree(sum);
  cudaFree(count);

  int* flag = deviceArray<int>(2);
  cudaMemset(flag, 0, 8);
  HY_LAUNCH(1, 64, 0, nullptr, spinAcrossWarpsKernel)(flag, flag + 1);
  int seen = 0;
  const cudaError_t spun = finish();
  cudaMemcpy(&seen, flag + 1, 4, cudaMemcpyDeviceToHost);
  check(spun == cudaSuccess && seen == 7, "a thread spinning on an atomic lets the warp that releases it run");
  cudaMemset(flag, 0, 8);
  expectFault("a spin-wait that nothing ends fails with cudaErrorLaunchTimeout instead of hanging",
              [&] { HY_LAUNCH(1, 32, 0, nullptr, spinForeverKernel)(flag); }, cudaErrorLaunchTimeout,
              "spins at");
  cudaFree(flag);
  void* bad = reinterpret_cast<char*>(f) + 200;
  check(cudaMemcpy(h.data(), bad, 64, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
        "a copy that runs past the end of a device allocation: cudaErrorInvalidValue");
  cudaGetLastError();
  cudaFree(f);
}

// ---- cases that must end in AddressSanitizer's report (run as child processes) ----

[[maybe_unused]] int runChild(const char* self, const char* which, std::string* output) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_addclose(&fa, pipefd[0]);
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("--child"), const_cast<char*>(which), nullptr};
  pid_t pid;
  const int rc = posix_spawn(&pid, self, &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pipefd[1]);
  if (rc != 0) return -1;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) output->append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int child(const char* which) {
  float* f = deviceArray<float>(100);  // exactly 400 bytes
  if (std::strcmp(which, "global") == 0) HY_LAUNCH(1, 1, 0, nullptr, storePastEndKernel)(f, 100);
  if (std::strcmp(which, "shared") == 0) HY_LAUNCH(1, 32, 0, nullptr, sharedOverflowKernel)(f);
  cudaDeviceSynchronize();
  std::printf("child finished without a report\n");
  return 0;
}

void testAsan(const char* self) {
#if defined(__SANITIZE_ADDRESS__)
  std::string out;
  int rc = runChild(self, "global", &out);
  check(rc != 0 && contains(out, "AddressSanitizer") && contains(out, "heap-buffer-overflow"),
        "a store one element past a cudaMalloc'd array ends in AddressSanitizer's heap-buffer-overflow report",
        "exit " + std::to_string(rc));
  out.clear();
  rc = runChild(self, "shared", &out);
  check(rc != 0 && contains(out, "AddressSanitizer") && contains(out, "sharedOverflowKernel"),
        "a store one element past a __shared__ array ends in AddressSanitizer's report (its redzone is poisoned)",
        "exit " + std::to_string(rc));
#else
  (void)self;
  skipped.push_back("emulator > out-of-bounds stores under AddressSanitizer: needs the ASan build (npm run test:asan)");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--child") == 0) return child(argv[2]);
  testMissingBarrier();
  testRendezvousErrors();
  testWarpOps();
  testAlignmentAndShared();
  testWmma();
  testPtx();
  testLaunchLimits();
  testStickyAndStreams();
  testAsan(argv[0]);
  for (const std::string& s : skipped) std::printf("skipped: %s\n", s.c_str());
  std::printf("%d passed, %d failed, %zu skipped\n", passed, failed, skipped.size());
  std::fflush(stdout);
  return failed == 0 ? 0 : 1;
}
