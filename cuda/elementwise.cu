// Elementwise ops and reductions: the CUDA twins of cpu/elementwise.cpp. The contiguous kernels
// move 16 bytes per load and store (float4 / 8 halves) with a scalar tail, because these ops are
// bound by memory bandwidth: the fused GELU forward and backward are one such kernel each.
#include <cuda_fp16.h>

#include <algorithm>

#include "../ops/elementwise.h"
#include "check.cuh"
#include "common.cuh"
#include "runtime.h"  // deviceAllocator, cudaStatus

namespace hy::cuda {

namespace {

constexpr unsigned kThreads = 256;

// 16 bytes of T, loaded and stored as one int4.
template <typename T>
struct alignas(16) Pack {
  static constexpr int kCount = 16 / sizeof(T);
  T v[kCount];
};

template <typename T>
__device__ __forceinline__ Pack<T> loadPack(const T* p) {
  Pack<T> out;
  *reinterpret_cast<int4*>(&out) = __ldg(reinterpret_cast<const int4*>(p));
  return out;
}

template <typename T>
__device__ __forceinline__ void storePack(T* p, const Pack<T>& v) {
  *reinterpret_cast<int4*>(p) = *reinterpret_cast<const int4*>(&v);
}

// f(x) over n elements: one 16-byte pack per thread, then the tail element-wise.
template <typename T, typename F>
__global__ void mapKernel(const T* __restrict__ x, T* __restrict__ y, size_t n, F f) {
  constexpr int V = Pack<T>::kCount;
  const size_t packs = n / V;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t p = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; p < packs; p += stride) {
    Pack<T> in = loadPack(x + p * V);
    Pack<T> out;
#pragma unroll
    for (int k = 0; k < V; ++k) out.v[k] = fromFloat<T>(f(toFloat(in.v[k])));
    storePack(y + p * V, out);
  }
  for (size_t i = packs * V + blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    y[i] = fromFloat<T>(f(toFloat(x[i])));
  }
}

// f(a, b) over n elements of two same-shaped inputs.
template <typename T, typename F>
__global__ void zipKernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, size_t n, F f) {
  constexpr int V = Pack<T>::kCount;
  const size_t packs = n / V;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t p = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; p < packs; p += stride) {
    Pack<T> pa = loadPack(a + p * V);
    Pack<T> pb = loadPack(b + p * V);
    Pack<T> out;
#pragma unroll
    for (int k = 0; k < V; ++k) out.v[k] = fromFloat<T>(f(toFloat(pa.v[k]), toFloat(pb.v[k])));
    storePack(y + p * V, out);
  }
  for (size_t i = packs * V + blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    y[i] = fromFloat<T>(f(toFloat(a[i]), toFloat(b[i])));
  }
}

// General broadcasting: each output element finds its inputs through the strides.
template <typename T>
__global__ void broadcastKernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, size_t n,
                                BroadcastLayout L, BinaryOp op) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    size_t rest = i;
    int64_t offA = 0, offB = 0;
    for (int d = L.ndim - 1; d >= 0; --d) {
      const int64_t c = static_cast<int64_t>(rest % static_cast<size_t>(L.shape[d]));
      rest /= static_cast<size_t>(L.shape[d]);
      offA += c * L.strideA[d];
      offB += c * L.strideB[d];
    }
    y[i] = fromFloat<T>(applyBinary(op, toFloat(a[offA]), toFloat(b[offB])));
  }
}

struct UnaryFn {
  UnaryOp op;
  __device__ float operator()(float x) const { return applyUnary(op, x); }
};
struct UnaryGradFn {
  UnaryGradOp op;
  __device__ float operator()(float x, float g) const { return applyUnaryGrad(op, x, g); }
};
struct ScalarFn {
  ScalarOp op;
  float s;
  __device__ float operator()(float x) const { return applyScalar(op, x, s); }
};
struct BinaryFn {
  BinaryOp op;
  __device__ float operator()(float a, float b) const { return applyBinary(op, a, b); }
};

