// CPU neural-network kernels: plain loops, float32 math on float32/float16 data, with sums kept in
// double so this backend is the accurate twin the CUDA kernels are compared against.
#include "../ops/nn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../core/elementwise_math.h"
#include "../core/half.h"
#include "../core/philox.h"
#include "../core/pool_window.h"
#include "clones.h"
#include "lanes.h"
#include "parallel.h"

namespace hy::cpu {

namespace {

inline float load(const void* p, DType dtype, size_t i) {
  return dtype == DType::Float16 ? halfBitsToFloat(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

inline void store(void* p, DType dtype, size_t i, float v) {
  if (dtype == DType::Float16) {
    static_cast<uint16_t*>(p)[i] = floatToHalfBits(v);
  } else {
    static_cast<float*>(p)[i] = v;
  }
}

// Every target is checked before anything is written, so a failed call leaves outputs untouched.
void checkTargets(nn::TargetOp op, const int32_t* target, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; ++r) {
    const int64_t t = target[r];
    if (t < 0 || static_cast<uint64_t>(t) >= cols) nn::throwBadTarget(op, t, r, cols);
  }
}

struct RowStats {
  float max;
  double sumExp;  // sum of exp(x - max)
};

RowStats rowStats(const void* x, DType dtype, size_t base, size_t cols) {
  float m = -std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < cols; ++j) m = std::fmax(m, load(x, dtype, base + j));
  double s = 0;
  for (size_t j = 0; j < cols; ++j) s += std::exp(static_cast<double>(load(x, dtype, base + j) - m));
  return {m, s};
}

// Row r's share of a loss gradient.
inline float rowScale(const float* gradOut, bool perRow, float scale, size_t r) {
  return gradOut == nullptr ? scale : scale * gradOut[perRow ? r : 0];
}

float reduce(double sum, size_t rows, nn::Reduction reduction) {
  return static_cast<float>(reduction == nn::Reduction::Mean ? sum / static_cast<double>(rows) : sum);
}

// Writes d(loss_r)/d(logits) * scale for one row: (softmax - onehot) * scale.
void crossEntropyRowGrad(const void* logits, void* grad, DType dtype, size_t base, size_t cols, int32_t t,
                         const RowStats& st, float scale) {
  for (size_t j = 0; j < cols; ++j) {
    const double softmax = std::exp(static_cast<double>(load(logits, dtype, base + j) - st.max)) / st.sumExp;
    const double onehot = j == static_cast<size_t>(t) ? 1.0 : 0.0;
    store(grad, dtype, base + j, static_cast<float>((softmax - onehot) * scale));
  }
}

}  // namespace

// ---- softmax and log-softmax ----
// Row-wise, each row split from the others over the pool. float32 rows run loops that vectorise
// (cloned per vector width, cpu/clones.h): the maximum, then e^(x - max) through the branch-free
// expBounded (one ulp), summed in double lanes; float16 rows go through float32 copies of the row.

namespace {

// Rows per task so each task holds at least 2^15 elements: below that a task costs more than it saves.
size_t rowGrain(size_t cols) { return std::max<size_t>(1, (size_t(1) << 15) / std::max<size_t>(cols, 1)); }

// The maximum in 16 lanes held as one vector: written as 16 scalar lanes, GCC kept them scalar
// (a vmaxss each, a third of a softmax's time); the vector type makes each clone use its own width.
HY_CPU_CLONES_WIDE float rowMax(const float* x, size_t n) {
  typedef float Lanes __attribute__((vector_size(64)));
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  Lanes lane = {kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf,
                kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    Lanes v;
    std::memcpy(&v, x + i, sizeof v);  // an unaligned load
    lane = v > lane ? v : lane;
  }
  float m = kNegInf;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (int j = 0; j < 16; ++j) m = lane[j] > m ? lane[j] : m;
  return m;  // NaN never wins here; it reaches the output through exp and the sum
}

// y = e^(x - m), returning the sum of y in double: two loops, each of which vectorises (one that
// mixed the float exponential and the double sum did not). x - m <= 0, so the exponential is
// expBounded's, without expFull's overflow and subnormal handling: a term below e^-87 of a sum
// whose largest term is 1 flushes to zero.
HY_CPU_CLONES_WIDE double expShiftSum(const float* x, float m, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = expBounded(x[i] - m);
  return laneSum(n, [y](size_t i) { return static_cast<double>(y[i]); });
}

HY_CPU_CLONES_WIDE void scaleRow(float* y, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] *= s;
}

// y = (x - m) - logSum, in that order: x - m is exact for the values near the maximum, where
// folding m + logSum into one shift would round it to the ulp of a large m first.
HY_CPU_CLONES_WIDE void shiftRow(const float* x, float m, float logSum, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = (x[i] - m) - logSum;
}

HY_CPU_CLONES_WIDE double dotRow(const float* a, const float* b, size_t n) {
  return laneSum(n, [a, b](size_t i) { return static_cast<double>(a[i]) * b[i]; });
}

HY_CPU_CLONES_WIDE double sumRow(const float* a, size_t n) {
  return laneSum(n, [a](size_t i) { return static_cast<double>(a[i]); });
}

// gradIn = y * (g - dot)
HY_CPU_CLONES_WIDE void softmaxGradRow(const float* g, const float* y, float dot, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = y[i] * (g[i] - dot);
}

// gradIn = g - e^out * sum (out, a log-probability, is <= 0: expBounded as above)
HY_CPU_CLONES_WIDE void logSoftmaxGradRow(const float* g, const float* out, float sum, float* gi, size_t n) {
  for (size_t i = 0; i < n; ++i) gi[i] = g[i] - expBounded(out[i]) * sum;
}

// One row as float32: in place for float32 storage, a converted copy for float16.
struct RowView {
  const void* base;
  DType dtype;
  size_t cols;
  std::vector<float>& scratch;
  const float* row(size_t r, size_t slot = 0) {
    if (dtype == DType::Float32) return static_cast<const float*>(base) + r * cols;
    float* dst = scratch.data() + slot * cols;
    const uint16_t* src = static_cast<const uint16_t*>(base) + r * cols;
    for (size_t j = 0; j < cols; ++j) dst[j] = halfBitsToFloat(src[j]);
    return dst;
  }
};

// The output row to write: in place for float32, else scratch that finish() rounds to float16.
struct RowOut {
  void* base;
  DType dtype;
  size_t cols;
  float* scratch;
  float* row(size_t r) { return dtype == DType::Float32 ? static_cast<float*>(base) + r * cols : scratch; }
  void finish(size_t r) {
    if (dtype == DType::Float32) return;
    uint16_t* dst = static_cast<uint16_t*>(base) + r * cols;
    for (size_t j = 0; j < cols; ++j) dst[j] = floatToHalfBits(scratch[j]);
  }
};

template <typename RowFn>
void forRows(size_t rows, size_t cols, DType dtype, int inputs, RowFn fn) {
  parallelFor(rows, rowGrain(cols), [&](size_t begin, size_t end) {
    std::vector<float> scratch(dtype == DType::Float32 ? 0 : cols * (inputs + 1));
    for (size_t r = begin; r < end; ++r) fn(r, scratch);
  });
}

}  // namespace

