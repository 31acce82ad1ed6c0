// CPU convolution (ops/conv.h), several algorithms per direction for the autotuner:
//   gemm1x1  1x1, stride 1, no padding: each image is already the GEMM operand;
//   im2col   each image unrolled into columns (col[(c * R + r) * S + s][p * Q + q]) and multiplied
//            by the blocked GEMM (cpu/gemm.cpp); col2im scatters the backward-data columns back;
//   direct   the definition's loops, vectorised along output rows.
// Work is split over the pool by image (or output channel for direct backward-filter) in a fixed
// round-robin, and every sum runs in one fixed order, so each algorithm is deterministic. float16
// storage is converted to float32 copies first and the output rounded once at the end.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../core/half.h"
#include "../ops/conv.h"
#include "gemm_kernel.h"
#include "lanes.h"
#include "parallel.h"

namespace hy::cpu {

namespace {

using ops::ConvShape;

// A float32 view of an input storage: in place for float32, a converted copy for float16.
class FloatIn {
 public:
  FloatIn(const StoragePtr& s, DType dtype, uint64_t n) {
    if (dtype == DType::Float32) {
      p_ = static_cast<const float*>(s->data());
      return;
    }
    own_.resize(n);
    const uint16_t* h = static_cast<const uint16_t*>(s->data());
    for (uint64_t i = 0; i < n; ++i) own_[i] = halfBitsToFloat(h[i]);
    p_ = own_.data();
  }
  const float* get() const { return p_; }

 private:
  const float* p_ = nullptr;
  std::vector<float> own_;
};

// A float32 output: written in place for float32, or into a copy that finish() rounds to float16.
class FloatOut {
 public:
  FloatOut(const StoragePtr& s, DType dtype, uint64_t n) : s_(s), n_(n), half_(dtype == DType::Float16) {
    if (half_) own_.resize(n);
    p_ = half_ ? own_.data() : static_cast<float*>(s->data());
  }
  float* get() const { return p_; }
  void finish() {
    if (!half_) return;
    uint16_t* h = static_cast<uint16_t*>(s_->data());
    for (uint64_t i = 0; i < n_; ++i) h[i] = floatToHalfBits(own_[i]);
  }

