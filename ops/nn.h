// Op declarations: softmax, losses, pooling, batch norm and dropout. Element data is float32 or
// float16 (`dtype`); targets and pooling indices are int32; losses, batch-norm parameters and
// statistics are float32 whatever dtype is; dropout masks hold one uint8 per element.
// Implementations: cpu/nn.cpp and cuda/{softmax,pool,norm,dropout}.cu.
//
// An invalid target (outside [0, cols)) is a RangeError naming the op, the target, its row and
// cols. Kernels cannot report it at the call (the targets are on the device, or the CPU work runs
// later on the CPU queue), so the next read or synchronize raises it; nothing is read out of bounds.
#pragma once
#include <cmath>

#include "../core/nn.h"
#include "../core/op_registry.h"

namespace hy::ops {

struct LogSoftmaxArgs {
  static constexpr const char* kName = "logSoftmax";
  StoragePtr x, out;
  DType dtype = DType::Float32;
  uint64_t rows = 0, cols = 0;
  void fields(Fields& f) {
    f.storage("x", x);
    f.storage("out", out);
    f.floatDtype("dtype", dtype);
    f.size("rows", rows);
    f.size("cols", cols);
  }
  bool check(const Check& c) const {
    const uint64_t n = c.product({rows, cols}, "rows * cols");
    c.holds("x", x, n, dtype);
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

// gradIn = gradOut - exp(out) * rowsum(gradOut)
struct LogSoftmaxBackwardArgs {
  static constexpr const char* kName = "logSoftmaxBackward";
  StoragePtr gradOut, out, gradIn;
  DType dtype = DType::Float32;
  uint64_t rows = 0, cols = 0;
  void fields(Fields& f) {
    f.storage("gradOut", gradOut);
    f.storage("out", out);
    f.storage("gradIn", gradIn);
    f.floatDtype("dtype", dtype);
    f.size("rows", rows);
    f.size("cols", cols);
  }
  bool check(const Check& c) const {
    const uint64_t n = c.product({rows, cols}, "rows * cols");
    c.holds("gradOut", gradOut, n, dtype);
    c.holds("out", out, n, dtype);
    c.holds("gradIn", gradIn, n, dtype);
    return n > 0;
  }
};

// softmax(x) row-wise over the last dim: exp(x - max) / sum(exp(x - max)).
struct SoftmaxArgs : LogSoftmaxArgs {
  static constexpr const char* kName = "softmax";
};

// gradIn = out * (gradOut - rowsum(gradOut * out))
struct SoftmaxBackwardArgs : LogSoftmaxBackwardArgs {
  static constexpr const char* kName = "softmaxBackward";
};

inline uint64_t lossElements(nn::Reduction r, uint64_t rows) { return r == nn::Reduction::None ? rows : 1; }

// The upstream gradient of a loss: gradScale times, when gradOut is given, gradOut[row] (reduction
// none) or gradOut[0] (mean, sum); mean divides by rows as well.
struct LossGrad {
  double gradScale = 1;
  StoragePtr gradOut;  // float32, optional
  void fields(Fields& f) {
    f.number("gradScale", gradScale);
    f.optionalStorage("gradOut", gradOut);
  }
  void check(const Check& c, nn::Reduction r, uint64_t rows) const {
    if (gradOut) c.holds("gradOut", gradOut, lossElements(r, rows), DType::Float32);
  }
  // The per-row factor: gradScale, divided by rows for mean.
  float scale(nn::Reduction r, uint64_t rows) const {
    return static_cast<float>(r == nn::Reduction::Mean ? gradScale / static_cast<double>(rows) : gradScale);
  }
};

// loss: rows floats for reduction none, else one.
struct NllLossArgs {
  static constexpr const char* kName = "nllLoss";
  StoragePtr logp, target, loss;
  DType dtype = DType::Float32;
  uint64_t rows = 0, cols = 0;
  nn::Reduction reduction = nn::Reduction::Mean;
  void fields(Fields& f) {
    f.storage("logp", logp);
    f.storage("target", target);
    f.storage("loss", loss);
    f.floatDtype("dtype", dtype);
    f.size("rows", rows);
    f.size("cols", cols);
    f.choice("reduction", reduction);
  }
  bool check(const Check& c) const {
    c.holds("logp", logp, c.product({rows, cols}, "rows * cols"), dtype);
    c.holds("target", target, rows, DType::Int32);
    c.holds("loss", loss, lossElements(reduction, rows), DType::Float32);
    return true;  // an empty mean is NaN and an empty sum 0: the kernel writes them
  }
};

struct NllLossBackwardArgs {
  static constexpr const char* kName = "nllLossBackward";
  StoragePtr target, gradIn;
  DType dtype = DType::Float32;
  uint64_t rows = 0, cols = 0;
  nn::Reduction reduction = nn::Reduction::Mean;
  LossGrad grad;
  void fields(Fields& f) {
    f.storage("target", target);
    f.storage("gradIn", gradIn);
    f.floatDtype("dtype", dtype);
    f.size("rows", rows);
    f.size("cols", cols);
    f.choice("reduction", reduction);
    grad.fields(f);
  }
  bool check(const Check& c) const {
    c.holds("target", target, rows, DType::Int32);
    c.holds("gradIn", gradIn, c.product({rows, cols}, "rows * cols"), dtype);
    grad.check(c, reduction, rows);
    return rows > 0;
  }
};

// Fused: also writes d(loss)/d(logits) for an upstream gradient of 1 when gradLogits is given.
struct CrossEntropyArgs {
  static constexpr const char* kName = "crossEntropy";
  StoragePtr logits, target, loss, gradLogits;
  DType dtype = DType::Float32;
  uint64_t rows = 0, cols = 0;
  nn::Reduction reduction = nn::Reduction::Mean;
  void fields(Fields& f) {
    f.storage("logits", logits);
    f.storage("target", target);
    f.storage("loss", loss);
    f.optionalStorage("gradLogits", gradLogits);
    f.floatDtype("dtype", dtype);
    f.size("rows", rows);
    f.size("cols", cols);
    f.choice("reduction", reduction);
  }
  bool check(const Check& c) const {
    const uint64_t n = c.product({rows, cols}, "rows * cols");
    c.holds("logits", logits, n, dtype);
    if (gradLogits) c.holds("gradLogits", gradLogits, n, dtype);
    c.holds("target", target, rows, DType::Int32);
    c.holds("loss", loss, lossElements(reduction, rows), DType::Float32);
    return true;
  }
};

struct CrossEntropyBackwardArgs {
  static constexpr const char* kName = "crossEntropyBackward";
  StoragePtr logits, target, gradLogits;
  DType dtype = DType::Float32;
  uint64_t rows = 0, cols = 0;
  nn::Reduction reduction = nn::Reduction::Mean;
  LossGrad grad;
  void fields(Fields& f) {
    f.storage("logits", logits);
    f.storage("target", target);
    f.storage("gradLogits", gradLogits);
    f.floatDtype("dtype", dtype);
    f.size("rows", rows);
    f.size("cols", cols);
    f.choice("reduction", reduction);
    grad.fields(f);
  }
  bool check(const Check& c) const {
    const uint64_t n = c.product({rows, cols}, "rows * cols");
    c.holds("logits", logits, n, dtype);
    c.holds("gradLogits", gradLogits, n, dtype);
    c.holds("target", target, rows, DType::Int32);
    grad.check(c, reduction, rows);
    return rows > 0;
  }
};

// NCHW max pooling, floor mode: outH = (H + 2pH - kH) / sH + 1 with pH <= kH / 2. indices: int32,
// the flat position h * W + w of each window's maximum in its H x W plane. The backward gathers,
// for each input element, the windows that cover it: gradIn is written once everywhere
// (deterministic, no atomics, no zeroing).
struct PoolGeometry {
  nn::Pool2d p{};
  void fields(Fields& f) {
    f.size("N", p.N);
    f.size("C", p.C);
    f.size("H", p.H);
    f.size("W", p.W);
    f.size("kH", p.kH);
    f.size("kW", p.kW);
    f.size("sH", p.sH);
    f.size("sW", p.sW);
    f.size("pH", p.pH);
    f.size("pW", p.pW);
    f.size("outH", p.outH);
    f.size("outW", p.outW);
  }
  static std::string pair(uint64_t a, uint64_t b) { return std::to_string(a) + "x" + std::to_string(b); }
  void check(const Check& c, uint64_t& nIn, uint64_t& nOut) const {
    if (p.kH == 0 || p.kW == 0) c.fail("kernel size", "positive", pair(p.kH, p.kW));
    if (p.sH == 0 || p.sW == 0) c.fail("stride", "positive", pair(p.sH, p.sW));
    // At most half the kernel, as PyTorch requires: every window then holds at least one input.
    if (p.pH > p.kH / 2 || p.pW > p.kW / 2) c.fail("padding", "at most half the kernel " + pair(p.kH, p.kW), pair(p.pH, p.pW));
    if (p.H > (uint64_t(1) << 30) || p.W > (uint64_t(1) << 30) || p.H * p.W > 2147483647ull) {
      c.fail("the H x W plane", "small enough for int32 indices", pair(p.H, p.W));
    }
    if (p.H + 2 * p.pH < p.kH || p.W + 2 * p.pW < p.kW) {
      c.fail("kernel size", "no larger than the padded input " + pair(p.H + 2 * p.pH, p.W + 2 * p.pW), pair(p.kH, p.kW));
    }
    const uint64_t wantH = (p.H + 2 * p.pH - p.kH) / p.sH + 1, wantW = (p.W + 2 * p.pW - p.kW) / p.sW + 1;
    if (p.outH != wantH || p.outW != wantW) c.fail("output size", pair(wantH, wantW), pair(p.outH, p.outW));
    nIn = c.product({p.N, p.C, p.H, p.W}, "N * C * H * W");
    nOut = c.product({p.N, p.C, p.outH, p.outW}, "N * C * outH * outW");
  }
};

struct MaxPool2dArgs {
  static constexpr const char* kName = "maxPool2d";
  StoragePtr x, out, indices;
  DType dtype = DType::Float32;
  PoolGeometry g;
  void fields(Fields& f) {
    f.storage("x", x);
    f.storage("out", out);
    f.storage("indices", indices);
    f.floatDtype("dtype", dtype);
    g.fields(f);
  }
  bool check(const Check& c) const {
    uint64_t nIn = 0, nOut = 0;
    g.check(c, nIn, nOut);
    c.holds("x", x, nIn, dtype);
    c.holds("out", out, nOut, dtype);
    c.holds("indices", indices, nOut, DType::Int32);
    return nOut > 0;
  }
};

struct MaxPool2dBackwardArgs {
  static constexpr const char* kName = "maxPool2dBackward";
  StoragePtr gradOut, indices, gradIn;
  DType dtype = DType::Float32;
  PoolGeometry g;
  void fields(Fields& f) {
    f.storage("gradOut", gradOut);
    f.storage("indices", indices);
    f.storage("gradIn", gradIn);
    f.floatDtype("dtype", dtype);
    g.fields(f);
  }
  bool check(const Check& c) const {
    uint64_t nIn = 0, nOut = 0;
    g.check(c, nIn, nOut);
    c.holds("gradOut", gradOut, nOut, dtype);
    c.holds("indices", indices, nOut, DType::Int32);
    c.holds("gradIn", gradIn, nIn, dtype);
    return nIn > 0;
  }
};

// x: (N, C, HW); 1-D batch norm is HW = 1. Training normalises with the batch's biased variance
// and updates running = (1 - momentum) * running + momentum * batch (unbiased variance), as
// PyTorch; eval uses the running statistics. Both save the mean and 1/sqrt(var + eps) they used.
struct BatchNormForwardArgs {
  static constexpr const char* kName = "batchNormForward";
  StoragePtr x, weight, bias, runningMean, runningVar, out, saveMean, saveInvStd;
  DType dtype = DType::Float32;
  nn::BatchNormShape s{};
  bool training = false;
  double momentum = 0.1, eps = 1e-5;
  void fields(Fields& f) {
    f.storage("x", x);
    f.optionalStorage("weight", weight);
    f.optionalStorage("bias", bias);
    f.storage("runningMean", runningMean);
    f.storage("runningVar", runningVar);
    f.storage("out", out);
    f.storage("saveMean", saveMean);
    f.storage("saveInvStd", saveInvStd);
    f.floatDtype("dtype", dtype);
    f.size("N", s.N);
    f.size("C", s.C);
    f.size("HW", s.HW);
    f.boolean("training", training);
    f.number("momentum", momentum);
    f.number("eps", eps);
  }
  bool check(const Check& c) const {
    if (!std::isfinite(momentum)) c.fail("momentum", "finite", formatNumber(momentum));
    if (!std::isfinite(eps) || eps < 0) c.fail("eps", "finite and non-negative", formatNumber(eps));
    const uint64_t n = c.product({s.N, s.C, s.HW}, "N * C * HW");
    if (training && s.N * s.HW <= 1) {
      c.fail("N * HW", "more than one value per channel in training", std::to_string(s.N * s.HW));
    }
    c.holds("x", x, n, dtype);
    c.holds("out", out, n, dtype);
    for (const auto& [name, a] : {std::pair<const char*, const StoragePtr*>{"weight", &weight}, {"bias", &bias},
                                  {"runningMean", &runningMean}, {"runningVar", &runningVar},
                                  {"saveMean", &saveMean}, {"saveInvStd", &saveInvStd}}) {
      if (*a) c.holds(name, *a, s.C, DType::Float32);
    }
    return s.C > 0;
  }
};

// The training-mode gradient.
struct BatchNormBackwardArgs {
  static constexpr const char* kName = "batchNormBackward";
  StoragePtr gradOut, x, weight, saveMean, saveInvStd, gradIn, gradWeight, gradBias;
  DType dtype = DType::Float32;
  nn::BatchNormShape s{};
  void fields(Fields& f) {
    f.storage("gradOut", gradOut);
    f.storage("x", x);
    f.optionalStorage("weight", weight);
    f.storage("saveMean", saveMean);
    f.storage("saveInvStd", saveInvStd);
    f.storage("gradIn", gradIn);
    f.optionalStorage("gradWeight", gradWeight);
    f.optionalStorage("gradBias", gradBias);
    f.floatDtype("dtype", dtype);
    f.size("N", s.N);
    f.size("C", s.C);
    f.size("HW", s.HW);
  }
  bool check(const Check& c) const {
    const uint64_t n = c.product({s.N, s.C, s.HW}, "N * C * HW");
    c.holds("gradOut", gradOut, n, dtype);
    c.holds("x", x, n, dtype);
    c.holds("gradIn", gradIn, n, dtype);
    for (const auto& [name, a] : {std::pair<const char*, const StoragePtr*>{"weight", &weight}, {"saveMean", &saveMean},
                                  {"saveInvStd", &saveInvStd}, {"gradWeight", &gradWeight}, {"gradBias", &gradBias}}) {
      if (*a) c.holds(name, *a, s.C, DType::Float32);
    }
    return s.C > 0;
  }
};

// 1/(1-p) rounded once on the host so both backends scale by the same float; p = 1 drops all.
inline float dropoutScale(double p) { return p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f; }

// mask: n uint8, kept (1) where philoxUniform(seed, offset, i) >= p; kept values scaled by
// 1 / (1 - p). Consumes ceil(n / 4) Philox counters from offset.
// counter (optional, for CUDA graphs): two uint64, {seed, base}, read when the kernel runs; the
// seed field is then ignored and the draw starts at base + offset, so each replay of a captured
// dropout draws a fresh mask from the counter range written before it (philoxCounter).
struct DropoutArgs {
  static constexpr const char* kName = "dropout";
  StoragePtr x, out, mask, counter;
  DType dtype = DType::Float32;
  uint64_t n = 0, seed = 0, offset = 0;
  double p = 0.5;
  void fields(Fields& f) {
    f.storage("x", x);
    f.storage("out", out);
    f.storage("mask", mask);
    f.floatDtype("dtype", dtype);
    f.size("n", n);
    f.number("p", p);
    f.size("seed", seed);
    f.size("offset", offset);
    f.optionalStorage("counter", counter);
  }
  bool check(const Check& c) const {
    if (!(p >= 0 && p <= 1)) c.fail("p", "in [0, 1]", formatNumber(p));
    c.holds("x", x, n, dtype);
    c.holds("out", out, n, dtype);
    c.holdsBytes("mask", mask, n);
    if (counter) c.holdsBytes("counter", counter, 2 * sizeof(uint64_t));
    return n > 0;
  }
};

// Writes {seed, base} into a dropout counter (two uint64) in stream order, without a host
// synchronisation: before each replay of a CUDA graph whose dropouts read it.
struct PhiloxCounterArgs {
  static constexpr const char* kName = "philoxCounter";
  StoragePtr counter;
  uint64_t seed = 0, base = 0;
  void fields(Fields& f) {
    f.storage("counter", counter);
    f.size("seed", seed);
    f.size("base", base);
  }
  bool check(const Check& c) const {
    c.holdsBytes("counter", counter, 2 * sizeof(uint64_t));
    return true;
  }
};

struct DropoutBackwardArgs {
  static constexpr const char* kName = "dropoutBackward";
  StoragePtr gradOut, mask, gradIn;
  DType dtype = DType::Float32;
  uint64_t n = 0;
  double p = 0.5;
  void fields(Fields& f) {
    f.storage("gradOut", gradOut);
    f.storage("mask", mask);
    f.storage("gradIn", gradIn);
    f.floatDtype("dtype", dtype);
    f.size("n", n);
    f.number("p", p);
  }
  bool check(const Check& c) const {
    if (!(p >= 0 && p <= 1)) c.fail("p", "in [0, 1]", formatNumber(p));
    c.holds("gradOut", gradOut, n, dtype);
    c.holds("gradIn", gradIn, n, dtype);
    c.holdsBytes("mask", mask, n);
    return n > 0;
  }
};

}  // namespace hy::ops