void logSoftmax(const void* x, void* out, DType dtype, size_t rows, size_t cols) {
  forRows(rows, cols, dtype, 1, [&](size_t r, std::vector<float>& scratch) {
    RowView in{x, dtype, cols, scratch};
    RowOut o{out, dtype, cols, scratch.empty() ? nullptr : scratch.data() + cols};
    const float* xr = in.row(r);
    float* yr = o.row(r);
    const float m = rowMax(xr, cols);
    const double sum = expShiftSum(xr, m, yr, cols);  // y holds e^(x - m) for now
    shiftRow(xr, m, static_cast<float>(std::log(sum)), yr, cols);
    o.finish(r);
  });
}

void logSoftmaxBackward(const void* gradOut, const void* out, void* gradIn, DType dtype, size_t rows, size_t cols) {
  forRows(rows, cols, dtype, 2, [&](size_t r, std::vector<float>& scratch) {
    RowView g{gradOut, dtype, cols, scratch}, y{out, dtype, cols, scratch};
    RowOut o{gradIn, dtype, cols, scratch.empty() ? nullptr : scratch.data() + 2 * cols};
    const float* gr = g.row(r, 0);
    const float* yr = y.row(r, 1);
    logSoftmaxGradRow(gr, yr, static_cast<float>(sumRow(gr, cols)), o.row(r), cols);
    o.finish(r);
  });
}

