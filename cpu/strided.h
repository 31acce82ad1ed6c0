// Row-wise iteration over a strided layout (ops/shape.h's StridedLayout) for the CPU kernels of
// the shape and integer families: rows (and pieces of long rows) split over the pool.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../ops/shape.h"
#include "parallel.h"

namespace hy::cpu {

// Rows (all dimensions but the last) per parallel chunk: at least kGrain elements each. The split
// depends only on the shape, and every element is computed alone, so results never depend on it.
inline constexpr size_t kGrain = size_t(1) << 15;

// Calls row(offsets, first, length) for every row of the layout (the last dimension), rows split
// over the pool; offsets[k] is operand k's element offset of the row's first element, `first`
// the row's linear index in row-major order.
template <int K, typename F>
void forEachRow(const ops::StridedLayout<K>& L, F&& row) {
  if (L.ndim == 0) {
    int64_t off[K] = {};
    row(off, size_t(0), int64_t(1));
    return;
  }
  const int last = L.ndim - 1;
  const int64_t len = L.shape[last];
  size_t rows = 1;
  for (int d = 0; d < last; ++d) rows *= static_cast<size_t>(L.shape[d]);
  // A row longer than the grain is cut into pieces of the grain, so one long row (a 1-d tensor)
  // still spreads over the pool.
  const int64_t piece = std::min<int64_t>(len, static_cast<int64_t>(kGrain));
  const size_t pieces = static_cast<size_t>((len + piece - 1) / std::max<int64_t>(piece, 1));
  const size_t grain = std::max<size_t>(1, kGrain / static_cast<size_t>(std::max<int64_t>(piece, 1)));
  parallelFor(rows * pieces, grain, [&](size_t begin, size_t end) {
    for (size_t w = begin; w < end; ++w) {
      const size_t r = w / pieces;
      const int64_t from = static_cast<int64_t>(w % pieces) * piece;
      int64_t off[K] = {};
      size_t rest = r;
      for (int d = last - 1; d >= 0; --d) {
        const int64_t c = static_cast<int64_t>(rest % static_cast<size_t>(L.shape[d]));
        rest /= static_cast<size_t>(L.shape[d]);
        for (int k = 0; k < K; ++k) off[k] += c * L.stride[k][d];
      }
      for (int k = 0; k < K; ++k) off[k] += from * L.stride[k][last];
      row(off, r * static_cast<size_t>(len) + static_cast<size_t>(from), std::min(piece, len - from));
    }
  });
}

}  // namespace hy::cpu
