// Pooling-window arithmetic shared by the CPU and CUDA kernels, so both pick the same maxima and
// gather the same gradients: the backward passes gather, each input position visiting only the
// output windows that cover it, so nothing is accumulated twice.
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

// The maximum of the window of output (oh, ow) and its flat index in the H x W plane; padding cells
// are never selected. The first maximum wins and a NaN is the maximum, as in PyTorch.
// load(idx) returns the plane's element idx as float.
template <typename Load>
HY_POOL_HD void windowMax(const Load& load, int64_t oh, int64_t ow, int64_t H, int64_t W, int64_t kH, int64_t kW,
                          int64_t sH, int64_t sW, int64_t pH, int64_t pW, float* best, int64_t* bestIdx) {
  const int64_t h0 = oh * sH - pH;
  const int64_t w0 = ow * sW - pW;
  float m = 0;
  int64_t mi = -1;
  for (int64_t h = h0 < 0 ? 0 : h0; h < h0 + kH && h < H; ++h) {
    for (int64_t w = w0 < 0 ? 0 : w0; w < w0 + kW && w < W; ++w) {
      const int64_t idx = h * W + w;
      const float v = load(idx);
      const bool vNan = v != v, mNan = m != m;
      if (mi < 0 || v > m || (vNan && !mNan)) {
        m = v;
        mi = idx;
      }
    }
  }
  *best = m;
  *bestIdx = mi;
}

}  // namespace hy
