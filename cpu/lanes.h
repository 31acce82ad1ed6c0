// Sums in double over 32 independent lanes: one running total is a dependency chain the compiler
// cannot vectorise; eight lanes vectorise but are still one chain of vector adds (an add's latency
// per 8 elements on AVX-512), 32 are four chains. The lanes and the tail are then added in a fixed
// order, so the result is the same at every vector width. at(i) gives element i as a double; the
// function inlines into its caller, so it vectorises for each of the caller's clones (cpu/clones.h).
#pragma once
#include <cstddef>

namespace hy::cpu {

template <typename At>
inline __attribute__((always_inline)) double laneSum(size_t n, At at) {
  constexpr int kLanes = 32;
  double lane[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lane[j] += at(i + j);
  }
  double tail = 0;
  for (; i < n; ++i) tail += at(i);
  if (n < kLanes) return tail;  // short rows (a classifier's logits): no lanes to fold
  for (int width = kLanes / 2; width > 0; width /= 2) {  // pairwise, in a fixed order
    for (int j = 0; j < width; ++j) lane[j] += lane[j + width];
  }
  return tail + lane[0];
}

}  // namespace hy::cpu
