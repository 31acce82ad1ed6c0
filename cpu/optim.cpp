// CPU multi-tensor ops (ops/optim.h): the fused optimizer step, GradScaler's unscale-and-check and
// scale update, and per-tensor norms. One call walks the whole tensor list in chunks of
// optim::kChunk elements spread over the pool; the per-element rules are core/optim_math.h, shared
// with cuda/optim.cu. Norms sum each chunk in double lanes and the chunks of a tensor in order, so
// every result is the same whatever the thread count.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/half.h"
#include "../ops/optim.h"
#include "clones.h"
#include "parallel.h"

namespace hy::cpu {

namespace {

using optim::Coef;
using optim::Hyper;
using optim::kChunk;

#define HY_INLINE inline __attribute__((always_inline))

HY_INLINE float ld(const float* p, size_t i) { return p[i]; }
HY_INLINE float ld(const uint16_t* p, size_t i) { return halfBitsToFloat(p[i]); }
HY_INLINE void st(float* p, size_t i, float v) { p[i] = v; }
HY_INLINE void st(uint16_t* p, size_t i, float v) { p[i] = floatToHalfBits(v); }

// One chunk of a call: which tensor, which elements, and its slot among the call's chunks.
struct Chunk {
  size_t tensor;
  uint64_t begin, end;
};

std::vector<Chunk> chunkList(const std::vector<uint64_t>& numels) {
  std::vector<Chunk> out;
  for (size_t t = 0; t < numels.size(); ++t) {
    for (uint64_t b = 0; b < numels[t]; b += kChunk) out.push_back({t, b, std::min(numels[t], b + kChunk)});
  }
  return out;
}

// fn(chunkIndex) for every chunk, over the pool when there is more than a couple of chunks' work.
template <typename F>
void forEachChunk(const std::vector<Chunk>& chunks, F fn) {
  if (chunks.size() <= 1) {
    for (size_t i = 0; i < chunks.size(); ++i) fn(i);
    return;
  }
  parallelFor(chunks.size(), 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) fn(i);
  });
}

// Per-tensor sums of the chunks' partials (pairs), in chunk order.
std::vector<double> tensorSums(const std::vector<Chunk>& chunks, const std::vector<double>& partials, size_t count) {
  std::vector<double> sums(2 * count, 0.0);
  for (size_t i = 0; i < chunks.size(); ++i) {
    sums[2 * chunks[i].tensor] += partials[2 * i];
    sums[2 * chunks[i].tensor + 1] += partials[2 * i + 1];
  }
  return sums;
}

// ---- the element loops: one out-of-line function per rule and storage type, cloned per vector width ----

template <typename T>
HY_CPU_CLONES __attribute__((noinline)) void sgdRange(Hyper h, Coef c, T* w, const T* g, float* buf, size_t n) {
  if (buf == nullptr) {
    for (size_t i = 0; i < n; ++i) {
      float wi = ld(w, i), unused = 0;
      optim::sgdElement(h, c, wi, ld(g, i), unused);
      st(w, i, wi);
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    float wi = ld(w, i);
    optim::sgdElement(h, c, wi, ld(g, i), buf[i]);
    st(w, i, wi);
  }
}

template <typename T>
HY_CPU_CLONES __attribute__((noinline)) void adamRange(Hyper h, Coef c, T* w, const T* g, float* m, float* v,
                                                       float* vMax, size_t n) {
  if (vMax == nullptr) {
    for (size_t i = 0; i < n; ++i) {
      float wi = ld(w, i), unused = 0;
      optim::adamElement(h, c, wi, ld(g, i), m[i], v[i], unused);
      st(w, i, wi);
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    float wi = ld(w, i);
    optim::adamElement(h, c, wi, ld(g, i), m[i], v[i], vMax[i]);
    st(w, i, wi);
  }
}

template <typename T>
HY_CPU_CLONES __attribute__((noinline)) void adadeltaRange(Hyper h, T* w, const T* g, float* sq, float* acc, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float wi = ld(w, i);
    optim::adadeltaElement(h, wi, ld(g, i), sq[i], acc[i]);
    st(w, i, wi);
  }
}

// Sum of squares of a and of b in eight double lanes each (a fixed order at every vector width).
template <typename F>
HY_INLINE void laneSquares(size_t n, F pair, double out[2]) {
  double la[8] = {}, lb[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) {
      float a, b;
      pair(i + j, a, b);
      la[j] += static_cast<double>(a) * a;
      lb[j] += static_cast<double>(b) * b;
    }
  }
  double ta = 0, tb = 0;
  for (; i < n; ++i) {
    float a, b;
    pair(i, a, b);
    ta += static_cast<double>(a) * a;
    tb += static_cast<double>(b) * b;
  }
  out[0] = ta + ((la[0] + la[1]) + (la[2] + la[3])) + ((la[4] + la[5]) + (la[6] + la[7]));
  out[1] = tb + ((lb[0] + lb[1]) + (lb[2] + lb[3])) + ((lb[4] + lb[5]) + (lb[6] + lb[7]));
}