 private:
  StoragePtr s_;
  uint64_t n_;
  bool half_;
  float* p_;
  std::vector<float> own_;
};

// Output positions q whose input column q * stride + offset lies in [0, width): [lo, hi).
inline void validRange(int64_t offset, int64_t stride, int64_t width, int64_t outWidth, int64_t& lo, int64_t& hi) {
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  hi = offset >= width ? 0 : std::min<int64_t>(outWidth, (width - 1 - offset) / stride + 1);
  if (hi < lo) hi = lo;
}

struct Geometry {
  int64_t N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, G, Cg, Kg, P, Q, PQ, CRS;
  explicit Geometry(const ConvShape& s)
      : N(static_cast<int64_t>(s.N)), C(static_cast<int64_t>(s.C)), H(static_cast<int64_t>(s.H)),
        W(static_cast<int64_t>(s.W)), K(static_cast<int64_t>(s.K)), R(static_cast<int64_t>(s.R)),
        S(static_cast<int64_t>(s.S)), sh(static_cast<int64_t>(s.strideH)), sw(static_cast<int64_t>(s.strideW)),
        ph(static_cast<int64_t>(s.padH)), pw(static_cast<int64_t>(s.padW)), dh(static_cast<int64_t>(s.dilationH)),
        dw(static_cast<int64_t>(s.dilationW)), G(static_cast<int64_t>(s.groups)), Cg(s.cPerGroup()),
        Kg(s.kPerGroup()), P(s.P), Q(s.Q), PQ(s.pq()), CRS(s.crs()) {}
};

// One image-group's columns: col[(c * R + r) * S + s][p * Q + q] = x[c, ih, iw], or 0 in the padding.
void im2col(const Geometry& g, const float* x, float* col) {
  for (int64_t c = 0; c < g.Cg; ++c) {
    for (int64_t r = 0; r < g.R; ++r) {
      for (int64_t s = 0; s < g.S; ++s) {
        float* row = col + ((c * g.R + r) * g.S + s) * g.PQ;
        int64_t lo, hi;
        validRange(s * g.dw - g.pw, g.sw, g.W, g.Q, lo, hi);
        for (int64_t p = 0; p < g.P; ++p) {
          float* out = row + p * g.Q;
          const int64_t ih = p * g.sh - g.ph + r * g.dh;
          if (ih < 0 || ih >= g.H) {
            std::fill(out, out + g.Q, 0.0f);
            continue;
          }
          const float* in = x + (c * g.H + ih) * g.W + s * g.dw - g.pw;
          std::fill(out, out + lo, 0.0f);
          if (g.sw == 1) {
            std::copy(in + lo, in + hi, out + lo);
          } else {
            for (int64_t q = lo; q < hi; ++q) out[q] = in[q * g.sw];
          }
          std::fill(out + hi, out + g.Q, 0.0f);
        }
      }
    }
  }
}

// The inverse scatter: dx[c, ih, iw] += col[...] (dx zeroed by the caller).
void col2im(const Geometry& g, const float* col, float* dx) {
  for (int64_t c = 0; c < g.Cg; ++c) {
    for (int64_t r = 0; r < g.R; ++r) {
      for (int64_t s = 0; s < g.S; ++s) {
        const float* row = col + ((c * g.R + r) * g.S + s) * g.PQ;
        int64_t lo, hi;
        validRange(s * g.dw - g.pw, g.sw, g.W, g.Q, lo, hi);
        for (int64_t p = 0; p < g.P; ++p) {
          const int64_t ih = p * g.sh - g.ph + r * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          float* out = dx + (c * g.H + ih) * g.W + s * g.dw - g.pw;
          const float* in = row + p * g.Q;
          if (g.sw == 1) {
            for (int64_t q = lo; q < hi; ++q) out[q] += in[q];  // unit stride: vectorised
          } else {
            for (int64_t q = lo; q < hi; ++q) out[q * g.sw] += in[q];
          }
        }
      }
    }
  }
}

GemmParams gemmParams(int64_t M, int64_t N, int64_t K, bool transA, bool transB, float beta) {
  GemmParams p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.transA = transA;
  p.transB = transB;
  p.beta = beta;
  return p;
}

// Threads over image-groups, in a fixed round-robin so the work (and any per-thread sum) never
// depends on timing: fn(slot, item) with slot < slots.
size_t slotsFor(int64_t items) { return std::max<size_t>(1, std::min<size_t>(threadCount(), static_cast<size_t>(items))); }
template <typename F>
void forEachItem(int64_t items, size_t slots, F&& fn) {
  parallelFor(slots, 1, [&](size_t begin, size_t end) {
    for (size_t slot = begin; slot < end; ++slot) {
      for (int64_t item = static_cast<int64_t>(slot); item < items; item += static_cast<int64_t>(slots)) fn(slot, item);
    }
  });
}

void addBias(const Geometry& g, const float* bias, float* y) {
  if (bias == nullptr) return;
  parallelFor(static_cast<size_t>(g.N * g.K), 64, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const float b = bias[i % static_cast<size_t>(g.K)];
      float* out = y + i * static_cast<size_t>(g.PQ);
      for (int64_t j = 0; j < g.PQ; ++j) out[j] += b;
    }
  });
}

// sum of x[0 .. n) in double lanes (cpu/lanes.h).
double sumRun(const float* x, int64_t n) {
  return laneSum(static_cast<size_t>(n), [x](size_t i) { return static_cast<double>(x[i]); });
}

// db[k] = sum over n, p, q of dy[n, k, p, q], in double, one output channel per task.
void biasGrad(const Geometry& g, const float* dy, const StoragePtr& gradBias, DType dtype) {
  if (!gradBias) return;
  FloatOut db(gradBias, dtype, static_cast<uint64_t>(g.K));
  parallelFor(static_cast<size_t>(g.K), 1, [&](size_t begin, size_t end) {
    for (size_t k = begin; k < end; ++k) {
      double sum = 0;
      for (int64_t n = 0; n < g.N; ++n) sum += sumRun(dy + (n * g.K + static_cast<int64_t>(k)) * g.PQ, g.PQ);
      db.get()[k] = static_cast<float>(sum);
    }
  });
  db.finish();
}