// The GELU variants get kernels of their own so the compiler sees straight-line math.
struct GeluFn {
  __device__ float operator()(float x) const { return geluErf(x); }
};
struct GeluTanhFn {
  __device__ float operator()(float x) const { return geluTanh(x); }
};
struct GeluGradFn {
  __device__ float operator()(float x, float g) const { return g * geluErfGrad(x); }
};
struct GeluTanhGradFn {
  __device__ float operator()(float x, float g) const { return g * geluTanhGrad(x); }
};

unsigned gridForPacks(size_t n, size_t perPack) {
  return gridFor((n + perPack - 1) / perPack, kThreads);
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

template <typename F>
void launchMap(const void* in, void* out, DType dtype, size_t n, F f, StreamId stream, const char* what) {
  if (n == 0) return;
  if (!aligned16(in) || !aligned16(out)) throwRuntime(std::string(what) + ": misaligned storage");
  if (dtype == DType::Float32) {
    HY_LAUNCH(gridForPacks(n, 4), kThreads, 0, asStream(stream), mapKernel<float, F>)(static_cast<const float*>(in),
                                                                            static_cast<float*>(out), n, f);
  } else {
    HY_LAUNCH(gridForPacks(n, 8), kThreads, 0, asStream(stream), mapKernel<__half, F>)(static_cast<const __half*>(in),
                                                                             static_cast<__half*>(out), n, f);
  }
  checkLaunch(what);
}

template <typename F>
void launchZip(const void* a, const void* b, void* out, DType dtype, size_t n, F f, StreamId stream, const char* what) {
  if (n == 0) return;
  if (!aligned16(a) || !aligned16(b) || !aligned16(out)) throwRuntime(std::string(what) + ": misaligned storage");
  if (dtype == DType::Float32) {
    HY_LAUNCH(gridForPacks(n, 4), kThreads, 0, asStream(stream), zipKernel<float, F>)(
        static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(out), n, f);
  } else {
    HY_LAUNCH(gridForPacks(n, 8), kThreads, 0, asStream(stream), zipKernel<__half, F>)(
        static_cast<const __half*>(a), static_cast<const __half*>(b), static_cast<__half*>(out), n, f);
  }
  checkLaunch(what);
}

// out[o, i] = scale * sum_r in[o, r, i], accumulated in double. When the outputs alone would leave
// the device idle (a whole-tensor sum has one), the reduced dimension is cut into slices: each
// slice's sum lands in a double partial, and a second pass adds each output's partials in slice
// order, so the result never depends on scheduling (no atomics).
constexpr size_t kRowSliceMin = 4096;   // elements per block and slice along a contiguous row
constexpr size_t kColumnSliceMin = 64;  // elements per thread and slice down a column

// inner == 1: a block per (row, slice) with a tree reduction; partial[slice * rows + row].
template <typename T>
__global__ void reduceRowsKernel(const T* __restrict__ in, T* __restrict__ out, double* __restrict__ partial,
                                 size_t rows, size_t reduce, size_t slices, size_t sliceLen, float scale) {
  // The job loop depends on blockIdx only, so every thread reaches each block reduction.
  for (size_t job = blockIdx.x; job < rows * slices; job += gridDim.x) {
    const size_t row = job % rows, slice = job / rows;
    const size_t begin = slice * sliceLen;
    const size_t end = begin + sliceLen < reduce ? begin + sliceLen : reduce;
    double acc = 0.0;
    for (size_t r = begin + threadIdx.x; r < end; r += blockDim.x) acc += toFloat(in[row * reduce + r]);
    acc = blockAllReduce(acc, SumOp{}, 0.0);
    if (threadIdx.x == 0) {
      if (partial != nullptr) {
        partial[job] = acc;
      } else {
        out[row] = fromFloat<T>(static_cast<float>(acc * scale));
      }
    }
  }
}

// inner > 1: a thread per (o, i) and slice (blockIdx.y), so neighbouring threads read neighbouring
// addresses; partial[slice * outer * inner + k].
template <typename T>
__global__ void reduceColumnsKernel(const T* __restrict__ in, T* __restrict__ out, double* __restrict__ partial,
                                    size_t outer, size_t reduce, size_t inner, size_t sliceLen, float scale) {
  const size_t total = outer * inner;
  const size_t begin = blockIdx.y * sliceLen;
  const size_t end = begin + sliceLen < reduce ? begin + sliceLen : reduce;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; k < total; k += stride) {
    const size_t o = k / inner, i = k % inner;
    double acc = 0.0;
    for (size_t r = begin; r < end; ++r) acc += toFloat(in[(o * reduce + r) * inner + i]);
    if (partial != nullptr) {
      partial[blockIdx.y * total + k] = acc;
    } else {
      out[k] = fromFloat<T>(static_cast<float>(acc * scale));
    }
  }
}