// LAMB's first pass: moments updated; sums of w^2 and u^2 (u the update direction).
template <typename T>
HY_CPU_CLONES __attribute__((noinline)) void lambMomentsRange(Hyper h, Coef c, const T* w, const T* g, float* m,
                                                              float* v, size_t n, double out[2]) {
  laneSquares(n, [&](size_t i, float& a, float& b) {
    a = ld(w, i);
    b = optim::lambMoments(h, c, a, ld(g, i), m[i], v[i]);
  }, out);
}

template <typename T>
HY_CPU_CLONES __attribute__((noinline)) void lambApplyRange(Hyper h, Coef c, T* w, const float* m, const float* v,
                                                            size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float wi = ld(w, i);
    st(w, i, wi - c.stepSize * optim::lambDirection(h, c, wi, m[i], v[i]));
  }
}

// Sums of squares of a and b (b may be null: its sum is 0).
template <typename T>
HY_CPU_CLONES __attribute__((noinline)) void squaresRange(const T* a, const T* b, size_t n, double out[2]) {
  if (b == nullptr) {
    laneSquares(n, [&](size_t i, float& x, float& y) {
      x = ld(a, i);
      y = 0;
    }, out);
    return;
  }
  laneSquares(n, [&](size_t i, float& x, float& y) {
    x = ld(a, i);
    y = ld(b, i);
  }, out);
}

// Multiplies by inv in place; returns whether any element was inf or NaN (before scaling).
template <typename T>
HY_CPU_CLONES __attribute__((noinline)) bool unscaleRange(T* g, float inv, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const float v = ld(g, i);
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    st(g, i, v * inv);
  }
  return bad != 0;
}

// ---- the ops ----

template <typename T>
void optimizerStep(const ops::OptimizerStepArgs& a) {
  if (a.foundInf && static_cast<const float*>(a.foundInf->data())[0] != 0) return;  // GradScaler: skip the step
  const Hyper h = a.hyper();
  const size_t count = a.numels.size();
  const auto steps = [&](size_t t) -> int32_t& { return *static_cast<int32_t*>(a.steps[t]->data()); };
  std::vector<Coef> coef(count);
  for (size_t t = 0; t < count; ++t) coef[t] = optim::coefFor(a.kind, h, steps(t));
  const std::vector<Chunk> chunks = chunkList(a.numels);
  const auto w = [&](const Chunk& k) { return static_cast<T*>(a.params[k.tensor]->data()) + k.begin; };
  const auto g = [&](const Chunk& k) { return static_cast<const T*>(a.grads[k.tensor]->data()) + k.begin; };
  const auto s = [&](const std::vector<StoragePtr>& list, const Chunk& k) {
    return list.empty() ? nullptr : static_cast<float*>(list[k.tensor]->data()) + k.begin;
  };
  std::vector<double> partials(2 * chunks.size());
  switch (a.kind) {
    case OptimizerKind::Sgd:
      forEachChunk(chunks, [&](size_t i) {
        const Chunk& k = chunks[i];
        sgdRange(h, coef[k.tensor], w(k), g(k), s(a.state0, k), k.end - k.begin);
      });
      break;
    case OptimizerKind::Adam:
      forEachChunk(chunks, [&](size_t i) {
        const Chunk& k = chunks[i];
        adamRange(h, coef[k.tensor], w(k), g(k), s(a.state0, k), s(a.state1, k), s(a.state2, k), k.end - k.begin);
      });
      break;
    case OptimizerKind::Adadelta:
      forEachChunk(chunks, [&](size_t i) {
        const Chunk& k = chunks[i];
        adadeltaRange(h, w(k), g(k), s(a.state0, k), s(a.state1, k), k.end - k.begin);
      });
      break;
    case OptimizerKind::Lamb: {
      const float clip = optim::lambClip(h, static_cast<const float*>(a.gradNorm->data())[0]);
      for (Coef& c : coef) c.gradFactor = clip;
      forEachChunk(chunks, [&](size_t i) {
        const Chunk& k = chunks[i];
        lambMomentsRange(h, coef[k.tensor], w(k), g(k), s(a.state0, k), s(a.state1, k), k.end - k.begin, &partials[2 * i]);
      });
      const std::vector<double> sums = tensorSums(chunks, partials, count);
      for (size_t t = 0; t < count; ++t) {
        coef[t].stepSize = h.lr * optim::lambRatio(h, static_cast<float>(std::sqrt(sums[2 * t])),
                                                   static_cast<float>(std::sqrt(sums[2 * t + 1])));
      }
      forEachChunk(chunks, [&](size_t i) {
        const Chunk& k = chunks[i];
        lambApplyRange(h, coef[k.tensor], w(k), s(a.state0, k), s(a.state1, k), k.end - k.begin);
      });
      break;
    }
    case OptimizerKind::Lars: {
      forEachChunk(chunks, [&](size_t i) {
        const Chunk& k = chunks[i];
        squaresRange<T>(w(k), g(k), k.end - k.begin, &partials[2 * i]);
      });
      const std::vector<double> sums = tensorSums(chunks, partials, count);
      for (size_t t = 0; t < count; ++t) {
        coef[t].gradFactor = optim::larsTrust(h, static_cast<float>(std::sqrt(sums[2 * t])),
                                              static_cast<float>(std::sqrt(sums[2 * t + 1])));
      }
      forEachChunk(chunks, [&](size_t i) {
        const Chunk& k = chunks[i];
        sgdRange(h, coef[k.tensor], w(k), g(k), s(a.state0, k), k.end - k.begin);
      });
      break;
    }
    default: break;
  }
  for (size_t t = 0; t < count; ++t) ++steps(t);
}