float* workspaceFloats(const StoragePtr& ws) { return ws ? static_cast<float*>(ws->data()) : nullptr; }

// ---- forward ----

uint64_t forwardIm2colWorkspace(const ops::Conv2dArgs& a) {
  return slotsFor(static_cast<int64_t>(a.s.N * a.s.groups)) * static_cast<uint64_t>(a.s.crs() * a.s.pq()) * 4;
}

void forwardGemm(const ops::Conv2dArgs& a, bool unrolled) {
  const Geometry g(a.s);
  FloatIn x(a.x, a.dtype, a.s.xElements()), w(a.w, a.dtype, a.s.wElements());
  FloatIn bias(a.bias ? a.bias : a.w, a.dtype, a.bias ? a.s.K : 0);
  FloatOut y(a.y, a.dtype, a.s.yElements());
  const int64_t items = g.N * g.G;
  const size_t slots = slotsFor(items);
  float* cols = workspaceFloats(a.workspace);
  forEachItem(items, slots, [&](size_t slot, int64_t item) {
    const int64_t n = item / g.G, grp = item % g.G;
    const float* xi = x.get() + (n * g.C + grp * g.Cg) * g.H * g.W;
    const float* b = xi;
    if (unrolled) {
      float* col = cols + slot * static_cast<size_t>(g.CRS * g.PQ);
      im2col(g, xi, col);
      b = col;
    }
    gemmOnThisThread(w.get() + grp * g.Kg * g.CRS, b, y.get() + (n * g.K + grp * g.Kg) * g.PQ,
                     gemmParams(g.Kg, g.PQ, g.CRS, false, false, 0.0f));
  });
  addBias(g, a.bias ? bias.get() : nullptr, y.get());
  y.finish();
}

void forwardDirect(const ops::Conv2dArgs& a) {
  const Geometry g(a.s);
  FloatIn x(a.x, a.dtype, a.s.xElements()), w(a.w, a.dtype, a.s.wElements());
  FloatIn bias(a.bias ? a.bias : a.w, a.dtype, a.bias ? a.s.K : 0);
  FloatOut y(a.y, a.dtype, a.s.yElements());
  parallelFor(static_cast<size_t>(g.N * g.K), 1, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const int64_t n = static_cast<int64_t>(i) / g.K, k = static_cast<int64_t>(i) % g.K, grp = k / g.Kg;
      float* out = y.get() + static_cast<int64_t>(i) * g.PQ;
      std::fill(out, out + g.PQ, a.bias ? bias.get()[k] : 0.0f);
      for (int64_t c = 0; c < g.Cg; ++c) {
        const float* plane = x.get() + (n * g.C + grp * g.Cg + c) * g.H * g.W;
        for (int64_t r = 0; r < g.R; ++r) {
          for (int64_t s = 0; s < g.S; ++s) {
            const float wv = w.get()[((k * g.Cg + c) * g.R + r) * g.S + s];
            int64_t lo, hi;
            validRange(s * g.dw - g.pw, g.sw, g.W, g.Q, lo, hi);
            for (int64_t p = 0; p < g.P; ++p) {
              const int64_t ih = p * g.sh - g.ph + r * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              const float* in = plane + ih * g.W + s * g.dw - g.pw;
              float* o = out + p * g.Q;
              if (g.sw == 1) {
                for (int64_t q = lo; q < hi; ++q) o[q] += wv * in[q];
              } else {
                for (int64_t q = lo; q < hi; ++q) o[q] += wv * in[q * g.sw];
              }
            }
          }
        }
      }
    }
  });
  y.finish();
}

// ---- backward data ----