// out[k] = scale * sum over slices of partial[slice * total + k], in slice order.
template <typename T>
__global__ void reduceSlicesKernel(const double* __restrict__ partial, T* __restrict__ out, size_t total,
                                   size_t slices, float scale) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; k < total; k += stride) {
    double acc = 0.0;
    for (size_t s = 0; s < slices; ++s) acc += partial[s * total + k];
    out[k] = fromFloat<T>(static_cast<float>(acc * scale));
  }
}

size_t ceilDiv(size_t a, size_t b) { return (a + b - 1) / b; }

template <typename T>
void launchReduce(const void* in, void* out, size_t outer, size_t reduce, size_t inner, float scale, StreamId stream) {
  const size_t total = outer * inner;
  if (total == 0) return;
  const cudaStream_t s = asStream(stream);
  const size_t sms = static_cast<size_t>(std::max(1, cudaStatus().multiProcessors));
  // Slices: enough to give every multiprocessor work, never slices shorter than the minimum.
  size_t slices;
  if (inner == 1) {
    slices = std::min(ceilDiv(4 * sms, total), ceilDiv(reduce, kRowSliceMin));
  } else {
    slices = std::min({ceilDiv(sms * 1024, total), ceilDiv(reduce, kColumnSliceMin), size_t{65535}});
  }
  slices = std::max<size_t>(slices, 1);
  const size_t sliceLen = ceilDiv(reduce, slices);
  slices = std::max<size_t>(ceilDiv(reduce, std::max<size_t>(sliceLen, 1)), 1);  // no empty trailing slice

  CachingAllocator::Block* scratch = nullptr;
  double* partial = nullptr;
  if (slices > 1) {
    scratch = deviceAllocator().allocate(slices * total * sizeof(double), stream);
    partial = static_cast<double*>(CachingAllocator::blockPtr(scratch));
  }
  const T* x = static_cast<const T*>(in);
  T* y = static_cast<T*>(out);
  if (inner == 1) {
    const size_t jobs = total * slices;
    HY_LAUNCH(static_cast<unsigned>(std::min<size_t>(jobs, 65535u * 16u)), kThreads, 0, s, reduceRowsKernel<T>)(
        x, y, partial, total, reduce, slices, sliceLen, scale);
  } else {
    HY_LAUNCH(dim3(gridFor(total, kThreads), static_cast<unsigned>(slices)), kThreads, 0, s,
              reduceColumnsKernel<T>)(x, y, partial, outer, reduce, inner, sliceLen, scale);
  }
  if (partial != nullptr) {
    HY_LAUNCH(gridFor(total, kThreads), kThreads, 0, s, reduceSlicesKernel<T>)(partial, y, total, slices, scale);
    deviceAllocator().free(scratch);  // stream-ordered: reused only by later work on this stream
  }
}

}  // namespace