void softmax(const void* x, void* out, DType dtype, size_t rows, size_t cols) {
  forRows(rows, cols, dtype, 1, [&](size_t r, std::vector<float>& scratch) {
    RowView in{x, dtype, cols, scratch};
    RowOut o{out, dtype, cols, scratch.empty() ? nullptr : scratch.data() + cols};
    const float* xr = in.row(r);
    float* yr = o.row(r);
    const double sum = expShiftSum(xr, rowMax(xr, cols), yr, cols);
    scaleRow(yr, static_cast<float>(1.0 / sum), cols);
    o.finish(r);
  });
}

void softmaxBackward(const void* gradOut, const void* out, void* gradIn, DType dtype, size_t rows, size_t cols) {
  forRows(rows, cols, dtype, 2, [&](size_t r, std::vector<float>& scratch) {
    RowView g{gradOut, dtype, cols, scratch}, y{out, dtype, cols, scratch};
    RowOut o{gradIn, dtype, cols, scratch.empty() ? nullptr : scratch.data() + 2 * cols};
    const float* gr = g.row(r, 0);
    const float* yr = y.row(r, 1);
    softmaxGradRow(gr, yr, static_cast<float>(dotRow(gr, yr, cols)), o.row(r), cols);
    o.finish(r);
  });
}

void nllLoss(const void* logp, const int32_t* target, float* loss, DType dtype, size_t rows, size_t cols,
             nn::Reduction reduction) {
  checkTargets(nn::TargetOp::NllLoss, target, rows, cols);
  double sum = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float l = -load(logp, dtype, r * cols + static_cast<size_t>(target[r]));
    if (reduction == nn::Reduction::None) {
      loss[r] = l;
    } else {
      sum += l;
    }
  }
  if (reduction != nn::Reduction::None) loss[0] = reduce(sum, rows, reduction);
}

void nllLossBackward(const int32_t* target, void* gradIn, DType dtype, size_t rows, size_t cols, const float* gradOut,
                     bool perRow, float scale) {
  checkTargets(nn::TargetOp::NllLossBackward, target, rows, cols);
  for (size_t r = 0; r < rows; ++r) {
    const float g = -rowScale(gradOut, perRow, scale, r);
    for (size_t j = 0; j < cols; ++j) store(gradIn, dtype, r * cols + j, j == static_cast<size_t>(target[r]) ? g : 0.0f);
  }
}

void crossEntropy(const void* logits, const int32_t* target, float* loss, void* gradLogits, DType dtype, size_t rows,
                  size_t cols, nn::Reduction reduction) {
  checkTargets(nn::TargetOp::CrossEntropy, target, rows, cols);
  const float gradScale = reduction == nn::Reduction::Mean ? static_cast<float>(1.0 / static_cast<double>(rows)) : 1.0f;
  double sum = 0;
  for (size_t r = 0; r < rows; ++r) {
    const size_t base = r * cols;
    const RowStats st = rowStats(logits, dtype, base, cols);
    // loss = logsumexp(x) - x[t] = (max - x[t]) + log(sum exp(x - max))
    const double l = static_cast<double>(st.max - load(logits, dtype, base + static_cast<size_t>(target[r]))) +
                     std::log(st.sumExp);
    if (reduction == nn::Reduction::None) {
      loss[r] = static_cast<float>(l);
    } else {
      sum += l;
    }
    if (gradLogits != nullptr) crossEntropyRowGrad(logits, gradLogits, dtype, base, cols, target[r], st, gradScale);
  }
  if (reduction != nn::Reduction::None) loss[0] = reduce(sum, rows, reduction);
}

void crossEntropyBackward(const void* logits, const int32_t* target, void* gradLogits, DType dtype, size_t rows,
                          size_t cols, const float* gradOut, bool perRow, float scale) {
  checkTargets(nn::TargetOp::CrossEntropyBackward, target, rows, cols);
  for (size_t r = 0; r < rows; ++r) {
    const size_t base = r * cols;
    crossEntropyRowGrad(logits, gradLogits, dtype, base, cols, target[r], rowStats(logits, dtype, base, cols),
                        rowScale(gradOut, perRow, scale, r));
  }
}

// Pooling splits over the pool by plane (image x channel); the element type is a template
// parameter so the inner loops carry no dtype branch.
template <typename T>
inline float ld(const T* p, size_t i) {
  if constexpr (sizeof(T) == 2) {
    return halfBitsToFloat(p[i]);
  } else {
    return p[i];
  }
}
template <typename T>
inline void st(T* p, size_t i, float v) {
  if constexpr (sizeof(T) == 2) {
    p[i] = floatToHalfBits(v);
  } else {
    p[i] = v;
  }
}