uint64_t dataIm2colWorkspace(const ops::Conv2dBackwardDataArgs& a) {
  return slotsFor(static_cast<int64_t>(a.s.N * a.s.groups)) * static_cast<uint64_t>(a.s.crs() * a.s.pq()) * 4;
}

void dataGemm(const ops::Conv2dBackwardDataArgs& a, bool unrolled) {
  const Geometry g(a.s);
  FloatIn dy(a.gradOut, a.dtype, a.s.yElements()), w(a.w, a.dtype, a.s.wElements());
  FloatOut dx(a.gradIn, a.dtype, a.s.xElements());
  const int64_t items = g.N * g.G;
  const size_t slots = slotsFor(items);
  float* cols = workspaceFloats(a.workspace);
  forEachItem(items, slots, [&](size_t slot, int64_t item) {
    const int64_t n = item / g.G, grp = item % g.G;
    float* dxi = dx.get() + (n * g.C + grp * g.Cg) * g.H * g.W;
    const float* wg = w.get() + grp * g.Kg * g.CRS;
    const float* dyi = dy.get() + (n * g.K + grp * g.Kg) * g.PQ;
    if (!unrolled) {
      gemmOnThisThread(wg, dyi, dxi, gemmParams(g.CRS, g.PQ, g.Kg, true, false, 0.0f));
      return;
    }
    float* col = cols + slot * static_cast<size_t>(g.CRS * g.PQ);
    gemmOnThisThread(wg, dyi, col, gemmParams(g.CRS, g.PQ, g.Kg, true, false, 0.0f));
    std::fill(dxi, dxi + g.Cg * g.H * g.W, 0.0f);
    col2im(g, col, dxi);
  });
  dx.finish();
}

void dataDirect(const ops::Conv2dBackwardDataArgs& a) {
  const Geometry g(a.s);
  FloatIn dy(a.gradOut, a.dtype, a.s.yElements()), w(a.w, a.dtype, a.s.wElements());
  FloatOut dx(a.gradIn, a.dtype, a.s.xElements());
  parallelFor(static_cast<size_t>(g.N * g.C), 1, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const int64_t n = static_cast<int64_t>(i) / g.C, ch = static_cast<int64_t>(i) % g.C;
      const int64_t grp = ch / g.Cg, c = ch % g.Cg;
      float* plane = dx.get() + static_cast<int64_t>(i) * g.H * g.W;
      std::fill(plane, plane + g.H * g.W, 0.0f);
      for (int64_t kk = 0; kk < g.Kg; ++kk) {
        const int64_t k = grp * g.Kg + kk;
        const float* dyp = dy.get() + (n * g.K + k) * g.PQ;
        for (int64_t r = 0; r < g.R; ++r) {
          for (int64_t s = 0; s < g.S; ++s) {
            const float wv = w.get()[((k * g.Cg + c) * g.R + r) * g.S + s];
            int64_t lo, hi;
            validRange(s * g.dw - g.pw, g.sw, g.W, g.Q, lo, hi);
            for (int64_t p = 0; p < g.P; ++p) {
              const int64_t ih = p * g.sh - g.ph + r * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              float* o = plane + ih * g.W + s * g.dw - g.pw;
              const float* in = dyp + p * g.Q;
              if (g.sw == 1) {
                for (int64_t q = lo; q < hi; ++q) o[q] += wv * in[q];
              } else {
                for (int64_t q = lo; q < hi; ++q) o[q * g.sw] += wv * in[q];
              }
            }
          }
        }
      }
    }
  });
  dx.finish();
}

// ---- backward filter ----

// Per slot: the image-group's columns (unless 1x1) and a private dW, summed in slot order at the end.
uint64_t filterSlotFloats(const ops::ConvShape& s, bool unrolled) {
  return (unrolled ? static_cast<uint64_t>(s.crs() * s.pq()) : 0) + s.wElements();
}
uint64_t filterIm2colWorkspace(const ops::Conv2dBackwardFilterArgs& a) {
  return slotsFor(static_cast<int64_t>(a.s.N * a.s.groups)) * filterSlotFloats(a.s, true) * 4;
}
uint64_t filter1x1Workspace(const ops::Conv2dBackwardFilterArgs& a) {
  return slotsFor(static_cast<int64_t>(a.s.N * a.s.groups)) * filterSlotFloats(a.s, false) * 4;
}

