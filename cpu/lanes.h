// Sums in double over eight independent lanes: one running total is a dependency chain the compiler
// cannot vectorise, eight are not. The lanes and the tail are then added in a fixed order, so the
// result is the same at every vector width. at(i) gives element i as a double; the function inlines
// into its caller, so it vectorises for each of the caller's clones (cpu/clones.h).
#pragma once
#include <cstddef>

namespace hy::cpu {

template <typename At>
inline __attribute__((always_inline)) double laneSum(size_t n, At at) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) lane[j] += at(i + j);
  }
  double tail = 0;
  for (; i < n; ++i) tail += at(i);
  return tail + ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

}  // namespace hy::cpu
