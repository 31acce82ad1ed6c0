// Op declarations: the tensor-manipulation family. Copies through strides (transpose, permute,
// slices with steps, expand, cat, stack and their gradients), gathers and scatter-adds along one
// dimension (indexSelect, gather, index and their gradients), arg-reductions (argmax, argmin, max
// and min over a dim), comparisons and logical ops giving bool, where, and ranges (arange,
// linspace). Any dtype moves through the copies; each op says which it computes on.
// Implementations: cpu/shape.cpp, cuda/shape.cu.
#pragma once
#include <cmath>
#include <string>

#include "../core/op_registry.h"

namespace hy::ops {

// An iteration shape and K operands' element strides over it (0 along a broadcast dimension); the
// kernels' view of a strided op, derived by check().
template <int K>
struct StridedLayout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[K][kMaxDims] = {};
};

namespace detail {
// The element count of `shape` (0 when any extent is 0), after checking that every operand's last
// reachable element lies below 2^52. last[k] receives operand k's last index (extent - 1).
template <int K>
uint64_t layoutOf(const Check& c, const Dims& shape, const Dims* const (&strides)[K], const char* const (&names)[K],
                  StridedLayout<K>& L, uint64_t (&last)[K]) {
  for (int k = 0; k < K; ++k) {
    if (strides[k]->n != shape.n) {
      c.fail(names[k], std::to_string(shape.n) + " strides like shape", std::to_string(strides[k]->n));
    }
    last[k] = 0;
  }
  bool empty = false;
  for (int d = 0; d < shape.n; ++d) empty = empty || shape.v[d] == 0;
  L.ndim = shape.n;
  uint64_t n = 1;
  for (int d = 0; d < shape.n; ++d) {
    L.shape[d] = shape.v[d];
    for (int k = 0; k < K; ++k) L.stride[k][d] = strides[k]->v[d];
    if (empty) continue;
    const uint64_t extent = static_cast<uint64_t>(shape.v[d]);
    n = c.product({n, extent}, "the element count of shape");
    for (int k = 0; k < K; ++k) {
      uint64_t step = 0;
      if (__builtin_mul_overflow(extent - 1, static_cast<uint64_t>(strides[k]->v[d]), &step) ||
          __builtin_add_overflow(last[k], step, &last[k]) || last[k] >= (uint64_t(1) << 52)) {
        c.fail(names[k], "strides whose last element lies below 2^52", "a larger extent");
      }
    }
  }
  return empty ? 0 : n;
}
}  // namespace detail

// out[offsetOut + i . stridesOut] = x[offsetX + i . stridesX] for every index i of `shape`. The
// output strides must not repeat an element (no zero stride along an extent above 1): two writes
// of one element would race.
struct StridedCopyArgs {
  static constexpr const char* kName = "stridedCopy";
  StoragePtr x, out;
  DType dtype = DType::Float32;
  Dims shape, stridesX, stridesOut;
  uint64_t offsetX = 0, offsetOut = 0;
  StridedLayout<2> layout;  // derived by check(): stride[0] is x's, stride[1] out's
  void fields(Fields& f) {
    f.storage("x", x);
    f.storage("out", out);
    f.dtype("dtype", dtype, kAllTypes);
    f.dims("shape", shape);
    f.dims("stridesX", stridesX);
    f.size("offsetX", offsetX);
    f.dims("stridesOut", stridesOut);
    f.size("offsetOut", offsetOut);
  }
  bool check(const Check& c) {
    const Dims* strides[2] = {&stridesX, &stridesOut};
    const char* names[2] = {"stridesX", "stridesOut"};
    uint64_t last[2];
    const uint64_t n = detail::layoutOf<2>(c, shape, strides, names, layout, last);
    if (n == 0) return false;
    for (int d = 0; d < shape.n; ++d) {
      if (shape.v[d] > 1 && stridesOut.v[d] == 0) c.fail("stridesOut", "nonzero along every extent above 1", "0");
    }
    c.holds("x", x, c.product({1, offsetX + last[0] + 1}, "offsetX + the last element"), dtype);
    c.holds("out", out, c.product({1, offsetOut + last[1] + 1}, "offsetOut + the last element"), dtype);
    return true;
  }
};