// transposed: each slot accumulates dW^T (per group [CRS x Kg]) = col @ dy^T instead of
// dy @ col^T: the same sums in the same order per element, with the GEMM's tile along Kg rather
// than CRS, which fits a small CRS (one input channel: 9) far better.
void filterGemm(const ops::Conv2dBackwardFilterArgs& a, bool unrolled, bool transposed = false) {
  const Geometry g(a.s);
  FloatIn x(a.x, a.dtype, a.s.xElements()), dy(a.gradOut, a.dtype, a.s.yElements());
  FloatOut dw(a.gradWeight, a.dtype, a.s.wElements());
  const int64_t items = g.N * g.G;
  const size_t slots = slotsFor(items);
  const size_t perSlot = filterSlotFloats(a.s, unrolled), wElems = a.s.wElements();
  float* ws = workspaceFloats(a.workspace);
  parallelFor(slots, 1, [&](size_t begin, size_t end) {
    for (size_t slot = begin; slot < end; ++slot) std::fill(ws + slot * perSlot, ws + slot * perSlot + wElems, 0.0f);
  });
  forEachItem(items, slots, [&](size_t slot, int64_t item) {
    const int64_t n = item / g.G, grp = item % g.G;
    float* partial = ws + slot * perSlot;
    const float* xi = x.get() + (n * g.C + grp * g.Cg) * g.H * g.W;
    const float* b = xi;
    if (unrolled) {
      float* col = partial + wElems;
      im2col(g, xi, col);
      b = col;
    }
    const float* dyi = dy.get() + (n * g.K + grp * g.Kg) * g.PQ;
    if (transposed) {
      // dW_g^T[CRS, Kg] += col[CRS, PQ] @ dy[Kg, PQ]^T
      gemmOnThisThread(b, dyi, partial + grp * g.Kg * g.CRS, gemmParams(g.CRS, g.Kg, g.PQ, false, true, 1.0f));
    } else {
      // dW_g[Kg, CRS] += dy[Kg, PQ] @ col[CRS, PQ]^T
      gemmOnThisThread(dyi, b, partial + grp * g.Kg * g.CRS, gemmParams(g.Kg, g.CRS, g.PQ, false, true, 1.0f));
    }
  });
  parallelFor(wElems, 4096, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      // i indexes dw[(grp * Kg + k) * CRS + j]; a transposed partial holds it at (grp * CRS + j) * Kg + k
      size_t at = i;
      if (transposed) {
        const size_t crs = static_cast<size_t>(g.CRS), kg = static_cast<size_t>(g.Kg);
        const size_t grp = i / (kg * crs), k = i / crs % kg, j = i % crs;
        at = (grp * crs + j) * kg + k;
      }
      float sum = 0.0f;
      for (size_t slot = 0; slot < slots; ++slot) sum += ws[slot * perSlot + at];
      dw.get()[i] = sum;
    }
  });
  dw.finish();
  biasGrad(g, dy.get(), a.gradBias, a.dtype);
}

