// Tensor manipulation (ops/shape.h): the CUDA twins of cpu/shape.cpp. One thread per output
// element, which finds its operands through the layout's strides; elements move as unsigned
// integers of their size, so one kernel serves every dtype. A bad index is recorded in the error
// slot (cuda/error_slot.cu) and surfaces at the next synchronising read.
#include <cuda_fp16.h>

#include "../core/convert.h"
#include "../ops/shape.h"
#include "check.cuh"
#include "common.cuh"
#include "runtime.h"

namespace hy::cuda {

namespace {

constexpr unsigned kThreads = 256;

// Operand k's offset of row-major element i of the layout.
template <int K>
__device__ __forceinline__ void offsetsOf(const ops::StridedLayout<K>& L, size_t i, int64_t (&off)[K]) {
  for (int k = 0; k < K; ++k) off[k] = 0;
  size_t rest = i;
  for (int d = L.ndim - 1; d >= 0; --d) {
    const size_t extent = static_cast<size_t>(L.shape[d]);
    const int64_t c = static_cast<int64_t>(rest % extent);
    rest /= extent;
    for (int k = 0; k < K; ++k) off[k] += c * L.stride[k][d];
  }
}

__device__ __forceinline__ double loadAny(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::Float32: return static_cast<const float*>(p)[i];
    case DType::Float16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::Int32: return static_cast<const int32_t*>(p)[i];
    case DType::Bool: return static_cast<const uint8_t*>(p)[i];
  }
  return 0;
}

template <typename T>
__global__ void stridedCopyKernel(const T* x, T* out, size_t n, ops::StridedLayout<2> L) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    int64_t off[2];
    offsetsOf<2>(L, i, off);
    out[off[1]] = x[off[0]];
  }
}

template <typename T>
__global__ void indexSelectKernel(const T* x, const int32_t* index, T* out, size_t outer, size_t size, size_t inner,
                                  size_t count, bool perElement, uint64_t* slot) {
  const size_t n = outer * count * inner;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t i = e % inner, j = (e / inner) % count, o = e / (inner * count);
    const size_t pos = perElement ? e : j;
    const int32_t at = index[pos];
    if (at < 0 || static_cast<size_t>(at) >= size) {
      recordBadTarget(slot, nn::TargetOp::IndexSelect, at, pos, size);
      out[e] = T(0);
      continue;
    }
    out[e] = x[(o * size + static_cast<size_t>(at)) * inner + i];
  }
}

__global__ void indexAddKernel(const float* src, const int32_t* index, float* out, size_t outer, size_t size,
                               size_t inner, size_t count, bool perElement, uint64_t* slot) {
  const size_t n = outer * count * inner;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t i = e % inner, j = (e / inner) % count, o = e / (inner * count);
    const size_t pos = perElement ? e : j;
    const int32_t at = index[pos];
    if (at < 0 || static_cast<size_t>(at) >= size) {
      recordBadTarget(slot, nn::TargetOp::IndexAdd, at, pos, size);
      continue;
    }
    atomicAdd(out + (o * size + static_cast<size_t>(at)) * inner + i, src[e]);
  }
}

// One thread per output element walks its column of the reduced dimension.
__global__ void argReduceKernel(const void* x, DType dtype, size_t bytes, void* values, int32_t* indices, size_t outer,
                                size_t size, size_t inner, bool isMax) {
  const size_t n = outer * inner;
  for (size_t oi = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; oi < n;
       oi += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t o = oi / inner, i = oi % inner;
    const size_t base = o * size * inner + i;
    double best = loadAny(x, dtype, base);
    size_t at = 0;
    for (size_t r = 1; r < size && best == best; ++r) {  // stops at a NaN
      const double v = loadAny(x, dtype, base + r * inner);
      if (v != v || (isMax ? v > best : v < best)) {
        best = v;
        at = r;
      }
    }
    indices[oi] = static_cast<int32_t>(at);
    if (values != nullptr) {
      const char* from = static_cast<const char*>(x) + (base + at * inner) * bytes;
      char* to = static_cast<char*>(values) + oi * bytes;
      for (size_t b = 0; b < bytes; ++b) to[b] = from[b];
    }
  }
}

__device__ __forceinline__ uint8_t compareValues(CompareOp op, double x, double y) {
  switch (op) {
    case CompareOp::Eq: return x == y;
    case CompareOp::Ne: return x != y;
    case CompareOp::Lt: return x < y;
    case CompareOp::Le: return x <= y;
    case CompareOp::Gt: return x > y;
    case CompareOp::Ge: return x >= y;
    case CompareOp::And: return (x != 0) && (y != 0);
    case CompareOp::Or: return (x != 0) || (y != 0);
    case CompareOp::Xor: return (x != 0) != (y != 0);
    default: return 0;
  }
}

__global__ void compareKernel(CompareOp op, const void* a, const void* b, uint8_t* out, DType dtype, size_t n,
                              ops::StridedLayout<2> L) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    int64_t off[2];
    offsetsOf<2>(L, i, off);
    out[i] = compareValues(op, loadAny(a, dtype, off[0]), loadAny(b, dtype, off[1]));
  }
}