template <typename T>
void maxPool2dT(const T* x, T* out, int32_t* indices, const nn::Pool2d& p) {
  const size_t planes = p.N * p.C, outPlane = p.outH * p.outW;
  // Every window inside the plane (no padding): plain loops, windowMax's rule (the first maximum
  // wins, a NaN is the maximum) written out without its bounds arithmetic.
  const bool inside = p.pH == 0 && p.pW == 0 && p.outH > 0 && p.outW > 0 && (p.outH - 1) * p.sH + p.kH <= p.H &&
                      (p.outW - 1) * p.sW + p.kW <= p.W;
  parallelFor(planes, std::max<size_t>(1, (size_t(1) << 14) / std::max<size_t>(outPlane, 1)), [&](size_t b, size_t e) {
    for (size_t plane = b; plane < e; ++plane) {
      const T* in = x + plane * p.H * p.W;
      if (inside) {
        for (size_t oh = 0; oh < p.outH; ++oh) {
          for (size_t ow = 0; ow < p.outW; ++ow) {
            const size_t h0 = oh * p.sH, w0 = ow * p.sW;
            float m = ld(in, h0 * p.W + w0);
            size_t mi = h0 * p.W + w0;
            for (size_t h = h0; h < h0 + p.kH; ++h) {
              for (size_t w = (h == h0 ? w0 + 1 : w0); w < w0 + p.kW; ++w) {
                const size_t idx = h * p.W + w;
                const float v = ld(in, idx);
                if (v > m || (v != v && m == m)) {
                  m = v;
                  mi = idx;
                }
              }
            }
            const size_t o = plane * outPlane + oh * p.outW + ow;
            st(out, o, m);
            indices[o] = static_cast<int32_t>(mi);
          }
        }
        continue;
      }
      for (size_t oh = 0; oh < p.outH; ++oh) {
        for (size_t ow = 0; ow < p.outW; ++ow) {
          float best;
          int64_t bestIdx;
          windowMax([&](int64_t idx) { return ld(in, static_cast<size_t>(idx)); }, static_cast<int64_t>(oh),
                    static_cast<int64_t>(ow), static_cast<int64_t>(p.H), static_cast<int64_t>(p.W),
                    static_cast<int64_t>(p.kH), static_cast<int64_t>(p.kW), static_cast<int64_t>(p.sH),
                    static_cast<int64_t>(p.sW), static_cast<int64_t>(p.pH), static_cast<int64_t>(p.pW), &best, &bestIdx);
          const size_t o = plane * outPlane + oh * p.outW + ow;
          st(out, o, best);
          indices[o] = static_cast<int32_t>(bestIdx);
        }
      }
    }
  });
}

void maxPool2d(const void* x, void* out, int32_t* indices, DType dtype, const nn::Pool2d& p) {
  if (dtype == DType::Float16) {
    return maxPool2dT(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(out), indices, p);
  }
  maxPool2dT(static_cast<const float*>(x), static_cast<float*>(out), indices, p);
}

