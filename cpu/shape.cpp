// CPU tensor manipulation (ops/shape.h): strided copies, gathers and scatter-adds along a dim,
// arg-reductions, comparisons, where and ranges. Elements move as bytes of their size, so one copy
// loop serves every dtype; rows split over the pool above a fixed grain (the split depends only on
// the shape); comparisons compare in double (exact for int32 and every float16/float32 value).
#include "../ops/shape.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "../core/convert.h"
#include "../core/half.h"
#include "../core/nn.h"
#include "parallel.h"
#include "strided.h"

namespace hy::cpu {

namespace {

// The last two dimensions of a transpose (x contiguous along the second-to-last, out along the
// last): copied in square tiles, so both sides stay in cache.
template <typename T>
bool transposeTiles(const ops::StridedCopyArgs& a, const T* x, T* out) {
  const ops::StridedLayout<2>& L = a.layout;
  if (L.ndim < 2) return false;
  const int r = L.ndim - 2, c = L.ndim - 1;
  if (!(L.stride[0][r] == 1 && L.stride[1][c] == 1 && L.stride[0][c] != 1)) return false;
  constexpr int64_t kTile = 32;
  const int64_t R = L.shape[r], C = L.shape[c];
  size_t outer = 1;
  for (int d = 0; d < r; ++d) outer *= static_cast<size_t>(L.shape[d]);
  const int64_t tilesR = (R + kTile - 1) / kTile, tilesC = (C + kTile - 1) / kTile;
  const size_t tiles = outer * static_cast<size_t>(tilesR * tilesC);
  parallelFor(tiles, std::max<size_t>(1, kGrain / (kTile * kTile)), [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      const size_t o = t / static_cast<size_t>(tilesR * tilesC);
      const int64_t tr = static_cast<int64_t>(t % static_cast<size_t>(tilesR * tilesC)) / tilesC;
      const int64_t tc = static_cast<int64_t>(t % static_cast<size_t>(tilesR * tilesC)) % tilesC;
      int64_t bx = 0, bo = 0;
      size_t rest = o;
      for (int d = r - 1; d >= 0; --d) {
        const int64_t k = static_cast<int64_t>(rest % static_cast<size_t>(L.shape[d]));
        rest /= static_cast<size_t>(L.shape[d]);
        bx += k * L.stride[0][d];
        bo += k * L.stride[1][d];
      }
      const int64_t r0 = tr * kTile, r1 = std::min(R, r0 + kTile), c0 = tc * kTile, c1 = std::min(C, c0 + kTile);
      for (int64_t i = r0; i < r1; ++i) {
        const T* xs = x + bx + i * L.stride[0][r];
        T* os = out + bo + i * L.stride[1][r];
        for (int64_t j = c0; j < c1; ++j) os[j] = xs[j * L.stride[0][c]];
      }
    }
  });
  return true;
}

template <typename T>
void stridedCopyT(const ops::StridedCopyArgs& a) {
  const T* x = static_cast<const T*>(a.x->data()) + a.offsetX;
  T* out = static_cast<T*>(a.out->data()) + a.offsetOut;
  if (transposeTiles(a, x, out)) return;
  const int last = a.layout.ndim - 1;
  const int64_t sx = last >= 0 ? a.layout.stride[0][last] : 1, so = last >= 0 ? a.layout.stride[1][last] : 1;
  forEachRow<2>(a.layout, [&](const int64_t* off, size_t, int64_t len) {
    const T* xs = x + off[0];
    T* os = out + off[1];
    if (sx == 1 && so == 1) {
      std::memcpy(os, xs, static_cast<size_t>(len) * sizeof(T));
    } else if (so == 1) {
      for (int64_t j = 0; j < len; ++j) os[j] = xs[j * sx];  // x broadcast (sx 0) or strided
    } else {
      for (int64_t j = 0; j < len; ++j) os[j * so] = xs[j * sx];
    }
  });
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
  parallelFor(outer * count, std::max<size_t>(1, kGrain / std::max<size_t>(inner, 1)), [&](size_t begin, size_t end) {
    for (size_t oj = begin; oj < end; ++oj) {
      const size_t o = oj / count, j = oj % count;
      const size_t dst = oj * inner;
      if (!a.perElement) {
        std::memcpy(out + dst, x + (o * size + static_cast<size_t>(index[j])) * inner, inner * sizeof(T));
        continue;
      }
      for (size_t i = 0; i < inner; ++i) out[dst + i] = x[(o * size + static_cast<size_t>(index[dst + i])) * inner + i];
    }
  });
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

inline float valueOf(float v) { return v; }
inline float valueOf(uint16_t h) { return halfBitsToFloat(h); }
inline int32_t valueOf(int32_t v) { return v; }

// The first index of the max (or min) of each column; NaN wins and ends the walk.
template <typename T, bool kMax>
void argReduceT(const ops::ArgReduceArgs& a) {
  const T* x = static_cast<const T*>(a.x->data());
  int32_t* indices = static_cast<int32_t*>(a.indices->data());
  T* values = a.values ? static_cast<T*>(a.values->data()) : nullptr;
  const size_t size = a.size, inner = a.inner;
  parallelFor(a.outer * inner, std::max<size_t>(1, kGrain / size), [&](size_t begin, size_t end) {
    for (size_t oi = begin; oi < end; ++oi) {
      const size_t o = oi / inner, i = oi % inner;
      const T* col = x + o * size * inner + i;
      auto best = valueOf(col[0]);
      size_t at = 0;
      for (size_t r = 1; r < size && best == best; ++r) {
        const auto v = valueOf(col[r * inner]);
        if (v != v || (kMax ? v > best : v < best)) {
          best = v;
          at = r;
        }
      }
      indices[oi] = static_cast<int32_t>(at);
      if (values != nullptr) values[oi] = col[at * inner];
    }
  });
}

template <typename T>
void argReduceOf(const ops::ArgReduceArgs& a) {
  if (a.op == ArgReduction::Max) return argReduceT<T, true>(a);
  argReduceT<T, false>(a);
}

void argReduce(const ops::ArgReduceArgs& a) {
  switch (a.dtype) {
    case DType::Float32: return argReduceOf<float>(a);
    case DType::Float16: return argReduceOf<uint16_t>(a);
    default: return argReduceOf<int32_t>(a);
  }
}


inline uint8_t valueOf(uint8_t v) { return v; }

// x (op) y in the values' own type (float for float16 too: exact); logical ops on truth values.
template <CompareOp OP, typename V>
inline uint8_t compareAs(V x, V y) {
  switch (OP) {
    case CompareOp::Eq: return x == y;
    case CompareOp::Ne: return x != y;
    case CompareOp::Lt: return x < y;
    case CompareOp::Le: return x <= y;
    case CompareOp::Gt: return x > y;
    case CompareOp::Ge: return x >= y;
    case CompareOp::And: return (x != 0) & (y != 0);
    case CompareOp::Or: return (x != 0) | (y != 0);
    case CompareOp::Xor: return (x != 0) ^ (y != 0);
    default: return 0;
  }
}

// One instantiation per dtype and op, the op's test inlined into the row loop; rows whose inputs
// are contiguous or a broadcast scalar get loops of their own, which vectorise.
template <typename T, CompareOp OP>
void compareT(const ops::CompareArgs& a) {
  const T* pa = static_cast<const T*>(a.a->data());
  const T* pb = static_cast<const T*>(a.b->data());
  uint8_t* out = static_cast<uint8_t*>(a.out->data());
  const int last = a.layout.ndim - 1;
  const int64_t sa = last >= 0 ? a.layout.stride[0][last] : 0, sb = last >= 0 ? a.layout.stride[1][last] : 0;
  forEachRow<2>(a.layout, [&](const int64_t* off, size_t first, int64_t len) {
    const T* ra = pa + off[0];
    const T* rb = pb + off[1];
    uint8_t* ro = out + first;
    if (sa == 1 && sb == 1) {
      for (int64_t j = 0; j < len; ++j) ro[j] = compareAs<OP>(valueOf(ra[j]), valueOf(rb[j]));
    } else if (sa == 1 && sb == 0) {
      const auto y = valueOf(rb[0]);
      for (int64_t j = 0; j < len; ++j) ro[j] = compareAs<OP>(valueOf(ra[j]), y);
    } else {
      for (int64_t j = 0; j < len; ++j) ro[j] = compareAs<OP>(valueOf(ra[j * sa]), valueOf(rb[j * sb]));
    }
  });
}

template <typename T>
void compareOf(const ops::CompareArgs& a) {
#define HY_CASE(name, js) \
  case CompareOp::name: return compareT<T, CompareOp::name>(a);
  switch (a.op) {
    HY_COMPARE_OPS(HY_CASE)
    default: return;
  }
#undef HY_CASE
}

void compare(const ops::CompareArgs& a) {
  switch (a.dtype) {
    case DType::Float32: return compareOf<float>(a);
    case DType::Float16: return compareOf<uint16_t>(a);
    case DType::Int32: return compareOf<int32_t>(a);
    case DType::Bool: return compareOf<uint8_t>(a);
  }
}

template <typename T>
void whereT(const ops::WhereArgs& a) {
  const uint8_t* cond = static_cast<const uint8_t*>(a.cond->data());
  const T* pa = static_cast<const T*>(a.a->data());
  const T* pb = static_cast<const T*>(a.b->data());
  T* out = static_cast<T*>(a.out->data());
  const int last = a.layout.ndim - 1;
  const int64_t sc = last >= 0 ? a.layout.stride[0][last] : 0, sa = last >= 0 ? a.layout.stride[1][last] : 0,
                sb = last >= 0 ? a.layout.stride[2][last] : 0;
  forEachRow<3>(a.layout, [&](const int64_t* off, size_t first, int64_t len) {
    const uint8_t* rc = cond + off[0];
    const T* ra = pa + off[1];
    const T* rb = pb + off[2];
    T* ro = out + first;
    // Bit masks instead of a branch: a random condition would mispredict half the time.
    if (sc == 1 && sa == 1 && sb == 1) {
      for (int64_t j = 0; j < len; ++j) {
        const T m = static_cast<T>(-static_cast<T>(rc[j]));
        ro[j] = static_cast<T>((ra[j] & m) | (rb[j] & static_cast<T>(~m)));
      }
    } else if (sc == 1 && sa == 1 && sb == 0) {
      const T y = rb[0];
      for (int64_t j = 0; j < len; ++j) {
        const T m = static_cast<T>(-static_cast<T>(rc[j]));
        ro[j] = static_cast<T>((ra[j] & m) | (y & static_cast<T>(~m)));
      }
    } else {
      for (int64_t j = 0; j < len; ++j) ro[j] = rc[j * sc] ? ra[j * sa] : rb[j * sb];
    }
  });
}

void where(const ops::WhereArgs& a) {
  switch (dtypeSize(a.dtype)) {
    case 1: return whereT<uint8_t>(a);
    case 2: return whereT<uint16_t>(a);
    default: return whereT<uint32_t>(a);
  }
}

// The two halves as straight loops (no per-element branch), so they vectorise.
template <typename T, typename Store>
void rangeT(const ops::RangeArgs& a, Store store) {
  T* const out = static_cast<T*>(a.out->data());
  const double start = a.start, step = a.step, end = a.end;
  const size_t n = a.n, split = a.split;
  parallelFor(n, kGrain, [out, start, step, end, n, split, store](size_t begin, size_t stop) {
    const size_t mid = std::min(std::max(begin, split), stop);
    for (size_t i = begin; i < mid; ++i) out[i] = store(start + static_cast<double>(i) * step);
    for (size_t i = mid; i < stop; ++i) out[i] = store(end - static_cast<double>(n - 1 - i) * step);
  });
}

void range(const ops::RangeArgs& a) {
  const bool integral = a.start == std::floor(a.start) && a.step == std::floor(a.step) && a.split == a.n &&
                        std::fabs(a.start) < 2147483648.0 && std::fabs(a.step) < 2147483648.0;
  if (a.dtype == DType::Int32 && integral) {
    // arange of integers: exact in int64, saturated to int32 as floatToInt32 does
    int32_t* const out = static_cast<int32_t*>(a.out->data());
    const int64_t start = static_cast<int64_t>(a.start), step = static_cast<int64_t>(a.step);
    parallelFor(a.n, kGrain, [out, start, step](size_t begin, size_t stop) {
      for (size_t i = begin; i < stop; ++i) {
        const int64_t v = start + static_cast<int64_t>(i) * step;
        out[i] = static_cast<int32_t>(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
      }
    });
    return;
  }
  switch (a.dtype) {
    case DType::Float32: return rangeT<float>(a, [](double v) { return static_cast<float>(v); });
    case DType::Float16: return rangeT<uint16_t>(a, [](double v) { return floatToHalfBits(static_cast<float>(v)); });
    case DType::Int32: return rangeT<int32_t>(a, [](double v) { return floatToInt32(v); });
    case DType::Bool: return rangeT<uint8_t>(a, [](double v) { return toBool(v); });
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