template <typename T>
__global__ void whereKernel(const uint8_t* cond, const T* a, const T* b, T* out, size_t n, ops::StridedLayout<3> L) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offsetsOf<3>(L, i, off);
    out[i] = cond[off[0]] ? a[off[1]] : b[off[2]];
  }
}

__global__ void rangeKernel(void* out, DType dtype, size_t n, size_t split, double start, double step, double end) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const double v = i < split ? start + static_cast<double>(i) * step : end - static_cast<double>(n - 1 - i) * step;
    switch (dtype) {
      case DType::Float32: static_cast<float*>(out)[i] = static_cast<float>(v); break;
      case DType::Float16: static_cast<__half*>(out)[i] = __float2half_rn(static_cast<float>(v)); break;
      case DType::Int32: static_cast<int32_t*>(out)[i] = floatToInt32(v); break;
      case DType::Bool: static_cast<uint8_t*>(out)[i] = toBool(v); break;
    }
  }
}

size_t elementCount(int ndim, const int64_t* shape) {
  size_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= static_cast<size_t>(shape[d]);
  return n;
}

// Runs f with the unsigned integer type of dtype's element size.
template <typename F>
void withElementType(DType dtype, F&& f) {
  switch (dtypeSize(dtype)) {
    case 1: return f(TypeTag<uint8_t>{});
    case 2: return f(TypeTag<uint16_t>{});
    default: return f(TypeTag<uint32_t>{});
  }
}

void stridedCopy(const ops::StridedCopyArgs& a, StreamId stream) {
  const size_t n = elementCount(a.layout.ndim, a.layout.shape);
  withElementType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), stridedCopyKernel<T>)(
        static_cast<const T*>(a.x->data()) + a.offsetX, static_cast<T*>(a.out->data()) + a.offsetOut, n, a.layout);
  });
  checkLaunch("stridedCopy");
}

void indexSelect(const ops::IndexSelectArgs& a, StreamId stream) {
  uint64_t* slot = targetErrorSlot();
  const size_t n = a.outer * a.count * a.inner;
  withElementType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), indexSelectKernel<T>)(
        static_cast<const T*>(a.x->data()), static_cast<const int32_t*>(a.index->data()), static_cast<T*>(a.out->data()),
        a.outer, a.size, a.inner, a.count, a.perElement, slot);
  });
  checkLaunch("indexSelect");
}

void indexAdd(const ops::IndexAddArgs& a, StreamId stream) {
  uint64_t* slot = targetErrorSlot();
  const size_t n = a.outer * a.count * a.inner;
  HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), indexAddKernel)(
      static_cast<const float*>(a.src->data()), static_cast<const int32_t*>(a.index->data()),
      static_cast<float*>(a.out->data()), a.outer, a.size, a.inner, a.count, a.perElement, slot);
  checkLaunch("indexAdd");
}

void argReduce(const ops::ArgReduceArgs& a, StreamId stream) {
  const size_t n = a.outer * a.inner;
  HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), argReduceKernel)(
      a.x->data(), a.dtype, dtypeSize(a.dtype), a.values ? a.values->data() : nullptr, static_cast<int32_t*>(a.indices->data()), a.outer,
      a.size, a.inner, a.op == ArgReduction::Max);
  checkLaunch("argReduce");
}

void compare(const ops::CompareArgs& a, StreamId stream) {
  const size_t n = elementCount(a.layout.ndim, a.layout.shape);
  HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), compareKernel)(
      a.op, a.a->data(), a.b->data(), static_cast<uint8_t*>(a.out->data()), a.dtype, n, a.layout);
  checkLaunch("compare");
}

void where(const ops::WhereArgs& a, StreamId stream) {
  const size_t n = elementCount(a.layout.ndim, a.layout.shape);
  withElementType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), whereKernel<T>)(
        static_cast<const uint8_t*>(a.cond->data()), static_cast<const T*>(a.a->data()),
        static_cast<const T*>(a.b->data()), static_cast<T*>(a.out->data()), n, a.layout);
  });
  checkLaunch("where");
}

void range(const ops::RangeArgs& a, StreamId stream) {
  HY_LAUNCH(gridFor(a.n, kThreads), kThreads, 0, asStream(stream), rangeKernel)(a.out->data(), a.dtype, a.n, a.split,
                                                                              a.start, a.step, a.end);
  checkLaunch("range");
}

}  // namespace

// Registered implementations (ops/shape.h).
namespace {
HY_REGISTER_OP(ops::StridedCopyArgs, Cuda, "strided", stridedCopy);
HY_REGISTER_OP(ops::IndexSelectArgs, Cuda, "direct", indexSelect);
HY_REGISTER_OP(ops::IndexAddArgs, Cuda, "atomic", indexAdd, nullptr, ops::ImplTraits<ops::IndexAddArgs>{nullptr, false});
HY_REGISTER_OP(ops::ArgReduceArgs, Cuda, "direct", argReduce);
HY_REGISTER_OP(ops::CompareArgs, Cuda, "strided", compare);
HY_REGISTER_OP(ops::WhereArgs, Cuda, "strided", where);
HY_REGISTER_OP(ops::RangeArgs, Cuda, "direct", range);
}  // namespace

}  // namespace hy::cuda