template <typename T>
void maxPool2dBackwardT(const T* gradOut, const int32_t* indices, T* gradIn, const nn::Pool2d& p) {
  const size_t planes = p.N * p.C, inPlane = p.H * p.W, outPlane = p.outH * p.outW;
  // Windows that do not overlap (kernel <= stride) send each input at most one gradient: a scatter
  // into a zeroed plane gives exactly the gather's sums (0 + g), in a pass over the outputs.
  const bool disjoint = p.kH <= p.sH && p.kW <= p.sW;
  parallelFor(planes, std::max<size_t>(1, (size_t(1) << 14) / std::max<size_t>(inPlane, 1)), [&](size_t b, size_t e) {
    for (size_t plane = b; plane < e; ++plane) {
      T* gi = gradIn + plane * inPlane;
      const T* go = gradOut + plane * outPlane;
      const int32_t* idx = indices + plane * outPlane;
      if (disjoint) {
        for (size_t i = 0; i < inPlane; ++i) st(gi, i, 0.0f);
        for (size_t o = 0; o < outPlane; ++o) {
          if (idx[o] >= 0) st(gi, static_cast<size_t>(idx[o]), ld(go, o));
        }
        continue;
      }
      for (size_t h = 0; h < p.H; ++h) {
        int64_t oh0, oh1;
        coveringOutputs(static_cast<int64_t>(h), static_cast<int64_t>(p.kH), static_cast<int64_t>(p.sH),
                        static_cast<int64_t>(p.pH), static_cast<int64_t>(p.outH), &oh0, &oh1);
        for (size_t w = 0; w < p.W; ++w) {
          int64_t ow0, ow1;
          coveringOutputs(static_cast<int64_t>(w), static_cast<int64_t>(p.kW), static_cast<int64_t>(p.sW),
                          static_cast<int64_t>(p.pW), static_cast<int64_t>(p.outW), &ow0, &ow1);
          const int32_t self = static_cast<int32_t>(h * p.W + w);
          float acc = 0;  // float accumulation, one rounding to the storage type: as on CUDA
          for (int64_t oh = oh0; oh <= oh1; ++oh)
            for (int64_t ow = ow0; ow <= ow1; ++ow) {
              const size_t o = static_cast<size_t>(oh) * p.outW + static_cast<size_t>(ow);
              if (idx[o] == self) acc += ld(go, o);
            }
          st(gi, h * p.W + w, acc);
        }
      }
    }
  });
}

void maxPool2dBackward(const void* gradOut, const int32_t* indices, void* gradIn, DType dtype, const nn::Pool2d& p) {
  if (dtype == DType::Float16) {
    return maxPool2dBackwardT(static_cast<const uint16_t*>(gradOut), indices, static_cast<uint16_t*>(gradIn), p);
  }
  maxPool2dBackwardT(static_cast<const float*>(gradOut), indices, static_cast<float*>(gradIn), p);
}

void batchNormForward(const void* x, const float* weight, const float* bias, float* runningMean, float* runningVar,
                      void* out, float* saveMean, float* saveInvStd, DType dtype, const nn::BatchNormShape& s,
                      bool training, float momentum, float eps) {
  const size_t M = s.N * s.HW;
  for (size_t c = 0; c < s.C; ++c) {
    float mean, invStd;
    if (training) {
      double sum = 0;
      for (size_t n = 0; n < s.N; ++n)
        for (size_t k = 0; k < s.HW; ++k) sum += load(x, dtype, (n * s.C + c) * s.HW + k);
      const double mu = sum / static_cast<double>(M);
      double sq = 0;
      for (size_t n = 0; n < s.N; ++n)
        for (size_t k = 0; k < s.HW; ++k) {
          const double d = load(x, dtype, (n * s.C + c) * s.HW + k) - mu;
          sq += d * d;
        }
      const double var = sq / static_cast<double>(M);
      mean = static_cast<float>(mu);
      invStd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
      // Running statistics use the unbiased variance, as PyTorch does; the binding requires M > 1.
      const float unbiased = static_cast<float>(var * static_cast<double>(M) / static_cast<double>(M - 1));
      runningMean[c] = (1.0f - momentum) * runningMean[c] + momentum * mean;
      runningVar[c] = (1.0f - momentum) * runningVar[c] + momentum * unbiased;
    } else {
      mean = runningMean[c];
      invStd = 1.0f / std::sqrt(runningVar[c] + eps);
    }
    saveMean[c] = mean;
    saveInvStd[c] = invStd;
    const float w = weight != nullptr ? weight[c] : 1.0f, b = bias != nullptr ? bias[c] : 0.0f;
    for (size_t n = 0; n < s.N; ++n)
      for (size_t k = 0; k < s.HW; ++k) {
        const size_t i = (n * s.C + c) * s.HW + k;
        store(out, dtype, i, (load(x, dtype, i) - mean) * invStd * w + b);
      }
  }
}

