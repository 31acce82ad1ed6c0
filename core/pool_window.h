// Pooling-window arithmetic shared by the CPU and CUDA backward passes, which gather: each input
// position visits only the output windows that cover it, so nothing is accumulated twice.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define HY_POOL_HD __host__ __device__ __forceinline__
#else
#define HY_POOL_HD inline
#endif

namespace hy {

// Output positions o in [*first, *last] whose window [o*stride - pad, o*stride - pad + k) holds
// input position i; the range is empty when *first > *last.
HY_POOL_HD void coveringOutputs(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t outSize, int64_t* first,
                                int64_t* last) {
  const int64_t lo = i + pad - k + 1;  // o*stride >= lo
  *first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  const int64_t hi = (i + pad) / stride;  // i + pad >= 0
  *last = hi < outSize - 1 ? hi : outSize - 1;
}

}  // namespace hy