void launchUnary(UnaryOp op, const void* in, void* out, DType dtype, size_t n, StreamId stream) {
  switch (op) {
    case UnaryOp::Gelu: return launchMap(in, out, dtype, n, GeluFn{}, stream, "gelu");
    case UnaryOp::GeluTanh: return launchMap(in, out, dtype, n, GeluTanhFn{}, stream, "gelu");
    default: return launchMap(in, out, dtype, n, UnaryFn{op}, stream, "unary");
  }
}

void launchUnaryGrad(UnaryGradOp op, const void* x, const void* gradOut, void* gradIn, DType dtype, size_t n,
                     StreamId stream) {
  switch (op) {
    case UnaryGradOp::Gelu: return launchZip(x, gradOut, gradIn, dtype, n, GeluGradFn{}, stream, "geluBackward");
    case UnaryGradOp::GeluTanh: return launchZip(x, gradOut, gradIn, dtype, n, GeluTanhGradFn{}, stream, "geluBackward");
    default: return launchZip(x, gradOut, gradIn, dtype, n, UnaryGradFn{op}, stream, "unaryGrad");
  }
}

void launchScalar(ScalarOp op, const void* in, void* out, DType dtype, size_t n, float s, StreamId stream) {
  launchMap(in, out, dtype, n, ScalarFn{op, s}, stream, "scalar");
}

void launchBinary(BinaryOp op, const void* a, const void* b, void* out, DType dtype, const BroadcastLayout& L,
                  StreamId stream) {
  size_t n = 1;
  bool contiguous = true;
  int64_t expect = 1;
  for (int d = L.ndim - 1; d >= 0; --d) {
    n *= static_cast<size_t>(L.shape[d]);
    if (L.shape[d] != 1 && (L.strideA[d] != expect || L.strideB[d] != expect)) contiguous = false;
    expect *= L.shape[d];
  }
  if (n == 0) return;
  if (contiguous) return launchZip(a, b, out, dtype, n, BinaryFn{op}, stream, "binary");
  if (dtype == DType::Float32) {
    HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), broadcastKernel<float>)(
        static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(out), n, L, op);
  } else {
    HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), broadcastKernel<__half>)(
        static_cast<const __half*>(a), static_cast<const __half*>(b), static_cast<__half*>(out), n, L, op);
  }
  checkLaunch("binary");
}

void launchReduceSum(const void* in, void* out, DType dtype, size_t outer, size_t reduce, size_t inner, float scale,
                     StreamId stream) {
  if (dtype == DType::Float32) {
    launchReduce<float>(in, out, outer, reduce, inner, scale, stream);
  } else {
    launchReduce<__half>(in, out, outer, reduce, inner, scale, stream);
  }
  checkLaunch("sum");
}

// Registered implementations (ops/elementwise.h).
namespace {
using namespace ops;
HY_REGISTER_OP(UnaryArgs, Cuda, "vectorized",
               [](const UnaryArgs& a, StreamId s) { launchUnary(a.op, a.x->data(), a.out->data(), a.dtype, a.n, s); });
HY_REGISTER_OP(UnaryGradArgs, Cuda, "vectorized", [](const UnaryGradArgs& a, StreamId s) {
  launchUnaryGrad(a.op, a.x->data(), a.gradOut->data(), a.gradIn->data(), a.dtype, a.n, s);
});
HY_REGISTER_OP(ScalarArgs, Cuda, "vectorized", [](const ScalarArgs& a, StreamId s) {
  launchScalar(a.op, a.x->data(), a.out->data(), a.dtype, a.n, static_cast<float>(a.s), s);
});
HY_REGISTER_OP(BinaryArgs, Cuda, "strided", [](const BinaryArgs& a, StreamId s) {
  launchBinary(a.op, a.a->data(), a.b->data(), a.out->data(), a.dtype, a.layout, s);
});
HY_REGISTER_OP(ReduceSumArgs, Cuda, "sliced", [](const ReduceSumArgs& a, StreamId s) {
  launchReduceSum(a.x->data(), a.out->data(), a.dtype, a.outer, a.reduce, a.inner, static_cast<float>(a.scale), s);
});
}  // namespace

}  // namespace hy::cuda
