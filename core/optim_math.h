// The optimizers' update rules, per element, written once for both backends (cpu/optim.cpp and
// cuda/optim.cu run the same functions): SGD (torch.optim.SGD), Adam and AdamW (torch.optim.Adam /
// AdamW, amsgrad too), Adadelta (torch.optim.Adadelta), LAMB (apex FusedLAMB: global gradient
// clipping, per-tensor trust ratio ||w|| / ||update||, decoupled decay, bias correction) and LARS
// (arXiv 1708.03888: trust ratio eta ||w|| / (||g|| + wd ||w||) scaling SGD's update). Parameters
// and gradients are float32 or float16 in memory, everything else is float32; the math is float32
// except the bias corrections, which are computed in double once per tensor.
#pragma once
#include <cmath>
#include <cstdint>

#include "enums.h"
#include "hd.h"

namespace hy::optim {

// Elements per chunk of a multi-tensor launch: one CUDA block or one CPU task each.
constexpr uint64_t kChunk = 32768;
HY_HD uint64_t chunksOf(uint64_t n) { return (n + kChunk - 1) / kChunk; }

// The hyperparameters of one call, shared by every tensor of its list (one parameter group).
struct Hyper {
  float lr = 0, beta1 = 0, beta2 = 0, eps = 0, weightDecay = 0, momentum = 0, dampening = 0, rho = 0;
  float trustCoefficient = 0, maxGradNorm = 0;
  bool nesterov = false, decoupled = false, amsgrad = false, biasCorrection = true, nvLamb = false;
};

// What one tensor's update needs besides its elements.
struct Coef {
  float stepSize = 0;     // multiplies the update direction (lr, lr / bc1, lr * trust ratio)
  float invBc1 = 1, invBc2 = 1, invSqrtBc2 = 1;  // 1 / (1 - beta^t) and 1 / sqrt(1 - beta2^t)
  float gradFactor = 1;   // LAMB's clip factor, LARS's trust ratio: multiplies the gradient
  bool first = false;     // the tensor's first step: a momentum buffer starts as the update
};

// The coefficients from the tensor's step count before this step (t = stepsBefore + 1).
HY_HD Coef coefFor(OptimizerKind kind, const Hyper& h, int32_t stepsBefore) {
  Coef c;
  c.stepSize = h.lr;
  c.first = stepsBefore == 0;
  const bool corrected = kind == OptimizerKind::Adam || (kind == OptimizerKind::Lamb && h.biasCorrection);
  if (corrected) {
    const double t = static_cast<double>(stepsBefore) + 1;
    const double bc1 = 1 - pow(static_cast<double>(h.beta1), t), bc2 = 1 - pow(static_cast<double>(h.beta2), t);
    c.invBc1 = static_cast<float>(1 / bc1);
    c.invBc2 = static_cast<float>(1 / bc2);
    c.invSqrtBc2 = static_cast<float>(1 / sqrt(bc2));
    if (kind == OptimizerKind::Adam) c.stepSize = static_cast<float>(h.lr / bc1);
  }
  return c;
}

// LAMB: the factor that scales every gradient so that their global norm is at most maxGradNorm.
HY_HD float lambClip(const Hyper& h, float gradNorm) {
  return h.maxGradNorm > 0 && gradNorm > h.maxGradNorm ? h.maxGradNorm / gradNorm : 1.f;
}
// LAMB: the per-tensor trust ratio ||w|| / ||u||, or 1 where either norm is 0 (or no decay, unless nvLamb).
HY_HD float lambRatio(const Hyper& h, float wNorm, float uNorm) {
  return (h.nvLamb || h.weightDecay != 0) && wNorm > 0 && uNorm > 0 ? wNorm / uNorm : 1.f;
}
// LARS: the local learning-rate factor eta ||w|| / (||g|| + wd ||w|| + eps), or 1 where a norm is 0.
HY_HD float larsTrust(const Hyper& h, float wNorm, float gNorm) {
  return wNorm > 0 && gNorm > 0 ? h.trustCoefficient * wNorm / (gNorm + h.weightDecay * wNorm + h.eps) : 1.f;
}

// SGD and LARS: d = factor * (g + wd w); momentum and Nesterov as torch.optim.SGD; w -= stepSize d.
HY_HD void sgdElement(const Hyper& h, const Coef& c, float& w, float g, float& buf) {
  float d = (g + h.weightDecay * w) * c.gradFactor;
  if (h.momentum != 0) {
    const float b = c.first ? d : h.momentum * buf + (1 - h.dampening) * d;
    buf = b;
    d = h.nesterov ? d + h.momentum * b : b;
  }
  w -= c.stepSize * d;
}

// Adam (decoupled = false) and AdamW (decoupled = true), amsgrad keeping the running max of v.
HY_HD void adamElement(const Hyper& h, const Coef& c, float& w, float g, float& m, float& v, float& vMax) {
  if (h.decoupled) {
    w *= 1 - h.lr * h.weightDecay;
  } else {
    g += h.weightDecay * w;
  }
  m = h.beta1 * m + (1 - h.beta1) * g;
  v = h.beta2 * v + (1 - h.beta2) * g * g;
  float second = v;
  if (h.amsgrad) {
    vMax = fmaxf(vMax, v);
    second = vMax;
  }
  w -= c.stepSize * m / (sqrtf(second) * c.invSqrtBc2 + h.eps);
}

HY_HD void adadeltaElement(const Hyper& h, float& w, float g, float& squareAvg, float& accDelta) {
  g += h.weightDecay * w;
  squareAvg = h.rho * squareAvg + (1 - h.rho) * g * g;
  const float delta = sqrtf(accDelta + h.eps) / sqrtf(squareAvg + h.eps) * g;
  accDelta = h.rho * accDelta + (1 - h.rho) * delta * delta;
  w -= h.lr * delta;
}

// LAMB's update direction from the (already updated) moments: m^ / (sqrt(v^) + eps) + wd w.
HY_HD float lambDirection(const Hyper& h, const Coef& c, float w, float m, float v) {
  return m * c.invBc1 / (sqrtf(v * c.invBc2) + h.eps) + h.weightDecay * w;
}
// LAMB's first pass: the moments from the clipped gradient; returns the direction (for its norm).
HY_HD float lambMoments(const Hyper& h, const Coef& c, float w, float g, float& m, float& v) {
  g *= c.gradFactor;
  m = h.beta1 * m + (1 - h.beta1) * g;
  v = h.beta2 * v + (1 - h.beta2) * g * g;
  return lambDirection(h, c, w, m, v);
}

// GradScaler's update of the scale after a step (torch's _amp_update_scale_): back off and reset
// the tracker on an inf/NaN step, else count the clean step and grow after growthInterval of them
// (only to a finite scale). foundInf is cleared for the next step.
HY_HD void updateScale(float& scale, int32_t& tracker, float& foundInf, float growthFactor, float backoffFactor,
                       int32_t growthInterval) {
  if (foundInf != 0) {
    scale *= backoffFactor;
    tracker = 0;
  } else {
    const int32_t clean = tracker + 1;
    if (clean >= growthInterval) {
      const float grown = scale * growthFactor;
      if (grown - grown == 0) scale = grown;  // finite (no isfinite: one spelling for host and device)
      tracker = 0;
    } else {
      tracker = clean;
    }
  }
  foundInf = 0;
}

}  // namespace hy::optim
