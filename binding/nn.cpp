// Neural-network binding functions. Argument checks only; the math is in cpu/ and cuda/.
//
// dtype: 0 float32, 1 float16 (element data; fp16 storage, fp32 math). Targets and pooling
// indices are int32 storages; losses, batch-norm parameters and statistics are float32 whatever
// dtype is. All storages of one call must be on one device. `?` marks an argument that may be
// null. Nothing is returned; each call enqueues its work and returns.
//
//   logSoftmax(x, out, dtype, rows, cols)                        row-wise over the last dim
//   logSoftmaxBackward(gradOut, out, gradIn, dtype, rows, cols)  gradIn = gradOut - exp(out) * rowsum(gradOut)
//   nllLoss(logp, target, loss, dtype, rows, cols, reduction)
//       reduction 0 none (loss: rows floats), 1 mean, 2 sum (loss: 1 float)
//   nllLossBackward(target, gradIn, dtype, rows, cols, reduction, gradScale)
//   crossEntropy(logits, target, loss, gradLogits?, dtype, rows, cols, reduction)
//       fused: also writes d(loss)/d(logits) for an upstream gradient of 1 when gradLogits is given
//   crossEntropyBackward(logits, target, gradLogits, dtype, rows, cols, reduction, gradScale)
//       gradScale (both backwards): the upstream gradient, a number, or a float32 Storage holding
//       it (rows values for reduction none, one value otherwise) so it need not be read back.
//   maxPool2d(x, out, indices, dtype, N, C, H, W, kH, kW, sH, sW, pH, pW, outH, outW)
//       NCHW, floor mode: outH = (H + 2pH - kH) / sH + 1; pH <= kH / 2. indices: int32, the flat
//       position h * W + w of each window's maximum in its H x W plane.
//   maxPool2dBackward(gradOut, indices, gradIn, dtype, N, C, H, W, kH, kW, sH, sW, pH, pW, outH, outW)
//       the forward's geometry again: the backward gathers, for each input element, the windows
//       that cover it, so gradIn is written once everywhere (deterministic, no atomics, no zeroing).
//   batchNormForward(x, weight?, bias?, runningMean, runningVar, out, saveMean, saveInvStd,
//                    dtype, N, C, HW, training, momentum, eps)
//       x: (N, C, HW); 1-D batch norm is HW = 1. Training normalises with the batch's biased
//       variance and updates running = (1 - momentum) * running + momentum * batch (unbiased
//       variance), as PyTorch; eval uses the running statistics. Both save the mean and 1/sqrt(var + eps) used.
//   batchNormBackward(gradOut, x, weight?, saveMean, saveInvStd, gradIn, gradWeight?, gradBias?,
//                     dtype, N, C, HW)                            training-mode gradient
//   dropout(x, out, mask, dtype, n, p, seed, offset)
//       mask: n uint8 (1 kept, 0 dropped), kept where philoxUniform(seed, offset, i) >= p; kept
//       values scaled by 1 / (1 - p). Consumes ceil(n / 4) Philox counters from offset.
//   dropoutBackward(gradOut, mask, gradIn, dtype, n, p)
//
// Invalid targets (outside [0, cols)) raise a RangeError naming the op, target, row and cols. On
// the CPU it is thrown by the call itself, before anything is written. A CUDA kernel cannot throw
// and the targets are on the device, so the kernel records the error (and writes NaN for the rows
// involved) and the next synchronising read of any storage — read, readAsync, synchronize —
// throws it; nothing is ever read out of bounds.
#include <napi.h>

#include <cmath>
#include <string>

#include "../core/dispatch.h"
#include "../core/nn.h"
#include "args.h"
#include "errors.h"
#include "registry.h"
#include "storage.h"