// Gathers along the middle of [outer, size, inner]: out[o, j, i] = x[o, index[..], i] with out of
// shape [outer, count, inner]. `perElement` false: index is [count] (indexSelect); true: index is
// [outer, count, inner], one per output element (gather). An index outside [0, size) is a
// RangeError naming its position: before any write on the CPU; on CUDA at the next synchronising
// read (the element gets 0).
struct IndexSelectArgs {
  static constexpr const char* kName = "indexSelect";
  StoragePtr x, index, out;
  DType dtype = DType::Float32;
  uint64_t outer = 0, size = 0, inner = 0, count = 0;
  bool perElement = false;
  void fields(Fields& f) {
    f.storage("x", x);
    f.storage("index", index);
    f.storage("out", out);
    f.dtype("dtype", dtype, kAllTypes);
    f.size("outer", outer);
    f.size("size", size);
    f.size("inner", inner);
    f.size("count", count);
    f.boolean("perElement", perElement);
  }
  bool check(const Check& c) const {
    c.fitsInt("size", size);
    c.holds("x", x, c.product({outer, size, inner}, "outer * size * inner"), dtype);
    const uint64_t n = c.product({outer, count, inner}, "outer * count * inner");
    c.holds("index", index, perElement ? n : count, DType::Int32);
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

// The gradient of indexSelect and gather, and scatterAdd: out[o, index[..], i] += src[o, j, i]
// over src of shape [outer, count, inner] into out of shape [outer, size, inner]. float32 only (the
// CUDA kernel adds atomically, so repeated indices sum in no fixed order). Bad indices as above.
struct IndexAddArgs {
  static constexpr const char* kName = "indexAdd";
  StoragePtr src, index, out;
  DType dtype = DType::Float32;
  uint64_t outer = 0, size = 0, inner = 0, count = 0;
  bool perElement = false;
  void fields(Fields& f) {
    f.storage("src", src);
    f.storage("index", index);
    f.storage("out", out);
    f.dtype("dtype", dtype, 1u << static_cast<int>(DType::Float32));
    f.size("outer", outer);
    f.size("size", size);
    f.size("inner", inner);
    f.size("count", count);
    f.boolean("perElement", perElement);
  }
  bool check(const Check& c) const {
    c.fitsInt("size", size);
    c.holds("out", out, c.product({outer, size, inner}, "outer * size * inner"), dtype);
    const uint64_t n = c.product({outer, count, inner}, "outer * count * inner");
    c.holds("index", index, perElement ? n : count, DType::Int32);
    c.holds("src", src, n, dtype);
    return n > 0;
  }
};

// The largest (or smallest) element of each x[o, :, i] of [outer, size, inner] and its first index:
// values (optional, x's dtype) and indices (int32) of shape [outer, inner]. NaN counts as the
// largest and the smallest, as in PyTorch. size must be at least 1.
struct ArgReduceArgs {
  static constexpr const char* kName = "argReduce";
  ArgReduction op = ArgReduction::Max;
  StoragePtr x, values, indices;
  DType dtype = DType::Float32;
  uint64_t outer = 0, size = 0, inner = 0;
  void fields(Fields& f) {
    f.choice("op", op);
    f.storage("x", x);
    f.optionalStorage("values", values);
    f.storage("indices", indices);
    f.dtype("dtype", dtype, kNumericTypes);
    f.size("outer", outer);
    f.size("size", size);
    f.size("inner", inner);
  }
  bool check(const Check& c) const {
    c.fitsInt("size", size);
    const uint64_t n = c.product({outer, inner}, "outer * inner");
    if (n > 0 && size == 0) c.fail("size", "at least 1 (no element to take the max or min of)", "0");
    c.holds("x", x, c.product({outer, size, inner}, "outer * size * inner"), dtype);
    if (values) c.holds("values", values, n, dtype);
    c.holds("indices", indices, n, DType::Int32);
    return n > 0;
  }
};

// out[i] = a[i . stridesA] (op) b[i . stridesB] as bool (one byte, 0 or 1) over `shape`, inputs of
// one dtype. and/or/xor read their inputs as truth values (nonzero, NaN included, is true).
struct CompareArgs {
  static constexpr const char* kName = "compare";
  CompareOp op = CompareOp::Eq;
  StoragePtr a, b, out;
  DType dtype = DType::Float32;
  Dims shape, stridesA, stridesB;
  StridedLayout<2> layout;  // derived by check()
  void fields(Fields& f) {
    f.choice("op", op);
    f.storage("a", a);
    f.storage("b", b);
    f.storage("out", out);
    f.dtype("dtype", dtype, kAllTypes);
    f.dims("shape", shape);
    f.dims("stridesA", stridesA);
    f.dims("stridesB", stridesB);
  }
  bool check(const Check& c) {
    const Dims* strides[2] = {&stridesA, &stridesB};
    const char* names[2] = {"stridesA", "stridesB"};
    uint64_t last[2];
    const uint64_t n = detail::layoutOf<2>(c, shape, strides, names, layout, last);
    if (n > 0) {
      c.holds("a", a, last[0] + 1, dtype);
      c.holds("b", b, last[1] + 1, dtype);
    }
    c.holds("out", out, n, DType::Bool);
    return n > 0;
  }
};

// out[i] = cond[i . stridesCond] ? a[i . stridesA] : b[i . stridesB], out contiguous.
struct WhereArgs {
  static constexpr const char* kName = "where";
  StoragePtr cond, a, b, out;
  DType dtype = DType::Float32;
  Dims shape, stridesCond, stridesA, stridesB;
  StridedLayout<3> layout;  // derived by check(): cond, a, b
  void fields(Fields& f) {
    f.storage("cond", cond);
    f.storage("a", a);
    f.storage("b", b);
    f.storage("out", out);
    f.dtype("dtype", dtype, kAllTypes);
    f.dims("shape", shape);
    f.dims("stridesCond", stridesCond);
    f.dims("stridesA", stridesA);
    f.dims("stridesB", stridesB);
  }
  bool check(const Check& c) {
    const Dims* strides[3] = {&stridesCond, &stridesA, &stridesB};
    const char* names[3] = {"stridesCond", "stridesA", "stridesB"};
    uint64_t last[3];
    const uint64_t n = detail::layoutOf<3>(c, shape, strides, names, layout, last);
    if (n > 0) {
      c.holds("cond", cond, last[0] + 1, DType::Bool);
      c.holds("a", a, last[1] + 1, dtype);
      c.holds("b", b, last[2] + 1, dtype);
    }
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

// out[i] = start + i * step for i < split, end - (n - 1 - i) * step after (linspace's two-sided
// form, exact at both ends), computed in double and rounded once to dtype.
struct RangeArgs {
  static constexpr const char* kName = "range";
  StoragePtr out;
  DType dtype = DType::Float32;
  uint64_t n = 0, split = 0;
  double start = 0, step = 1, end = 0;
  void fields(Fields& f) {
    f.storage("out", out);
    f.dtype("dtype", dtype, kNumericTypes);
    f.size("n", n);
    f.size("split", split);
    f.number("start", start);
    f.number("step", step);
    f.number("end", end);
  }
  bool check(const Check& c) const {
    if (split > n) c.fail("split", "at most n (" + std::to_string(n) + ")", std::to_string(split));
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

}  // namespace hy::ops