void filterDirect(const ops::Conv2dBackwardFilterArgs& a) {
  const Geometry g(a.s);
  FloatIn x(a.x, a.dtype, a.s.xElements()), dy(a.gradOut, a.dtype, a.s.yElements());
  FloatOut dw(a.gradWeight, a.dtype, a.s.wElements());
  const int64_t perK = g.Cg * g.R * g.S;
  parallelFor(static_cast<size_t>(g.K * perK), 1, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const int64_t k = static_cast<int64_t>(i) / perK, rest = static_cast<int64_t>(i) % perK;
      const int64_t c = rest / (g.R * g.S), r = rest / g.S % g.R, s = rest % g.S, grp = k / g.Kg;
      int64_t lo, hi;
      validRange(s * g.dw - g.pw, g.sw, g.W, g.Q, lo, hi);
      float sum = 0.0f;
      for (int64_t n = 0; n < g.N; ++n) {
        const float* plane = x.get() + (n * g.C + grp * g.Cg + c) * g.H * g.W;
        const float* dyp = dy.get() + (n * g.K + k) * g.PQ;
        for (int64_t p = 0; p < g.P; ++p) {
          const int64_t ih = p * g.sh - g.ph + r * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const float* in = plane + ih * g.W + s * g.dw - g.pw;
          const float* d = dyp + p * g.Q;
          float row = 0.0f;
          if (g.sw == 1) {
            for (int64_t q = lo; q < hi; ++q) row += d[q] * in[q];
          } else {
            for (int64_t q = lo; q < hi; ++q) row += d[q] * in[q * g.sw];
          }
          sum += row;
        }
      }
      dw.get()[i] = sum;
    }
  });
  dw.finish();
  biasGrad(g, dy.get(), a.gradBias, a.dtype);
}

}  // namespace

// Registered implementations (ops/conv.h), in the order the heuristic (autotuning off) prefers.
namespace {
using ops::Conv2dArgs;
using ops::Conv2dBackwardDataArgs;
using ops::Conv2dBackwardFilterArgs;
using ops::ImplTraits;
template <typename A>
bool pointwise(const A& a) {
  return a.s.isPointwise();
}

HY_REGISTER_OP(
    Conv2dArgs, Cpu, "gemm1x1", [](const Conv2dArgs& a, StreamId) { forwardGemm(a, false); }, &pointwise<Conv2dArgs>);
HY_REGISTER_OP(
    Conv2dArgs, Cpu, "im2col", [](const Conv2dArgs& a, StreamId) { forwardGemm(a, true); }, nullptr,
    ImplTraits<Conv2dArgs>{&forwardIm2colWorkspace, true});
HY_REGISTER_OP(Conv2dArgs, Cpu, "direct", [](const Conv2dArgs& a, StreamId) { forwardDirect(a); });

HY_REGISTER_OP(
    Conv2dBackwardDataArgs, Cpu, "gemm1x1", [](const Conv2dBackwardDataArgs& a, StreamId) { dataGemm(a, false); },
    &pointwise<Conv2dBackwardDataArgs>);
HY_REGISTER_OP(
    Conv2dBackwardDataArgs, Cpu, "col2im", [](const Conv2dBackwardDataArgs& a, StreamId) { dataGemm(a, true); },
    nullptr, ImplTraits<Conv2dBackwardDataArgs>{&dataIm2colWorkspace, true});
HY_REGISTER_OP(Conv2dBackwardDataArgs, Cpu, "direct", [](const Conv2dBackwardDataArgs& a, StreamId) { dataDirect(a); });

HY_REGISTER_OP(
    Conv2dBackwardFilterArgs, Cpu, "gemm1x1", [](const Conv2dBackwardFilterArgs& a, StreamId) { filterGemm(a, false); },
    &pointwise<Conv2dBackwardFilterArgs>, ImplTraits<Conv2dBackwardFilterArgs>{&filter1x1Workspace, true});
HY_REGISTER_OP(
    Conv2dBackwardFilterArgs, Cpu, "im2col", [](const Conv2dBackwardFilterArgs& a, StreamId) { filterGemm(a, true); },
    nullptr, ImplTraits<Conv2dBackwardFilterArgs>{&filterIm2colWorkspace, true});
HY_REGISTER_OP(
    Conv2dBackwardFilterArgs, Cpu, "im2colTransposed",
    [](const Conv2dBackwardFilterArgs& a, StreamId) { filterGemm(a, true, true); }, nullptr,
    ImplTraits<Conv2dBackwardFilterArgs>{&filterIm2colWorkspace, true});
HY_REGISTER_OP(
    Conv2dBackwardFilterArgs, Cpu, "direct", [](const Conv2dBackwardFilterArgs& a, StreamId) { filterDirect(a); });
}  // namespace

}  // namespace hy::cpu