namespace hy::binding {

namespace {

// A Storage, or null for null / undefined.
AllocationPtr optionalStorage(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const Napi::Value v = arg(info, i);
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return Storage::fromArg(info, i, op);
}

uint64_t checkedProduct(std::initializer_list<uint64_t> factors, const char* op, const char* what) {
  uint64_t n = 1;
  for (uint64_t f : factors) {
    if (f != 0 && n > (uint64_t(1) << 52) / f) throwRange(std::string(op) + ": " + what + " is too large");
    n *= f;
  }
  return n;
}

void sameDevice(const char* op, std::initializer_list<const Allocation*> all) {
  const Allocation* first = nullptr;
  for (const Allocation* a : all) {
    if (a == nullptr) continue;
    if (first == nullptr) {
      first = a;
    } else {
      requireSameDevice(op, *first, *a);
    }
  }
}

nn::Reduction getReduction(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const uint64_t r = getSize(info, i, op, "reduction");
  if (r > 2) throwRange(std::string(op) + ": reduction must be 0 (none), 1 (mean) or 2 (sum), got " + std::to_string(r));
  return static_cast<nn::Reduction>(r);
}

size_t lossElements(nn::Reduction reduction, uint64_t rows) {
  return reduction == nn::Reduction::None ? static_cast<size_t>(rows) : 1;
}

// gradScale: a number, or a float32 Storage of upstream gradients (rows values for none, else 1).
nn::LossGrad getLossGrad(const Napi::CallbackInfo& info, size_t i, const char* op, nn::Reduction reduction,
                         uint64_t rows, AllocationPtr& holder) {
  nn::LossGrad grad;
  const Napi::Value v = arg(info, i);
  if (v.IsNumber()) {
    grad.gradScale = getNumber(info, i, op, "gradScale");
    return grad;
  }
  if (!v.IsObject()) {
    throwType(std::string(op) + ": gradScale must be a number or a float32 Storage, got " + describe(v));
  }
  holder = Storage::fromArg(info, i, op);
  checkedBytes(lossElements(reduction, rows), DType::Float32, *holder, op);
  grad.gradOut = holder.get();
  return grad;
}

Napi::Value logSoftmaxFn(const Napi::CallbackInfo& info) {
  const char* op = "logSoftmax";
  AllocationPtr x = Storage::fromArg(info, 0, op), out = Storage::fromArg(info, 1, op);
  const DType dtype = getFloatDType(info, 2, op);
  const uint64_t rows = getSize(info, 3, op, "rows"), cols = getSize(info, 4, op, "cols");
  const uint64_t n = checkedProduct({rows, cols}, op, "rows * cols");
  checkedBytes(n, dtype, *x, op);
  checkedBytes(n, dtype, *out, op);
  sameDevice(op, {x.get(), out.get()});
  nn::logSoftmax(*x, *out, dtype, rows, cols);
  return info.Env().Undefined();
}

Napi::Value logSoftmaxBackwardFn(const Napi::CallbackInfo& info) {
  const char* op = "logSoftmaxBackward";
  AllocationPtr gradOut = Storage::fromArg(info, 0, op), out = Storage::fromArg(info, 1, op),
                gradIn = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const uint64_t rows = getSize(info, 4, op, "rows"), cols = getSize(info, 5, op, "cols");
  const uint64_t n = checkedProduct({rows, cols}, op, "rows * cols");
  for (const AllocationPtr& a : {gradOut, out, gradIn}) checkedBytes(n, dtype, *a, op);
  sameDevice(op, {gradOut.get(), out.get(), gradIn.get()});
  nn::logSoftmaxBackward(*gradOut, *out, *gradIn, dtype, rows, cols);
  return info.Env().Undefined();
}

Napi::Value nllLossFn(const Napi::CallbackInfo& info) {
  const char* op = "nllLoss";
  AllocationPtr logp = Storage::fromArg(info, 0, op), target = Storage::fromArg(info, 1, op),
                loss = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const uint64_t rows = getSize(info, 4, op, "rows"), cols = getSize(info, 5, op, "cols");
  const nn::Reduction reduction = getReduction(info, 6, op);
  checkedBytes(checkedProduct({rows, cols}, op, "rows * cols"), dtype, *logp, op);
  checkedBytes(rows, DType::Int32, *target, op);
  checkedBytes(lossElements(reduction, rows), DType::Float32, *loss, op);
  sameDevice(op, {logp.get(), target.get(), loss.get()});
  nn::nllLoss(*logp, *target, *loss, dtype, rows, cols, reduction);
  return info.Env().Undefined();
}

Napi::Value nllLossBackwardFn(const Napi::CallbackInfo& info) {
  const char* op = "nllLossBackward";
  AllocationPtr target = Storage::fromArg(info, 0, op), gradIn = Storage::fromArg(info, 1, op);
  const DType dtype = getFloatDType(info, 2, op);
  const uint64_t rows = getSize(info, 3, op, "rows"), cols = getSize(info, 4, op, "cols");
  const nn::Reduction reduction = getReduction(info, 5, op);
  AllocationPtr gradOut;
  const nn::LossGrad grad = getLossGrad(info, 6, op, reduction, rows, gradOut);
  checkedBytes(rows, DType::Int32, *target, op);
  checkedBytes(checkedProduct({rows, cols}, op, "rows * cols"), dtype, *gradIn, op);
  sameDevice(op, {target.get(), gradIn.get(), gradOut.get()});
  nn::nllLossBackward(*target, *gradIn, dtype, rows, cols, reduction, grad);
  return info.Env().Undefined();
}

Napi::Value crossEntropyFn(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropy";
  AllocationPtr logits = Storage::fromArg(info, 0, op), target = Storage::fromArg(info, 1, op),
                loss = Storage::fromArg(info, 2, op), grad = optionalStorage(info, 3, op);
  const DType dtype = getFloatDType(info, 4, op);
  const uint64_t rows = getSize(info, 5, op, "rows"), cols = getSize(info, 6, op, "cols");
  const nn::Reduction reduction = getReduction(info, 7, op);
  const uint64_t n = checkedProduct({rows, cols}, op, "rows * cols");
  checkedBytes(n, dtype, *logits, op);
  if (grad) checkedBytes(n, dtype, *grad, op);
  checkedBytes(rows, DType::Int32, *target, op);
  checkedBytes(lossElements(reduction, rows), DType::Float32, *loss, op);
  sameDevice(op, {logits.get(), target.get(), loss.get(), grad.get()});
  nn::crossEntropy(*logits, *target, *loss, grad.get(), dtype, rows, cols, reduction);
  return info.Env().Undefined();
}

Napi::Value crossEntropyBackwardFn(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropyBackward";
  AllocationPtr logits = Storage::fromArg(info, 0, op), target = Storage::fromArg(info, 1, op),
                grad = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const uint64_t rows = getSize(info, 4, op, "rows"), cols = getSize(info, 5, op, "cols");
  const nn::Reduction reduction = getReduction(info, 6, op);
  AllocationPtr gradOut;
  const nn::LossGrad lossGrad = getLossGrad(info, 7, op, reduction, rows, gradOut);
  const uint64_t n = checkedProduct({rows, cols}, op, "rows * cols");
  checkedBytes(n, dtype, *logits, op);
  checkedBytes(n, dtype, *grad, op);
  checkedBytes(rows, DType::Int32, *target, op);
  sameDevice(op, {logits.get(), target.get(), grad.get(), gradOut.get()});
  nn::crossEntropyBackward(*logits, *target, *grad, dtype, rows, cols, reduction, lossGrad);
  return info.Env().Undefined();
}

// Reads N, C, H, W, kH, kW, sH, sW, pH, pW, outH, outW from argument `first` on and checks them.
nn::Pool2d getPool2d(const Napi::CallbackInfo& info, size_t first, const char* op) {
  const char* names[] = {"N", "C", "H", "W", "kH", "kW", "sH", "sW", "pH", "pW", "outH", "outW"};
  uint64_t v[12];
  for (size_t k = 0; k < 12; ++k) v[k] = getSize(info, first + k, op, names[k]);
  nn::Pool2d p{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
  const std::string o(op);
  if (p.kH == 0 || p.kW == 0) throwRange(o + ": kernel size must be positive, got " + std::to_string(p.kH) + "x" + std::to_string(p.kW));
  if (p.sH == 0 || p.sW == 0) throwRange(o + ": stride must be positive, got " + std::to_string(p.sH) + "x" + std::to_string(p.sW));
  // At most half the kernel, as PyTorch requires: every window then holds at least one input.
  if (p.pH > p.kH / 2 || p.pW > p.kW / 2) {
    throwRange(o + ": padding " + std::to_string(p.pH) + "x" + std::to_string(p.pW) + " exceeds half the kernel " +
               std::to_string(p.kH) + "x" + std::to_string(p.kW));
  }
  if (p.H > (uint64_t(1) << 30) || p.W > (uint64_t(1) << 30) || p.H * p.W > 2147483647ull) {
    throwRange(o + ": an H x W plane of " + std::to_string(p.H) + "x" + std::to_string(p.W) +
               " does not fit int32 indices");
  }
  if (p.H + 2 * p.pH < p.kH || p.W + 2 * p.pW < p.kW) {
    throwRange(o + ": kernel " + std::to_string(p.kH) + "x" + std::to_string(p.kW) + " is larger than the padded input " +
               std::to_string(p.H + 2 * p.pH) + "x" + std::to_string(p.W + 2 * p.pW));
  }
  const uint64_t wantH = (p.H + 2 * p.pH - p.kH) / p.sH + 1, wantW = (p.W + 2 * p.pW - p.kW) / p.sW + 1;
  if (p.outH != wantH || p.outW != wantW) {
    throwRange(o + ": output size " + std::to_string(p.outH) + "x" + std::to_string(p.outW) + " should be " +
               std::to_string(wantH) + "x" + std::to_string(wantW));
  }
  return p;
}

Napi::Value maxPool2dFn(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2d";
  AllocationPtr x = Storage::fromArg(info, 0, op), out = Storage::fromArg(info, 1, op),
                indices = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const nn::Pool2d p = getPool2d(info, 4, op);
  const uint64_t nIn = checkedProduct({p.N, p.C, p.H, p.W}, op, "N * C * H * W");
  const uint64_t nOut = checkedProduct({p.N, p.C, p.outH, p.outW}, op, "N * C * outH * outW");
  checkedBytes(nIn, dtype, *x, op);
  checkedBytes(nOut, dtype, *out, op);
  checkedBytes(nOut, DType::Int32, *indices, op);
  sameDevice(op, {x.get(), out.get(), indices.get()});
  nn::maxPool2d(*x, *out, *indices, dtype, p);
  return info.Env().Undefined();
}

Napi::Value maxPool2dBackwardFn(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2dBackward";
  AllocationPtr gradOut = Storage::fromArg(info, 0, op), indices = Storage::fromArg(info, 1, op),
                gradIn = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const nn::Pool2d p = getPool2d(info, 4, op);
  const uint64_t nIn = checkedProduct({p.N, p.C, p.H, p.W}, op, "N * C * H * W");
  const uint64_t nOut = checkedProduct({p.N, p.C, p.outH, p.outW}, op, "N * C * outH * outW");
  checkedBytes(nOut, dtype, *gradOut, op);
  checkedBytes(nOut, DType::Int32, *indices, op);
  checkedBytes(nIn, dtype, *gradIn, op);
  sameDevice(op, {gradOut.get(), indices.get(), gradIn.get()});
  nn::maxPool2dBackward(*gradOut, *indices, *gradIn, dtype, p);
  return info.Env().Undefined();
}

// N, C, HW from argument `first` on; `x` must hold N * C * HW elements of dtype.
nn::BatchNormShape getBatchNormShape(const Napi::CallbackInfo& info, size_t first, const char* op) {
  nn::BatchNormShape s{getSize(info, first, op, "N"), getSize(info, first + 1, op, "C"),
                       getSize(info, first + 2, op, "HW")};
  checkedProduct({s.N, s.C, s.HW}, op, "N * C * HW");
  return s;
}

void checkChannels(std::initializer_list<const Allocation*> all, size_t C, const char* op) {
  for (const Allocation* a : all) {
    if (a != nullptr) checkedBytes(C, DType::Float32, *a, op);
  }
}

Napi::Value batchNormForwardFn(const Napi::CallbackInfo& info) {
  const char* op = "batchNormForward";
  AllocationPtr x = Storage::fromArg(info, 0, op), weight = optionalStorage(info, 1, op),
                bias = optionalStorage(info, 2, op), runningMean = Storage::fromArg(info, 3, op),
                runningVar = Storage::fromArg(info, 4, op), out = Storage::fromArg(info, 5, op),
                saveMean = Storage::fromArg(info, 6, op), saveInvStd = Storage::fromArg(info, 7, op);
  const DType dtype = getFloatDType(info, 8, op);
  const nn::BatchNormShape s = getBatchNormShape(info, 9, op);
  const bool training = getBool(info, 12, op, "training");
  const double momentum = getNumber(info, 13, op, "momentum"), eps = getNumber(info, 14, op, "eps");
  if (!std::isfinite(momentum)) throwRange(std::string(op) + ": momentum must be finite, got " + describe(arg(info, 13)));
  if (!std::isfinite(eps) || eps < 0) {
    throwRange(std::string(op) + ": eps must be finite and non-negative, got " + describe(arg(info, 14)));
  }
  if (training && s.N * s.HW <= 1) {
    throwRange(std::string(op) + ": training needs more than one value per channel, got N * HW = " +
               std::to_string(s.N * s.HW));
  }
  const uint64_t n = s.N * s.C * s.HW;
  checkedBytes(n, dtype, *x, op);
  checkedBytes(n, dtype, *out, op);
  checkChannels({weight.get(), bias.get(), runningMean.get(), runningVar.get(), saveMean.get(), saveInvStd.get()}, s.C, op);
  sameDevice(op, {x.get(), weight.get(), bias.get(), runningMean.get(), runningVar.get(), out.get(), saveMean.get(),
                  saveInvStd.get()});
  nn::batchNormForward(*x, weight.get(), bias.get(), *runningMean, *runningVar, *out, *saveMean, *saveInvStd, dtype, s,
                       training, momentum, eps);
  return info.Env().Undefined();
}

Napi::Value batchNormBackwardFn(const Napi::CallbackInfo& info) {
  const char* op = "batchNormBackward";
  AllocationPtr gradOut = Storage::fromArg(info, 0, op), x = Storage::fromArg(info, 1, op),
                weight = optionalStorage(info, 2, op), saveMean = Storage::fromArg(info, 3, op),
                saveInvStd = Storage::fromArg(info, 4, op), gradIn = Storage::fromArg(info, 5, op),
                gradWeight = optionalStorage(info, 6, op), gradBias = optionalStorage(info, 7, op);
  const DType dtype = getFloatDType(info, 8, op);
  const nn::BatchNormShape s = getBatchNormShape(info, 9, op);
  const uint64_t n = s.N * s.C * s.HW;
  for (const AllocationPtr& a : {gradOut, x, gradIn}) checkedBytes(n, dtype, *a, op);
  checkChannels({weight.get(), saveMean.get(), saveInvStd.get(), gradWeight.get(), gradBias.get()}, s.C, op);
  sameDevice(op, {gradOut.get(), x.get(), weight.get(), saveMean.get(), saveInvStd.get(), gradIn.get(),
                  gradWeight.get(), gradBias.get()});
  nn::batchNormBackward(*gradOut, *x, weight.get(), *saveMean, *saveInvStd, *gradIn, gradWeight.get(), gradBias.get(),
                        dtype, s);
  return info.Env().Undefined();
}

double getProbability(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const double p = getNumber(info, i, op, "p");
  if (!(p >= 0 && p <= 1)) throwRange(std::string(op) + ": p must be in [0, 1], got " + describe(arg(info, i)));
  return p;
}

void checkMask(uint64_t n, const Allocation& mask, const char* op) {
  if (n > mask.bytes) {
    throwRange(std::string(op) + ": a mask of " + std::to_string(n) + " uint8 needs " + std::to_string(n) +
               " bytes but the storage holds " + std::to_string(mask.bytes));
  }
}

Napi::Value dropoutFn(const Napi::CallbackInfo& info) {
  const char* op = "dropout";
  AllocationPtr x = Storage::fromArg(info, 0, op), out = Storage::fromArg(info, 1, op),
                mask = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const uint64_t n = getSize(info, 4, op, "element count");
  const double p = getProbability(info, 5, op);
  const uint64_t seed = getSize(info, 6, op, "seed"), offset = getSize(info, 7, op, "offset");
  checkedBytes(n, dtype, *x, op);
  checkedBytes(n, dtype, *out, op);
  checkMask(n, *mask, op);
  sameDevice(op, {x.get(), out.get(), mask.get()});
  nn::dropout(*x, *out, *mask, dtype, n, p, seed, offset);
  return info.Env().Undefined();
}

Napi::Value dropoutBackwardFn(const Napi::CallbackInfo& info) {
  const char* op = "dropoutBackward";
  AllocationPtr gradOut = Storage::fromArg(info, 0, op), mask = Storage::fromArg(info, 1, op),
                gradIn = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const uint64_t n = getSize(info, 4, op, "element count");
  const double p = getProbability(info, 5, op);
  checkedBytes(n, dtype, *gradOut, op);
  checkedBytes(n, dtype, *gradIn, op);
  checkMask(n, *mask, op);
  sameDevice(op, {gradOut.get(), mask.get(), gradIn.get()});
  nn::dropoutBackward(*gradOut, *mask, *gradIn, dtype, n, p);
  return info.Env().Undefined();
}

}  // namespace

void registerNn(Napi::Env env, Napi::Object exports) {
  exports.Set("logSoftmax", Napi::Function::New<wrap<logSoftmaxFn>>(env, "logSoftmax"));
  exports.Set("logSoftmaxBackward", Napi::Function::New<wrap<logSoftmaxBackwardFn>>(env, "logSoftmaxBackward"));
  exports.Set("nllLoss", Napi::Function::New<wrap<nllLossFn>>(env, "nllLoss"));
  exports.Set("nllLossBackward", Napi::Function::New<wrap<nllLossBackwardFn>>(env, "nllLossBackward"));
  exports.Set("crossEntropy", Napi::Function::New<wrap<crossEntropyFn>>(env, "crossEntropy"));
  exports.Set("crossEntropyBackward", Napi::Function::New<wrap<crossEntropyBackwardFn>>(env, "crossEntropyBackward"));
  exports.Set("maxPool2d", Napi::Function::New<wrap<maxPool2dFn>>(env, "maxPool2d"));
  exports.Set("maxPool2dBackward", Napi::Function::New<wrap<maxPool2dBackwardFn>>(env, "maxPool2dBackward"));
  exports.Set("batchNormForward", Napi::Function::New<wrap<batchNormForwardFn>>(env, "batchNormForward"));
  exports.Set("batchNormBackward", Napi::Function::New<wrap<batchNormBackwardFn>>(env, "batchNormBackward"));
  exports.Set("dropout", Napi::Function::New<wrap<dropoutFn>>(env, "dropout"));
  exports.Set("dropoutBackward", Napi::Function::New<wrap<dropoutBackwardFn>>(env, "dropoutBackward"));
}

}  // namespace hy::binding