template <typename T>
void ampUnscale(const ops::AmpUnscaleArgs& a) {
  const float inv = 1.f / static_cast<const float*>(a.scale->data())[0];
  const std::vector<Chunk> chunks = chunkList(a.numels);
  std::vector<uint8_t> bad(chunks.size(), 0);
  forEachChunk(chunks, [&](size_t i) {
    const Chunk& k = chunks[i];
    bad[i] = unscaleRange(static_cast<T*>(a.grads[k.tensor]->data()) + k.begin, inv, k.end - k.begin);
  });
  for (uint8_t b : bad) {
    if (b != 0) static_cast<float*>(a.foundInf->data())[0] = 1;
  }
}

template <typename T>
void multiTensorNorm(const ops::MultiTensorNormArgs& a) {
  const size_t count = a.numels.size();
  const std::vector<Chunk> chunks = chunkList(a.numels);
  std::vector<double> partials(2 * chunks.size());
  forEachChunk(chunks, [&](size_t i) {
    const Chunk& k = chunks[i];
    squaresRange<T>(static_cast<const T*>(a.tensors[k.tensor]->data()) + k.begin, nullptr, k.end - k.begin, &partials[2 * i]);
  });
  const std::vector<double> sums = tensorSums(chunks, partials, count);
  float* norms = static_cast<float*>(a.norms->data());
  double total = 0;
  for (size_t t = 0; t < count; ++t) {
    norms[t] = static_cast<float>(std::sqrt(sums[2 * t]));
    total += static_cast<double>(norms[t]) * norms[t];
  }
  if (a.total) static_cast<float*>(a.total->data())[0] = static_cast<float>(std::sqrt(total));
}

}  // namespace

HY_REGISTER_OP(ops::OptimizerStepArgs, Cpu, "multiTensor", [](const ops::OptimizerStepArgs& a, StreamId) {
  if (a.dtype == DType::Float16) return optimizerStep<uint16_t>(a);
  optimizerStep<float>(a);
});

HY_REGISTER_OP(ops::AmpUnscaleArgs, Cpu, "multiTensor", [](const ops::AmpUnscaleArgs& a, StreamId) {
  if (a.dtype == DType::Float16) return ampUnscale<uint16_t>(a);
  ampUnscale<float>(a);
});

HY_REGISTER_OP(ops::AmpUpdateScaleArgs, Cpu, "scalar", [](const ops::AmpUpdateScaleArgs& a, StreamId) {
  optim::updateScale(static_cast<float*>(a.scale->data())[0], static_cast<int32_t*>(a.growthTracker->data())[0],
                     static_cast<float*>(a.foundInf->data())[0], static_cast<float>(a.growthFactor),
                     static_cast<float>(a.backoffFactor), static_cast<int32_t>(a.growthInterval));
});

HY_REGISTER_OP(ops::MultiTensorNormArgs, Cpu, "multiTensor", [](const ops::MultiTensorNormArgs& a, StreamId) {
  if (a.dtype == DType::Float16) return multiTensorNorm<uint16_t>(a);
  multiTensorNorm<float>(a);
});

}  // namespace hy::cpu
