// Elementwise ops and reductions on the CPU. Each op is a template instance so the loop body is a
// straight-line function of the element and the compiler vectorises the float32 paths.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../core/elementwise_math.h"
#include "../core/half.h"
#include "../ops/elementwise.h"
#include "clones.h"
#include "features.h"
#include "gelu_vec.h"
#include "lanes.h"
#include "parallel.h"
#include "streaming.h"

namespace hy::cpu {

// The public entry points are cloned per vector width (cpu/clones.h); the loops below inline into
// each. Each op's float32 loop is its own wide clone: inside the big per-op switch the compiler's
// AVX-512 clone leaves the computing loops (GELU, tanh) scalar.
// Forced inlining so each loop is compiled inside, and for the target of, its cloned entry point.
#define HY_INLINE inline __attribute__((always_inline))

namespace {

template <typename F>
HY_INLINE void mapFloat(const void* in, void* out, DType dtype, size_t n, F f) {
  if (dtype == DType::Float32) {
    const float* x = static_cast<const float*>(in);
    float* y = static_cast<float*>(out);
    for (size_t i = 0; i < n; ++i) y[i] = f(x[i]);
  } else {
    const uint16_t* x = static_cast<const uint16_t*>(in);
    uint16_t* y = static_cast<uint16_t*>(out);
    for (size_t i = 0; i < n; ++i) y[i] = floatToHalfBits(f(halfBitsToFloat(x[i])));
  }
}

// One out-of-line loop per op for float32, each cloned for every vector width: inside the big
// per-op switch the compiler's AVX-512 clone leaves the computing loops (GELU, tanh) scalar.
template <UnaryOp OP>
HY_CPU_CLONES_WIDE __attribute__((noinline)) void unaryFloat(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = applyUnary(OP, x[i]);
}

template <UnaryGradOp OP>
HY_CPU_CLONES_WIDE __attribute__((noinline)) void unaryGradFloat(const float* x, const float* g, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = applyUnaryGrad(OP, x[i], g[i]);
}

// float16 storage: the same, through the branch-free conversions of core/half.h.
template <UnaryOp OP>
HY_CPU_CLONES_WIDE __attribute__((noinline)) void unaryHalf(const uint16_t* x, uint16_t* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = floatToHalfBits(applyUnary(OP, halfBitsToFloat(x[i])));
}

template <UnaryGradOp OP>
HY_CPU_CLONES_WIDE __attribute__((noinline)) void unaryGradHalf(const uint16_t* x, const uint16_t* g, uint16_t* y,
                                                                size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = floatToHalfBits(applyUnaryGrad(OP, halfBitsToFloat(x[i]), halfBitsToFloat(g[i])));
}

template <UnaryOp OP>
HY_INLINE void unaryT(const void* in, void* out, DType dtype, size_t n) {
  if (dtype == DType::Float32) return unaryFloat<OP>(static_cast<const float*>(in), static_cast<float*>(out), n);
  unaryHalf<OP>(static_cast<const uint16_t*>(in), static_cast<uint16_t*>(out), n);
}

template <UnaryGradOp OP>
HY_INLINE void unaryGradT(const void* x, const void* g, void* out, DType dtype, size_t n) {
  if (dtype == DType::Float32) {
    return unaryGradFloat<OP>(static_cast<const float*>(x), static_cast<const float*>(g), static_cast<float*>(out), n);
  }
  unaryGradHalf<OP>(static_cast<const uint16_t*>(x), static_cast<const uint16_t*>(g), static_cast<uint16_t*>(out), n);
}

template <ScalarOp OP>
HY_INLINE void scalarT(const void* in, void* out, DType dtype, size_t n, float s) {
  mapFloat(in, out, dtype, n, [s](float x) { return applyScalar(OP, x, s); });
}

template <typename T, BinaryOp OP>
HY_INLINE void binaryT(const T* a, const T* b, T* out, const BroadcastLayout& L) {
  const int nd = L.ndim;
  const int64_t inner = nd > 0 ? L.shape[nd - 1] : 1;
  const int64_t sa = nd > 0 ? L.strideA[nd - 1] : 0;
  const int64_t sb = nd > 0 ? L.strideB[nd - 1] : 0;
  int64_t outer = 1;
  for (int d = 0; d + 1 < nd; ++d) outer *= L.shape[d];
  int64_t idx[kMaxDims] = {};
  for (int64_t o = 0; o < outer; ++o) {
    int64_t offA = 0, offB = 0;
    for (int d = 0; d + 1 < nd; ++d) {
      offA += idx[d] * L.strideA[d];
      offB += idx[d] * L.strideB[d];
    }
    T* y = out + o * inner;
    if constexpr (std::is_same_v<T, float>) {
      const float* pa = a + offA;
      const float* pb = b + offB;
      if (sa == 1 && sb == 1) {
        // Unrolled: with one vector a trip, a row of 2048 plus a broadcast row ran at 0.6x the speed
        // of the scalar-operand loop, on instruction throughput rather than memory.
#pragma GCC unroll 4
        for (int64_t i = 0; i < inner; ++i) y[i] = applyBinary(OP, pa[i], pb[i]);
      } else if (sa == 1 && sb == 0) {
        const float vb = pb[0];
        for (int64_t i = 0; i < inner; ++i) y[i] = applyBinary(OP, pa[i], vb);
      } else if (sa == 0 && sb == 1) {
        const float va = pa[0];
        for (int64_t i = 0; i < inner; ++i) y[i] = applyBinary(OP, va, pb[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) y[i] = applyBinary(OP, pa[i * sa], pb[i * sb]);
      }
    } else {
      for (int64_t i = 0; i < inner; ++i) {
        y[i] = floatToHalfBits(applyBinary(OP, halfBitsToFloat(a[offA + i * sa]), halfBitsToFloat(b[offB + i * sb])));
      }
    }
    for (int d = nd - 2; d >= 0; --d) {  // odometer over the outer dimensions
      if (++idx[d] < L.shape[d]) break;
      idx[d] = 0;
    }
  }
}

template <BinaryOp OP>
HY_INLINE void binaryOp(const void* a, const void* b, void* out, DType dtype, const BroadcastLayout& L) {
  if (dtype == DType::Float32) {
    binaryT<float, OP>(static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(out), L);
  } else {
    binaryT<uint16_t, OP>(static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b), static_cast<uint16_t*>(out),
                          L);
  }
}

inline float loadF(const void* p, DType t, size_t i) {
  return t == DType::Float32 ? static_cast<const float*>(p)[i] : halfBitsToFloat(static_cast<const uint16_t*>(p)[i]);
}

}  // namespace

void unary(UnaryOp op, const void* in, void* out, DType dtype, size_t n) {
  // One instantiation per op of the list in core/enums.h: a new op needs no edit here.
#define HY_CASE(name, js) \
    case UnaryOp::name: return unaryT<UnaryOp::name>(in, out, dtype, n);
  switch (op) {
    HY_UNARY_OPS(HY_CASE)
    default: return;
  }
#undef HY_CASE
}

void unaryGrad(UnaryGradOp op, const void* x, const void* gradOut, void* gradIn, DType dtype, size_t n) {
  // One instantiation per op of the list in core/enums.h: a new op needs no edit here.
#define HY_CASE(name, js) \
    case UnaryGradOp::name: return unaryGradT<UnaryGradOp::name>(x, gradOut, gradIn, dtype, n);
  switch (op) {
    HY_UNARY_GRAD_OPS(HY_CASE)
    default: return;
  }
#undef HY_CASE
}

HY_CPU_CLONES void scalar(ScalarOp op, const void* in, void* out, DType dtype, size_t n, float s) {
  // One instantiation per op of the list in core/enums.h: a new op needs no edit here.
#define HY_CASE(name, js) \
    case ScalarOp::name: return scalarT<ScalarOp::name>(in, out, dtype, n, s);
  switch (op) {
    HY_SCALAR_OPS(HY_CASE)
    default: return;
  }
#undef HY_CASE
}

HY_CPU_CLONES void binary(BinaryOp op, const void* a, const void* b, void* out, DType dtype, const BroadcastLayout& layout) {
  // One instantiation per op of the list in core/enums.h: a new op needs no edit here.
#define HY_CASE(name, js) \
    case BinaryOp::name: return binaryOp<BinaryOp::name>(a, b, out, dtype, layout);
  switch (op) {
    HY_BINARY_OPS(HY_CASE)
    default: return;
  }
#undef HY_CASE
}

// Sums accumulate in double (the CPU twin is also the reference the GPU result is compared with),
// in independent lanes the compiler vectorises; the work splits over the pool into pieces fixed by
// the shape alone, whose partial sums are added in order, so the result never depends on the
// number of threads.
template <typename T>
inline double elementAt(const T* p, size_t i);
template <>
inline double elementAt<float>(const float* p, size_t i) { return p[i]; }
template <>
inline double elementAt<uint16_t>(const uint16_t* p, size_t i) { return halfBitsToFloat(p[i]); }

// sum of x[0 .. n) in double lanes (cpu/lanes.h).
template <typename T>
HY_CPU_CLONES double sumRun(const T* x, size_t n) {
  return laneSum(n, [x](size_t i) { return elementAt(x, i); });
}

// acc[0 .. n) += x[0 .. n).
template <typename T>
HY_CPU_CLONES void addRun(double* acc, const T* x, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += elementAt(x, i);
}

template <typename T>
void storeScaled(void* out, size_t i, double v, float scale) {
  const float f = static_cast<float>(v * scale);
  if constexpr (std::is_same_v<T, float>) {
    static_cast<float*>(out)[i] = f;
  } else {
    static_cast<uint16_t*>(out)[i] = floatToHalfBits(f);
  }
}

template <typename T>
void reduceSumOf(const T* in, void* out, size_t outer, size_t reduce, size_t inner, float scale) {
  constexpr size_t kPiece = size_t(1) << 15;  // elements per piece of one long contiguous sum
  if (inner == 1) {
    const size_t pieces = (reduce + kPiece - 1) / kPiece;
    if (pieces <= 1 || outer > 1) {
      parallelFor(outer, std::max<size_t>(1, (size_t(1) << 16) / std::max<size_t>(reduce, 1)), [&](size_t b, size_t e) {
        for (size_t o = b; o < e; ++o) storeScaled<T>(out, o, sumRun(in + o * reduce, reduce), scale);
      });
      return;
    }
    std::vector<double> partial(pieces);
    parallelFor(pieces, 1, [&](size_t b, size_t e) {
      for (size_t p = b; p < e; ++p) partial[p] = sumRun(in + p * kPiece, std::min(kPiece, reduce - p * kPiece));
    });
    double total = 0;
    for (double v : partial) total += v;
    storeScaled<T>(out, 0, total, scale);
    return;
  }
  // Strided: each task owns a slice of inner columns of one outer row and sums over reduce.
  constexpr size_t kSlice = 1024;
  const size_t slices = (inner + kSlice - 1) / kSlice;
  const size_t work = reduce * std::min(inner, kSlice);
  parallelFor(outer * slices, std::max<size_t>(1, (size_t(1) << 16) / std::max<size_t>(work, 1)), [&](size_t b, size_t e) {
    std::vector<double> acc(kSlice);
    for (size_t t = b; t < e; ++t) {
      const size_t o = t / slices, i0 = (t % slices) * kSlice, n = std::min(kSlice, inner - i0);
      std::fill(acc.begin(), acc.begin() + n, 0.0);
      for (size_t r = 0; r < reduce; ++r) addRun(acc.data(), in + (o * reduce + r) * inner + i0, n);
      for (size_t i = 0; i < n; ++i) storeScaled<T>(out, o * inner + i0 + i, acc[i], scale);
    }
  });
}

void reduceSum(const void* in, void* out, DType dtype, size_t outer, size_t reduce, size_t inner, float scale) {
  if (dtype == DType::Float32) {
    reduceSumOf(static_cast<const float*>(in), out, outer, reduce, inner, scale);
  } else {
    reduceSumOf(static_cast<const uint16_t*>(in), out, outer, reduce, inner, scale);
  }
}

// Registered implementations (ops/elementwise.h).
namespace {
using namespace ops;
// Elementwise work splits over the thread pool in chunks of at least this many elements: below it
// a chunk costs less than handing it to another thread. Results do not depend on the split.
constexpr size_t kParallelGrain = size_t(1) << 17;

// p advanced by `elements` of dtype.
template <typename P>
P* at(P* p, DType dtype, size_t elements) {
  using Byte = std::conditional_t<std::is_const_v<P>, const char, char>;
  return reinterpret_cast<P*>(reinterpret_cast<Byte*>(p) + elements * dtypeSize(dtype));
}

// GELU in float32 through its explicit vector kernels (cpu/gelu_vec.h) where the CPU has the
// instructions: the compiler's loop over the scalar formula was compute-bound at a third of the
// vector units' throughput. Other ops and float16 fall through to "vectorized".
void geluForward(const GeluKernels& k, const UnaryArgs& a) {
  const float* x = static_cast<const float*>(a.x->data());
  float* y = static_cast<float*>(a.out->data());
  parallelFor(a.n, kParallelGrain, [&](size_t b, size_t e) { k.forward(x + b, y + b, e - b); });
}
void geluBackward(const GeluKernels& k, const UnaryGradArgs& a) {
  const float* x = static_cast<const float*>(a.x->data());
  const float* g = static_cast<const float*>(a.gradOut->data());
  float* out = static_cast<float*>(a.gradIn->data());
  parallelFor(a.n, kParallelGrain, [&](size_t b, size_t e) { k.backward(x + b, g + b, out + b, e - b); });
}
bool isGelu(const UnaryArgs& a) { return a.op == UnaryOp::Gelu && a.dtype == DType::Float32; }
bool isGelu(const UnaryGradArgs& a) { return a.op == UnaryGradOp::Gelu && a.dtype == DType::Float32; }
#if defined(__x86_64__)
HY_REGISTER_OP(
    UnaryArgs, Cpu, "avx512", [](const UnaryArgs& a, StreamId) { geluForward(kGeluAvx512, a); },
    [](const UnaryArgs& a) { return isGelu(a) && hasAvx512(); });
HY_REGISTER_OP(
    UnaryArgs, Cpu, "avx2", [](const UnaryArgs& a, StreamId) { geluForward(kGeluAvx2, a); },
    [](const UnaryArgs& a) { return isGelu(a) && hasAvx2(); });
HY_REGISTER_OP(
    UnaryGradArgs, Cpu, "avx512", [](const UnaryGradArgs& a, StreamId) { geluBackward(kGeluAvx512, a); },
    [](const UnaryGradArgs& a) { return isGelu(a) && hasAvx512(); });
HY_REGISTER_OP(
    UnaryGradArgs, Cpu, "avx2", [](const UnaryGradArgs& a, StreamId) { geluBackward(kGeluAvx2, a); },
    [](const UnaryGradArgs& a) { return isGelu(a) && hasAvx2(); });
#endif

HY_REGISTER_OP(UnaryArgs, Cpu, "vectorized", [](const UnaryArgs& a, StreamId) {
  parallelFor(a.n, kParallelGrain, [&](size_t b, size_t e) {
    unary(a.op, at<const void>(a.x->data(), a.dtype, b), at<void>(a.out->data(), a.dtype, b), a.dtype, e - b);
  });
});
HY_REGISTER_OP(UnaryGradArgs, Cpu, "vectorized", [](const UnaryGradArgs& a, StreamId) {
  parallelFor(a.n, kParallelGrain, [&](size_t b, size_t e) {
    unaryGrad(a.op, at<const void>(a.x->data(), a.dtype, b), at<const void>(a.gradOut->data(), a.dtype, b),
              at<void>(a.gradIn->data(), a.dtype, b), a.dtype, e - b);
  });
});
HY_REGISTER_OP(ScalarArgs, Cpu, "vectorized", [](const ScalarArgs& a, StreamId) {
  // Reads and writes n elements: memory-bound, so a large output streams (cpu/streaming.h).
  const size_t bytes = a.n * dtypeSize(a.dtype);
  parallelForOutput(a.out->data(), dtypeSize(a.dtype), a.n, kParallelGrain, 2 * bytes, [&](size_t b, size_t e, void* y) {
    scalar(a.op, at<const void>(a.x->data(), a.dtype, b), y, a.dtype, e - b, static_cast<float>(a.s));
  });
});
// Split over the pool along the outermost dimension (the only one for same-shape operands, which
// the binding collapses to one): each piece is the same op over a sub-range with the same strides.
HY_REGISTER_OP(BinaryArgs, Cpu, "strided", [](const BinaryArgs& a, StreamId) {
  const BroadcastLayout& L = a.layout;
  if (L.ndim == 0) return binary(a.op, a.a->data(), a.b->data(), a.out->data(), a.dtype, L);
  int64_t inner = 1;  // output elements per index of the outermost dimension
  for (int d = 1; d < L.ndim; ++d) inner *= L.shape[d];
  const size_t outer = static_cast<size_t>(L.shape[0]);
  const size_t grain = std::max<size_t>(1, kParallelGrain / static_cast<size_t>(std::max<int64_t>(inner, 1)));
  // Memory-bound: a large output streams (cpu/streaming.h). The footprint counts the output and
  // each operand's storage, at most the output's size (a broadcast row counts as itself).
  const size_t rowBytes = static_cast<size_t>(inner) * dtypeSize(a.dtype);
  const size_t outBytes = rowBytes * outer;
  const size_t footprint = outBytes + std::min(a.a->bytes, outBytes) + std::min(a.b->bytes, outBytes);
  parallelForOutput(a.out->data(), rowBytes, outer, grain, footprint, [&](size_t b, size_t e, void* y) {
    BroadcastLayout piece = L;
    piece.shape[0] = static_cast<int64_t>(e - b);
    const int64_t i0 = static_cast<int64_t>(b);
    binary(a.op, at<const void>(a.a->data(), a.dtype, static_cast<size_t>(i0 * L.strideA[0])),
           at<const void>(a.b->data(), a.dtype, static_cast<size_t>(i0 * L.strideB[0])), y, a.dtype, piece);
  });
});
HY_REGISTER_OP(ReduceSumArgs, Cpu, "vectorized", [](const ReduceSumArgs& a, StreamId) {
  reduceSum(a.x->data(), a.out->data(), a.dtype, a.outer, a.reduce, a.inner, static_cast<float>(a.scale));
});
}  // namespace

}  // namespace hy::cpu
