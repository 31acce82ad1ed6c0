// CPU tensor manipulation (ops/shape.h): strided copies, gathers and scatter-adds along a dim,
// arg-reductions, comparisons, where and ranges. Elements move as bytes of their size, so one copy
// loop serves every dtype; comparisons and arg-reductions compute in double (exact for int32 and
// every float16/float32 value).
#include "../ops/shape.h"

#include <cmath>
#include <cstring>

#include "../core/convert.h"
#include "../core/half.h"
#include "../core/nn.h"
#include "parallel.h"

namespace hy::cpu {

namespace {

inline double loadAny(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::Float32: return static_cast<const float*>(p)[i];
    case DType::Float16: return halfBitsToFloat(static_cast<const uint16_t*>(p)[i]);
    case DType::Int32: return static_cast<const int32_t*>(p)[i];
    case DType::Bool: return static_cast<const uint8_t*>(p)[i];
  }
  return 0;
}

// Calls fn(offsets) for every index of the layout in row-major order, offsets[k] being operand k's
// element offset: an odometer over the outer dimensions, a plain loop over the last.
template <int K, typename F>
void forEachStrided(const ops::StridedLayout<K>& L, F&& fn) {
  if (L.ndim == 0) {
    int64_t off[K] = {};
    fn(off);
    return;
  }
  const int last = L.ndim - 1;
  int64_t idx[ops::kMaxDims] = {};
  int64_t base[K] = {};
  for (;;) {
    int64_t off[K];
    for (int k = 0; k < K; ++k) off[k] = base[k];
    for (int64_t j = 0; j < L.shape[last]; ++j) {
      fn(off);
      for (int k = 0; k < K; ++k) off[k] += L.stride[k][last];
    }
    int d = last - 1;
    for (; d >= 0; --d) {
      for (int k = 0; k < K; ++k) base[k] += L.stride[k][d];
      if (++idx[d] < L.shape[d]) break;
      for (int k = 0; k < K; ++k) base[k] -= L.stride[k][d] * L.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

template <typename T>
void stridedCopyT(const ops::StridedCopyArgs& a) {
  const T* x = static_cast<const T*>(a.x->data()) + a.offsetX;
  T* out = static_cast<T*>(a.out->data()) + a.offsetOut;
  forEachStrided<2>(a.layout, [&](const int64_t* off) { out[off[1]] = x[off[0]]; });
}

void stridedCopy(const ops::StridedCopyArgs& a) {
  switch (dtypeSize(a.dtype)) {
    case 1: return stridedCopyT<uint8_t>(a);
    case 2: return stridedCopyT<uint16_t>(a);
    default: return stridedCopyT<uint32_t>(a);
  }
}

// Every index is checked before anything is written, so a failed call leaves the output untouched.
void checkIndices(nn::TargetOp op, const int32_t* index, size_t n, size_t size) {
  for (size_t j = 0; j < n; ++j) {
    if (index[j] < 0 || static_cast<uint64_t>(index[j]) >= size) nn::throwBadTarget(op, index[j], j, size);
  }
}

template <typename T>
void indexSelectT(const ops::IndexSelectArgs& a) {
  const T* x = static_cast<const T*>(a.x->data());
  T* out = static_cast<T*>(a.out->data());
  const int32_t* index = static_cast<const int32_t*>(a.index->data());
  const size_t outer = a.outer, count = a.count, inner = a.inner, size = a.size;
  for (size_t o = 0; o < outer; ++o) {
    for (size_t j = 0; j < count; ++j) {
      const size_t dst = (o * count + j) * inner;
      if (!a.perElement) {
        std::memcpy(out + dst, x + (o * size + static_cast<size_t>(index[j])) * inner, inner * sizeof(T));
        continue;
      }
      for (size_t i = 0; i < inner; ++i) out[dst + i] = x[(o * size + static_cast<size_t>(index[dst + i])) * inner + i];
    }
  }
}

void indexSelect(const ops::IndexSelectArgs& a) {
  checkIndices(nn::TargetOp::IndexSelect, static_cast<const int32_t*>(a.index->data()),
               a.perElement ? a.outer * a.count * a.inner : a.count, a.size);
  switch (dtypeSize(a.dtype)) {
    case 1: return indexSelectT<uint8_t>(a);
    case 2: return indexSelectT<uint16_t>(a);
    default: return indexSelectT<uint32_t>(a);
  }
}

// Serial, so repeated indices sum in index order (deterministic, unlike the CUDA atomics).
void indexAdd(const ops::IndexAddArgs& a) {
  const int32_t* index = static_cast<const int32_t*>(a.index->data());
  checkIndices(nn::TargetOp::IndexAdd, index, a.perElement ? a.outer * a.count * a.inner : a.count, a.size);
  const float* src = static_cast<const float*>(a.src->data());
  float* out = static_cast<float*>(a.out->data());
  for (size_t o = 0; o < a.outer; ++o) {
    for (size_t j = 0; j < a.count; ++j) {
      const size_t s = (o * a.count + j) * a.inner;
      for (size_t i = 0; i < a.inner; ++i) {
        const size_t at = static_cast<size_t>(a.perElement ? index[s + i] : index[j]);
        out[(o * a.size + at) * a.inner + i] += src[s + i];
      }
    }
  }
}

void argReduce(const ops::ArgReduceArgs& a) {
  const bool isMax = a.op == ArgReduction::Max;
  const void* x = a.x->data();
  parallelFor(a.outer * a.inner, 4096, [&](size_t begin, size_t end) {
    for (size_t oi = begin; oi < end; ++oi) {
      const size_t o = oi / a.inner, i = oi % a.inner;
      const size_t base = o * a.size * a.inner + i;
      double best = loadAny(x, a.dtype, base);
      size_t at = 0;
      for (size_t r = 1; r < a.size && !std::isnan(best); ++r) {
        const double v = loadAny(x, a.dtype, base + r * a.inner);
        if (std::isnan(v) || (isMax ? v > best : v < best)) {
          best = v;
          at = r;
        }
      }
      static_cast<int32_t*>(a.indices->data())[oi] = static_cast<int32_t>(at);
      if (a.values) std::memcpy(static_cast<char*>(a.values->data()) + oi * dtypeSize(a.dtype),
                                static_cast<const char*>(x) + (base + at * a.inner) * dtypeSize(a.dtype), dtypeSize(a.dtype));
    }
  });
}

inline uint8_t compareValues(CompareOp op, double x, double y) {
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

void compare(const ops::CompareArgs& a) {
  const void* pa = a.a->data();
  const void* pb = a.b->data();
  uint8_t* out = static_cast<uint8_t*>(a.out->data());
  size_t i = 0;
  forEachStrided<2>(a.layout, [&](const int64_t* off) {
    out[i++] = compareValues(a.op, loadAny(pa, a.dtype, off[0]), loadAny(pb, a.dtype, off[1]));
  });
}

template <typename T>
void whereT(const ops::WhereArgs& a) {
  const uint8_t* cond = static_cast<const uint8_t*>(a.cond->data());
  const T* pa = static_cast<const T*>(a.a->data());
  const T* pb = static_cast<const T*>(a.b->data());
  T* out = static_cast<T*>(a.out->data());
  size_t i = 0;
  forEachStrided<3>(a.layout, [&](const int64_t* off) { out[i++] = cond[off[0]] ? pa[off[1]] : pb[off[2]]; });
}

void where(const ops::WhereArgs& a) {
  switch (dtypeSize(a.dtype)) {
    case 1: return whereT<uint8_t>(a);
    case 2: return whereT<uint16_t>(a);
    default: return whereT<uint32_t>(a);
  }
}

void range(const ops::RangeArgs& a) {
  void* out = a.out->data();
  for (size_t i = 0; i < a.n; ++i) {
    const double v = i < a.split ? a.start + static_cast<double>(i) * a.step
                                 : a.end - static_cast<double>(a.n - 1 - i) * a.step;
    switch (a.dtype) {
      case DType::Float32: static_cast<float*>(out)[i] = static_cast<float>(v); break;
      case DType::Float16: static_cast<uint16_t*>(out)[i] = floatToHalfBits(static_cast<float>(v)); break;
      case DType::Int32: static_cast<int32_t*>(out)[i] = floatToInt32(v); break;
      case DType::Bool: static_cast<uint8_t*>(out)[i] = toBool(v); break;
    }
  }
}

}  // namespace

// Registered implementations (ops/shape.h).
namespace {
HY_REGISTER_OP(ops::StridedCopyArgs, Cpu, "strided", [](const ops::StridedCopyArgs& a, StreamId) { stridedCopy(a); });
HY_REGISTER_OP(ops::IndexSelectArgs, Cpu, "direct", [](const ops::IndexSelectArgs& a, StreamId) { indexSelect(a); });
HY_REGISTER_OP(ops::IndexAddArgs, Cpu, "serial", [](const ops::IndexAddArgs& a, StreamId) { indexAdd(a); });
HY_REGISTER_OP(ops::ArgReduceArgs, Cpu, "direct", [](const ops::ArgReduceArgs& a, StreamId) { argReduce(a); });
HY_REGISTER_OP(ops::CompareArgs, Cpu, "strided", [](const ops::CompareArgs& a, StreamId) { compare(a); });
HY_REGISTER_OP(ops::WhereArgs, Cpu, "strided", [](const ops::WhereArgs& a, StreamId) { where(a); });
HY_REGISTER_OP(ops::RangeArgs, Cpu, "direct", [](const ops::RangeArgs& a, StreamId) { range(a); });
}  // namespace

}  // namespace hy::cpu