void batchNormBackward(const void* gradOut, const void* x, const float* weight, const float* saveMean,
                       const float* saveInvStd, void* gradIn, float* gradWeight, float* gradBias, DType dtype,
                       const nn::BatchNormShape& s) {
  const size_t M = s.N * s.HW;
  for (size_t c = 0; c < s.C; ++c) {
    const float mean = saveMean[c], invStd = saveInvStd[c];
    double sumDy = 0, sumDyXhat = 0;
    for (size_t n = 0; n < s.N; ++n)
      for (size_t k = 0; k < s.HW; ++k) {
        const size_t i = (n * s.C + c) * s.HW + k;
        const double dy = load(gradOut, dtype, i);
        sumDy += dy;
        sumDyXhat += dy * static_cast<double>((load(x, dtype, i) - mean) * invStd);
      }
    if (gradWeight != nullptr) gradWeight[c] = static_cast<float>(sumDyXhat);
    if (gradBias != nullptr) gradBias[c] = static_cast<float>(sumDy);
    // dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
    const float k1 = (weight != nullptr ? weight[c] : 1.0f) * invStd;
    const float meanDy = static_cast<float>(sumDy / static_cast<double>(M));
    const float meanDyXhat = static_cast<float>(sumDyXhat / static_cast<double>(M));
    for (size_t n = 0; n < s.N; ++n)
      for (size_t k = 0; k < s.HW; ++k) {
        const size_t i = (n * s.C + c) * s.HW + k;
        const float xhat = (load(x, dtype, i) - mean) * invStd;
        store(gradIn, dtype, i, k1 * (load(gradOut, dtype, i) - meanDy - xhat * meanDyXhat));
      }
  }
}

// Dropout splits over the pool in runs of whole Philox blocks (4 elements): every element's draw
// depends only on (seed, offset, index), so the mask is the same whatever the split.
template <typename T>
void dropoutT(const T* x, T* out, uint8_t* mask, size_t n, float p, float scale, uint64_t seed, uint64_t offset) {
  const size_t blocks = (n + 3) / 4;
  parallelFor(blocks, size_t(1) << 12, [&](size_t b, size_t e) {
    for (size_t blk = b; blk < e; ++blk) {
      const Philox4 r = philox4x32(offset + blk, seed);
      const size_t i0 = blk * 4, i1 = std::min(n, i0 + 4);
      for (size_t i = i0; i < i1; ++i) {
        const bool keep = uniformFromBits(r.v[i - i0]) >= p;
        mask[i] = keep ? 1 : 0;
        st(out, i, keep ? ld(x, i) * scale : 0.0f);
      }
    }
  });
}

void dropout(const void* x, void* out, uint8_t* mask, DType dtype, size_t n, float p, float scale, uint64_t seed,
             uint64_t offset) {
  if (dtype == DType::Float16) {
    return dropoutT(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(out), mask, n, p, scale, seed, offset);
  }
  dropoutT(static_cast<const float*>(x), static_cast<float*>(out), mask, n, p, scale, seed, offset);
}

template <typename T>
void dropoutBackwardT(const T* gradOut, const uint8_t* mask, T* gradIn, size_t n, float scale) {
  parallelFor(n, size_t(1) << 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) st(gradIn, i, mask[i] != 0 ? ld(gradOut, i) * scale : 0.0f);
  });
}

void dropoutBackward(const void* gradOut, const uint8_t* mask, void* gradIn, DType dtype, size_t n, float scale) {
  if (dtype == DType::Float16) {
    return dropoutBackwardT(static_cast<const uint16_t*>(gradOut), mask, static_cast<uint16_t*>(gradIn), n, scale);
  }
  dropoutBackwardT(static_cast<const float*>(gradOut), mask, static_cast<float*>(gradIn), n, scale);
}

