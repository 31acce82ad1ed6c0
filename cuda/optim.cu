// CUDA multi-tensor ops (ops/optim.h), in the structure of apex's multi_tensor_apply: the host
// cuts the call's tensors into chunks of optim::kChunk elements and passes a table of up to
// kListTensors tensors and kListBlocks chunks as one kernel argument (under the 4 KB parameter
// limit), one block per chunk; a call launches one such table after another. The per-element
// rules are core/optim_math.h, shared with cpu/optim.cpp. Norms are deterministic: each block
// reduces its chunk in a fixed tree and the chunks of a tensor are summed in order.
//
// A GradScaler's foundInf flag is read by every kernel first: a step after an inf/NaN gradient
// writes nothing, with no host round trip.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../ops/optim.h"
#include "check.cuh"
#include "common.cuh"

namespace hy::cuda {

namespace {

using optim::Coef;
using optim::Hyper;
using optim::kChunk;

constexpr int kThreads = 512;
constexpr int kListTensors = 32;
constexpr int kListBlocks = 320;
constexpr int kReduceTensors = 128;

// One launch's table: the tensors (parameter, gradient, three float32 states each) and, per block,
// which tensor and which chunk of it.
struct TensorList {
  void* w[kListTensors];
  void* g[kListTensors];
  float* s0[kListTensors];
  float* s1[kListTensors];
  float* s2[kListTensors];
  int32_t* steps[kListTensors];  // the tensor's step count (int32 [1])
  uint64_t n[kListTensors];
  uint64_t chunkBase[kListTensors];  // the tensor's first chunk among the call's chunks (partials slot)
  int32_t index[kListTensors];       // the tensor's position in the call (steps, norms)
  uint8_t blockTensor[kListBlocks];
  uint32_t blockChunk[kListBlocks];
};
static_assert(sizeof(TensorList) <= 3800, "a kernel's parameters must stay under 4 KB");
static_assert(kListTensors <= 256, "blockTensor is a byte");

// The lists of one call, in TensorList's slot order (a null or empty list leaves its pointers null).
struct Lists {
  const std::vector<StoragePtr>* of[5] = {};
  const std::vector<StoragePtr>* steps = nullptr;
};

// launch(table, blocks) for every table the call's chunks fill.
template <typename F>
void forEachTable(const std::vector<uint64_t>& numels, const Lists& lists, F launch) {
  TensorList t{};
  int tensors = 0, blocks = 0;
  uint64_t base = 0;
  const auto fill = [&](int slot, size_t i) {
    void** slots[5] = {t.w, t.g, nullptr, nullptr, nullptr};
    float** states[3] = {t.s0, t.s1, t.s2};
    for (int k = 0; k < 5; ++k) {
      const std::vector<StoragePtr>* l = lists.of[k];
      void* p = l != nullptr && !l->empty() ? (*l)[i]->data() : nullptr;
      if (k < 2) {
        slots[k][slot] = p;
      } else {
        states[k - 2][slot] = static_cast<float*>(p);
      }
    }
    t.steps[slot] = lists.steps != nullptr ? static_cast<int32_t*>((*lists.steps)[i]->data()) : nullptr;
    t.n[slot] = numels[i];
    t.chunkBase[slot] = base;
    t.index[slot] = static_cast<int32_t>(i);
  };
  for (size_t i = 0; i < numels.size(); ++i) {
    const uint64_t chunks = optim::chunksOf(numels[i]);
    if (chunks == 0) continue;
    if (tensors == kListTensors) {
      launch(t, blocks);
      tensors = blocks = 0;
    }
    int slot = tensors++;
    fill(slot, i);
    for (uint64_t c = 0; c < chunks; ++c) {
      t.blockTensor[blocks] = static_cast<uint8_t>(slot);
      t.blockChunk[blocks] = static_cast<uint32_t>(c);
      if (++blocks == kListBlocks) {
        launch(t, blocks);
        blocks = 0;
        tensors = 0;
        if (c + 1 < chunks) {  // the rest of this tensor opens the next table
          slot = tensors++;
          fill(slot, i);
        }
      }
    }
    base += chunks;
  }
  if (blocks > 0) launch(t, blocks);
}

enum class Pass { Update, Squares, LambMoments, LambApply };

// One chunk of one pass. Squares and LambMoments leave (sum a^2, sum b^2) of their chunk in partials.
template <OptimizerKind K, Pass P, typename T>
__global__ void __launch_bounds__(kThreads) multiTensorKernel(TensorList t, Hyper h, const float* foundInf, const float* gradNorm,
                                                              const float* norms, float* partials) {
  if (foundInf != nullptr && *foundInf != 0) return;  // the whole block agrees: no reduction is left half-reached
  const int slot = t.blockTensor[blockIdx.x];
  const uint64_t chunk = t.blockChunk[blockIdx.x];
  const uint64_t begin = chunk * kChunk, end = begin + kChunk < t.n[slot] ? begin + kChunk : t.n[slot];
  const int32_t index = t.index[slot];
  T* w = static_cast<T*>(t.w[slot]);
  const T* g = static_cast<const T*>(t.g[slot]);
  float* s0 = t.s0[slot];
  float* s1 = t.s1[slot];
  float* s2 = t.s2[slot];
  Coef c = optim::coefFor(K, h, t.steps[slot] != nullptr ? *t.steps[slot] : 0);
  if constexpr (K == OptimizerKind::Lamb) c.gradFactor = optim::lambClip(h, *gradNorm);
  if constexpr (K == OptimizerKind::Lamb && P == Pass::LambApply) {
    c.stepSize = h.lr * optim::lambRatio(h, norms[2 * index], norms[2 * index + 1]);
  }
  if constexpr (K == OptimizerKind::Lars && P == Pass::Update) {
    c.gradFactor = optim::larsTrust(h, norms[2 * index], norms[2 * index + 1]);
  }
  float a2 = 0, b2 = 0;
  for (uint64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    if constexpr (P == Pass::Update) {
      float wi = toFloat(w[i]);
      const float gi = toFloat(g[i]);
      float unused = 0;
      if constexpr (K == OptimizerKind::Sgd || K == OptimizerKind::Lars) {
        optim::sgdElement(h, c, wi, gi, s0 != nullptr ? s0[i] : unused);
      } else if constexpr (K == OptimizerKind::Adam) {
        optim::adamElement(h, c, wi, gi, s0[i], s1[i], s2 != nullptr ? s2[i] : unused);
      } else if constexpr (K == OptimizerKind::Adadelta) {
        optim::adadeltaElement(h, wi, gi, s0[i], s1[i]);
      }
      w[i] = fromFloat<T>(wi);
    } else if constexpr (P == Pass::Squares) {
      const float a = toFloat(w[i]);
      a2 += a * a;
      if (g != nullptr) {
        const float b = toFloat(g[i]);
        b2 += b * b;
      }
    } else if constexpr (P == Pass::LambMoments) {
      const float wi = toFloat(w[i]);
      const float u = optim::lambMoments(h, c, wi, toFloat(g[i]), s0[i], s1[i]);
      a2 += wi * wi;
      b2 += u * u;
    } else if constexpr (P == Pass::LambApply) {
      const float wi = toFloat(w[i]);
      w[i] = fromFloat<T>(wi - c.stepSize * optim::lambDirection(h, c, wi, s0[i], s1[i]));
    }
  }
  if constexpr (P == Pass::Squares || P == Pass::LambMoments) {
    a2 = blockAllReduce(a2, SumOp{}, 0.f);
    b2 = blockAllReduce(b2, SumOp{}, 0.f);
    if (threadIdx.x == 0) {
      partials[2 * (t.chunkBase[slot] + chunk)] = a2;
      partials[2 * (t.chunkBase[slot] + chunk) + 1] = b2;
    }
  }
}

// The chunks of up to kReduceTensors tensors: each thread sums one tensor's partials in order.
struct ReduceList {
  uint64_t chunkBase[kReduceTensors];
  uint64_t chunks[kReduceTensors];
  int32_t index[kReduceTensors];
  int32_t tensors;
};

__global__ void reduceNormsKernel(ReduceList r, const float* foundInf, const float* partials, float* norms) {
  if (foundInf != nullptr && *foundInf != 0) return;
  const int t = static_cast<int>(threadIdx.x);
  if (t >= r.tensors) return;
  double a = 0, b = 0;
  for (uint64_t k = 0; k < r.chunks[t]; ++k) {
    a += partials[2 * (r.chunkBase[t] + k)];
    b += partials[2 * (r.chunkBase[t] + k) + 1];
  }
  norms[2 * r.index[t]] = static_cast<float>(sqrt(a));
  norms[2 * r.index[t] + 1] = static_cast<float>(sqrt(b));
}

// Sums every tensor's chunk partials into norms (pairs per tensor).
void reduceNorms(const std::vector<uint64_t>& numels, const float* foundInf, const float* partials, float* norms,
                 cudaStream_t s) {
  ReduceList r{};
  uint64_t base = 0;
  for (size_t i = 0; i < numels.size(); ++i) {
    r.chunkBase[r.tensors] = base;
    r.chunks[r.tensors] = optim::chunksOf(numels[i]);
    r.index[r.tensors] = static_cast<int32_t>(i);
    base += optim::chunksOf(numels[i]);
    if (++r.tensors == kReduceTensors || i + 1 == numels.size()) {
      HY_LAUNCH(1, kReduceTensors, 0, s, reduceNormsKernel)(r, foundInf, partials, norms);
      checkLaunch("multi-tensor norm reduction");
      r.tensors = 0;
    }
  }
}

// The step counters of up to kStepTensors tensors, advanced after the passes that read them.
constexpr int kStepTensors = 256;
struct StepList {
  int32_t* steps[kStepTensors];
  int32_t count;
};

__global__ void advanceStepsKernel(StepList l, const float* foundInf) {
  if (foundInf != nullptr && *foundInf != 0) return;
  if (static_cast<int>(threadIdx.x) < l.count) ++*l.steps[threadIdx.x];
}

template <OptimizerKind K, Pass P, typename T>
void launchPass(const ops::OptimizerStepArgs& a, const Lists& lists, const float* norms, float* partials,
                cudaStream_t s) {
  const float* foundInf = a.foundInf ? static_cast<const float*>(a.foundInf->data()) : nullptr;
  const float* gradNorm = a.gradNorm ? static_cast<const float*>(a.gradNorm->data()) : nullptr;
  const Hyper h = a.hyper();
  forEachTable(a.numels, lists, [&](const TensorList& t, int blocks) {
    HY_LAUNCH(blocks, kThreads, 0, s, multiTensorKernel<K, P, T>)(t, h, foundInf, gradNorm, norms, partials);
    checkLaunch("optimizerStep");
  });
}

template <OptimizerKind K, typename T>
void optimizerStep(const ops::OptimizerStepArgs& a, cudaStream_t s) {
  Lists lists;
  lists.of[0] = &a.params;
  lists.of[1] = &a.grads;
  lists.of[2] = &a.state0;
  lists.of[3] = &a.state1;
  lists.of[4] = &a.state2;
  lists.steps = &a.steps;
  const float* foundInf = a.foundInf ? static_cast<const float*>(a.foundInf->data()) : nullptr;
  float* partials = nullptr;
  float* norms = nullptr;
  if (a.scratch) {
    partials = static_cast<float*>(a.scratch->data());
    norms = partials + 2 * ops::totalChunks(a.numels);
  }
  if constexpr (K == OptimizerKind::Lamb) {
    launchPass<K, Pass::LambMoments, T>(a, lists, norms, partials, s);
    reduceNorms(a.numels, foundInf, partials, norms, s);
    launchPass<K, Pass::LambApply, T>(a, lists, norms, partials, s);
  } else if constexpr (K == OptimizerKind::Lars) {
    launchPass<K, Pass::Squares, T>(a, lists, norms, partials, s);
    reduceNorms(a.numels, foundInf, partials, norms, s);
    launchPass<K, Pass::Update, T>(a, lists, norms, partials, s);
  } else {
    launchPass<K, Pass::Update, T>(a, lists, norms, partials, s);
  }
  StepList l{};
  for (size_t i = 0; i < a.steps.size(); ++i) {
    l.steps[l.count] = static_cast<int32_t*>(a.steps[i]->data());
    if (++l.count == kStepTensors || i + 1 == a.steps.size()) {
      HY_LAUNCH(1, kStepTensors, 0, s, advanceStepsKernel)(l, foundInf);
      checkLaunch("optimizerStep: steps");
      l.count = 0;
    }
  }
}

template <typename T>
void optimizerStepFor(const ops::OptimizerStepArgs& a, cudaStream_t s) {
  switch (a.kind) {
    case OptimizerKind::Sgd: return optimizerStep<OptimizerKind::Sgd, T>(a, s);
    case OptimizerKind::Adam: return optimizerStep<OptimizerKind::Adam, T>(a, s);
    case OptimizerKind::Adadelta: return optimizerStep<OptimizerKind::Adadelta, T>(a, s);
    case OptimizerKind::Lamb: return optimizerStep<OptimizerKind::Lamb, T>(a, s);
    case OptimizerKind::Lars: return optimizerStep<OptimizerKind::Lars, T>(a, s);
    default: return;
  }
}

// GradScaler's unscale: g *= 1 / scale; foundInf = 1 when any element was inf or NaN.
template <typename T>
__global__ void __launch_bounds__(kThreads) unscaleKernel(TensorList t, const float* scale, float* foundInf) {
  const int slot = t.blockTensor[blockIdx.x];
  const uint64_t begin = uint64_t(t.blockChunk[blockIdx.x]) * kChunk;
  const uint64_t end = begin + kChunk < t.n[slot] ? begin + kChunk : t.n[slot];
  T* g = static_cast<T*>(t.w[slot]);
  const float inv = 1.f / *scale;
  bool bad = false;
  for (uint64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float v = toFloat(g[i]);
    bad |= !(v - v == 0);  // inf - inf and NaN - NaN are NaN
    g[i] = fromFloat<T>(v * inv);
  }
  if (bad) *foundInf = 1.f;  // every writer stores the same value
}

__global__ void updateScaleKernel(float* scale, int32_t* tracker, float* foundInf, float growth, float backoff,
                                  int32_t interval) {
  optim::updateScale(*scale, *tracker, *foundInf, growth, backoff, interval);
}

// The tensors' norms (norms[2 i] of the pairs) into out, and the norm of all of them into total.
__global__ void finishNormsKernel(const float* pairs, size_t count, float* out, float* total) {
  double sum = 0;
  for (size_t i = 0; i < count; ++i) {
    out[i] = pairs[2 * i];
    sum += static_cast<double>(pairs[2 * i]) * pairs[2 * i];
  }
  if (total != nullptr) *total = static_cast<float>(sqrt(sum));
}

template <typename T>
void multiTensorNorm(const ops::MultiTensorNormArgs& a, cudaStream_t s) {
  Lists lists;
  lists.of[0] = &a.tensors;
  float* partials = static_cast<float*>(a.workspace->data());
  float* pairs = partials + 2 * ops::totalChunks(a.numels);
  const Hyper h;
  forEachTable(a.numels, lists, [&](const TensorList& t, int blocks) {
    HY_LAUNCH(blocks, kThreads, 0, s, multiTensorKernel<OptimizerKind::Sgd, Pass::Squares, T>)(
        t, h, nullptr, nullptr, nullptr, partials);
    checkLaunch("multiTensorNorm");
  });
  reduceNorms(a.numels, nullptr, partials, pairs, s);
  HY_LAUNCH(1, 1, 0, s, finishNormsKernel)(pairs, a.numels.size(), static_cast<float*>(a.norms->data()),
                                          a.total ? static_cast<float*>(a.total->data()) : nullptr);
  checkLaunch("multiTensorNorm: totals");
}

}  // namespace

HY_REGISTER_OP(ops::OptimizerStepArgs, Cuda, "multiTensor", [](const ops::OptimizerStepArgs& a, StreamId stream) {
  withFloatType(a.dtype, [&](auto tag) { optimizerStepFor<typename decltype(tag)::type>(a, asStream(stream)); });
});

HY_REGISTER_OP(ops::AmpUnscaleArgs, Cuda, "multiTensor", [](const ops::AmpUnscaleArgs& a, StreamId stream) {
  Lists lists;
  lists.of[0] = &a.grads;
  const float* scale = static_cast<const float*>(a.scale->data());
  float* foundInf = static_cast<float*>(a.foundInf->data());
  withFloatType(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    forEachTable(a.numels, lists, [&](const TensorList& t, int blocks) {
      HY_LAUNCH(blocks, kThreads, 0, asStream(stream), unscaleKernel<T>)(t, scale, foundInf);
      checkLaunch("ampUnscale");
    });
  });
});

HY_REGISTER_OP(ops::AmpUpdateScaleArgs, Cuda, "scalar", [](const ops::AmpUpdateScaleArgs& a, StreamId stream) {
  HY_LAUNCH(1, 1, 0, asStream(stream), updateScaleKernel)(
      static_cast<float*>(a.scale->data()), static_cast<int32_t*>(a.growthTracker->data()),
      static_cast<float*>(a.foundInf->data()), static_cast<float>(a.growthFactor), static_cast<float>(a.backoffFactor),
      static_cast<int32_t>(a.growthInterval));
  checkLaunch("ampUpdateScale");
});

HY_REGISTER_OP(ops::MultiTensorNormArgs, Cuda, "multiTensor", [](const ops::MultiTensorNormArgs& a, StreamId stream) {
  withFloatType(a.dtype, [&](auto tag) { multiTensorNorm<typename decltype(tag)::type>(a, asStream(stream)); });
}, nullptr, ops::ImplTraits<ops::MultiTensorNormArgs>{&ops::multiTensorNormWorkspace, true});

}  // namespace hy::cuda