// Registered implementations (ops/nn.h).
namespace {
using namespace ops;
template <typename T>
T* ptr(const StoragePtr& s) {
  return s ? static_cast<T*>(s->data()) : nullptr;
}
HY_REGISTER_OP(LogSoftmaxArgs, Cpu, "rowwise", [](const LogSoftmaxArgs& a, StreamId) {
  logSoftmax(a.x->data(), a.out->data(), a.dtype, a.rows, a.cols);
});
HY_REGISTER_OP(LogSoftmaxBackwardArgs, Cpu, "rowwise", [](const LogSoftmaxBackwardArgs& a, StreamId) {
  logSoftmaxBackward(a.gradOut->data(), a.out->data(), a.gradIn->data(), a.dtype, a.rows, a.cols);
});
HY_REGISTER_OP(SoftmaxArgs, Cpu, "rowwise", [](const SoftmaxArgs& a, StreamId) {
  softmax(a.x->data(), a.out->data(), a.dtype, a.rows, a.cols);
});
HY_REGISTER_OP(SoftmaxBackwardArgs, Cpu, "rowwise", [](const SoftmaxBackwardArgs& a, StreamId) {
  softmaxBackward(a.gradOut->data(), a.out->data(), a.gradIn->data(), a.dtype, a.rows, a.cols);
});
HY_REGISTER_OP(NllLossArgs, Cpu, "rowwise", [](const NllLossArgs& a, StreamId) {
  nllLoss(a.logp->data(), ptr<int32_t>(a.target), ptr<float>(a.loss), a.dtype, a.rows, a.cols, a.reduction);
});
HY_REGISTER_OP(NllLossBackwardArgs, Cpu, "rowwise", [](const NllLossBackwardArgs& a, StreamId) {
  nllLossBackward(ptr<int32_t>(a.target), a.gradIn->data(), a.dtype, a.rows, a.cols, ptr<float>(a.grad.gradOut),
                  a.reduction == nn::Reduction::None, a.grad.scale(a.reduction, a.rows));
});
HY_REGISTER_OP(CrossEntropyArgs, Cpu, "fused", [](const CrossEntropyArgs& a, StreamId) {
  crossEntropy(a.logits->data(), ptr<int32_t>(a.target), ptr<float>(a.loss), ptr<void>(a.gradLogits), a.dtype, a.rows,
               a.cols, a.reduction);
});
HY_REGISTER_OP(CrossEntropyBackwardArgs, Cpu, "fused", [](const CrossEntropyBackwardArgs& a, StreamId) {
  crossEntropyBackward(a.logits->data(), ptr<int32_t>(a.target), a.gradLogits->data(), a.dtype, a.rows, a.cols,
                       ptr<float>(a.grad.gradOut), a.reduction == nn::Reduction::None, a.grad.scale(a.reduction, a.rows));
});
HY_REGISTER_OP(MaxPool2dArgs, Cpu, "direct", [](const MaxPool2dArgs& a, StreamId) {
  maxPool2d(a.x->data(), a.out->data(), ptr<int32_t>(a.indices), a.dtype, a.g.p);
});
HY_REGISTER_OP(MaxPool2dBackwardArgs, Cpu, "gather", [](const MaxPool2dBackwardArgs& a, StreamId) {
  maxPool2dBackward(a.gradOut->data(), ptr<int32_t>(a.indices), a.gradIn->data(), a.dtype, a.g.p);
});
HY_REGISTER_OP(BatchNormForwardArgs, Cpu, "direct", [](const BatchNormForwardArgs& a, StreamId) {
  batchNormForward(a.x->data(), ptr<float>(a.weight), ptr<float>(a.bias), ptr<float>(a.runningMean),
                   ptr<float>(a.runningVar), a.out->data(), ptr<float>(a.saveMean), ptr<float>(a.saveInvStd), a.dtype,
                   a.s, a.training, static_cast<float>(a.momentum), static_cast<float>(a.eps));
});
HY_REGISTER_OP(BatchNormBackwardArgs, Cpu, "direct", [](const BatchNormBackwardArgs& a, StreamId) {
  batchNormBackward(a.gradOut->data(), a.x->data(), ptr<float>(a.weight), ptr<float>(a.saveMean),
                    ptr<float>(a.saveInvStd), a.gradIn->data(), ptr<float>(a.gradWeight), ptr<float>(a.gradBias),
                    a.dtype, a.s);
});
HY_REGISTER_OP(DropoutArgs, Cpu, "philox", [](const DropoutArgs& a, StreamId) {
  const uint64_t* counter = a.counter ? ptr<uint64_t>(a.counter) : nullptr;
  dropout(a.x->data(), a.out->data(), ptr<uint8_t>(a.mask), a.dtype, a.n, static_cast<float>(a.p), dropoutScale(a.p),
          counter != nullptr ? counter[0] : a.seed, (counter != nullptr ? counter[1] : 0) + a.offset);
});
HY_REGISTER_OP(PhiloxCounterArgs, Cpu, "direct", [](const PhiloxCounterArgs& a, StreamId) {
  uint64_t* counter = ptr<uint64_t>(a.counter);
  counter[0] = a.seed;
  counter[1] = a.base;
});
HY_REGISTER_OP(DropoutBackwardArgs, Cpu, "direct", [](const DropoutBackwardArgs& a, StreamId) {
  dropoutBackward(a.gradOut->data(), ptr<uint8_t>(a.mask), a.gradIn->data(), a.dtype, a.n, dropoutScale(a.p));
});
}  // namespace

}  // namespace hy::cpu
