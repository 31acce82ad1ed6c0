// Multi-tensor op declarations: the fused optimizer step, the GradScaler's unscale-and-check and
// scale update, and per-tensor L2 norms. One call covers a whole list of tensors (a parameter
// group), split into chunks of optim::kChunk elements: one CUDA launch per table of chunks (apex's
// multi_tensor_apply), one pool split on the CPU. Implementations: cpu/optim.cpp, cuda/optim.cu;
// the update rules: core/optim_math.h.
//
// The GradScaler's state stays on the device: `foundInf` (float32 [1], nonzero after an inf/NaN
// gradient) makes every optimizer kernel of the step skip its writes, so a scaled step needs no
// host round trip.
#pragma once
#include <string>
#include <vector>

#include "../core/op_registry.h"
#include "../core/optim_math.h"

namespace hy::ops {

// Checks of one tensor list: `list` has one storage per tensor, each holding numels[i] of dtype.
inline void checkList(const Check& c, const char* name, const std::vector<StoragePtr>& list,
                      const std::vector<uint64_t>& numels, DType dtype) {
  if (list.size() != numels.size()) {
    c.fail(name, "a list of " + std::to_string(numels.size()) + " storages (one per entry of numels)",
           "one of " + std::to_string(list.size()));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string entry = std::string(name) + "[" + std::to_string(i) + "]";
    c.holds(entry.c_str(), list[i], numels[i], dtype);
  }
}

inline uint64_t totalChunks(const std::vector<uint64_t>& numels) {
  uint64_t chunks = 0;
  for (uint64_t n : numels) chunks += optim::chunksOf(n);
  return chunks;
}

// Workspace of the ops that reduce per tensor: two float partial sums per chunk, then two norms per tensor.
inline uint64_t normWorkspace(const std::vector<uint64_t>& numels) {
  return (2 * totalChunks(numels) + 2 * numels.size()) * sizeof(float);
}

// One optimizer step over a list of parameters and their gradients (in place). Per kind, the
// float32 state lists it reads and writes (the others must be empty):
//   sgd, lars: state0 = momentum buffers (when momentum != 0)
//   adam:      state0 = exp_avg, state1 = exp_avg_sq, state2 = max_exp_avg_sq (amsgrad)
//   adadelta:  state0 = square_avg, state1 = acc_delta
//   lamb:      state0 = exp_avg, state1 = exp_avg_sq; gradNorm = the global gradient norm
// steps (one int32 [1] storage per tensor) counts each tensor's steps; it advances unless foundInf is set.
struct OptimizerStepArgs {
  static constexpr const char* kName = "optimizerStep";
  OptimizerKind kind = OptimizerKind::Sgd;
  std::vector<StoragePtr> params, grads, state0, state1, state2, steps;
  std::vector<uint64_t> numels;
  StoragePtr foundInf, gradNorm;
  DType dtype = DType::Float32;  // params and grads
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weightDecay = 0, momentum = 0, dampening = 0, rho = 0;
  double trustCoefficient = 0, maxGradNorm = 0;
  bool nesterov = false, decoupled = false, amsgrad = false, biasCorrection = true, nvLamb = false;
  // lamb, lars: scratch of normWorkspace(numels) bytes for the per-tensor norms. The caller
  // allocates it with everything else a step needs, before the first launch of any group, so a
  // step of several groups cannot fail halfway for memory (a dispatcher workspace would be
  // allocated per call). The CPU implementation sums in double on its own and leaves it unread.
  StoragePtr scratch;

  void fields(Fields& f) {
    f.choice("kind", kind);
    f.storageList("params", params);
    f.storageList("grads", grads);
    f.storageList("state0", state0);
    f.storageList("state1", state1);
    f.storageList("state2", state2);
    f.sizeList("numels", numels);
    f.storageList("steps", steps);
    f.optionalStorage("foundInf", foundInf);
    f.optionalStorage("gradNorm", gradNorm);
    f.optionalStorage("scratch", scratch);
    f.floatDtype("dtype", dtype);
    f.number("lr", lr);
    f.number("beta1", beta1);
    f.number("beta2", beta2);
    f.number("eps", eps);
    f.number("weightDecay", weightDecay);
    f.number("momentum", momentum);
    f.number("dampening", dampening);
    f.number("rho", rho);
    f.number("trustCoefficient", trustCoefficient);
    f.number("maxGradNorm", maxGradNorm);
    f.boolean("nesterov", nesterov);
    f.boolean("decoupled", decoupled);
    f.boolean("amsgrad", amsgrad);
    f.boolean("biasCorrection", biasCorrection);
    f.boolean("nvLamb", nvLamb);
  }
  // Which state lists the kind uses (0, 1 or 2 of them, plus amsgrad's third).
  int stateLists() const {
    switch (kind) {
      case OptimizerKind::Sgd:
      case OptimizerKind::Lars: return momentum != 0 ? 1 : 0;
      case OptimizerKind::Adam: return amsgrad ? 3 : 2;
      default: return 2;
    }
  }
  bool check(const Check& c) const {
    checkList(c, "params", params, numels, dtype);
    checkList(c, "grads", grads, numels, dtype);
    const std::vector<StoragePtr>* states[3] = {&state0, &state1, &state2};
    const char* names[3] = {"state0", "state1", "state2"};
    const std::vector<uint64_t> none;
    for (int s = 0; s < 3; ++s) checkList(c, names[s], *states[s], s < stateLists() ? numels : none, DType::Float32);
    checkList(c, "steps", steps, std::vector<uint64_t>(numels.size(), 1), DType::Int32);
    if (foundInf) c.holds("foundInf", foundInf, 1, DType::Float32);
    if (kind == OptimizerKind::Lamb) {
      if (!gradNorm) c.fail("gradNorm", "the global gradient norm (float32 [1]) for lamb", "none");
      c.holds("gradNorm", gradNorm, 1, DType::Float32);
    }
    if (kind == OptimizerKind::Lamb || kind == OptimizerKind::Lars) {
      if (!scratch) c.fail("scratch", "a storage of " + std::to_string(normWorkspace(numels)) + " bytes for lamb and lars", "none");
      c.holdsBytes("scratch", scratch, normWorkspace(numels));
    }
    const double values[] = {lr, beta1, beta2, eps, weightDecay, momentum, dampening, rho, trustCoefficient, maxGradNorm};
    const char* valueNames[] = {"lr", "beta1", "beta2", "eps", "weightDecay", "momentum", "dampening", "rho",
                                "trustCoefficient", "maxGradNorm"};
    for (int i = 0; i < 10; ++i) {
      if (!std::isfinite(values[i])) c.fail(valueNames[i], "a finite number", formatNumber(values[i]));
    }
    uint64_t total = 0;
    for (uint64_t n : numels) total += n;
    return total > 0;
  }
  optim::Hyper hyper() const {
    optim::Hyper h;
    h.lr = static_cast<float>(lr);
    h.beta1 = static_cast<float>(beta1);
    h.beta2 = static_cast<float>(beta2);
    h.eps = static_cast<float>(eps);
    h.weightDecay = static_cast<float>(weightDecay);
    h.momentum = static_cast<float>(momentum);
    h.dampening = static_cast<float>(dampening);
    h.rho = static_cast<float>(rho);
    h.trustCoefficient = static_cast<float>(trustCoefficient);
    h.maxGradNorm = static_cast<float>(maxGradNorm);
    h.nesterov = nesterov;
    h.decoupled = decoupled;
    h.amsgrad = amsgrad;
    h.biasCorrection = biasCorrection;
    h.nvLamb = nvLamb;
    return h;
  }
};

// GradScaler's unscale and check (torch's _amp_foreach_non_finite_check_and_unscale_): every
// gradient multiplied by 1 / scale in place; foundInf set to 1 when any was inf or NaN (it is
// never cleared here, so several calls before one update accumulate).
struct AmpUnscaleArgs {
  static constexpr const char* kName = "ampUnscale";
  std::vector<StoragePtr> grads;
  std::vector<uint64_t> numels;
  StoragePtr scale, foundInf;  // float32 [1] each
  DType dtype = DType::Float32;
  void fields(Fields& f) {
    f.storageList("grads", grads);
    f.sizeList("numels", numels);
    f.storage("scale", scale);
    f.storage("foundInf", foundInf);
    f.floatDtype("dtype", dtype);
  }
  bool check(const Check& c) const {
    checkList(c, "grads", grads, numels, dtype);
    c.holds("scale", scale, 1, DType::Float32);
    c.holds("foundInf", foundInf, 1, DType::Float32);
    return !grads.empty();
  }
};

// GradScaler's update (torch's _amp_update_scale_), on the device: see optim::updateScale.
struct AmpUpdateScaleArgs {
  static constexpr const char* kName = "ampUpdateScale";
  StoragePtr scale, growthTracker, foundInf;  // float32 [1], int32 [1], float32 [1]
  double growthFactor = 2, backoffFactor = 0.5;
  uint64_t growthInterval = 2000;
  void fields(Fields& f) {
    f.storage("scale", scale);
    f.storage("growthTracker", growthTracker);
    f.storage("foundInf", foundInf);
    f.number("growthFactor", growthFactor);
    f.number("backoffFactor", backoffFactor);
    f.size("growthInterval", growthInterval);
  }
  bool check(const Check& c) const {
    c.holds("scale", scale, 1, DType::Float32);
    c.holds("growthTracker", growthTracker, 1, DType::Int32);
    c.holds("foundInf", foundInf, 1, DType::Float32);
    if (!(growthFactor > 0) || !std::isfinite(growthFactor)) c.fail("growthFactor", "a finite number > 0", formatNumber(growthFactor));
    if (!(backoffFactor > 0) || !std::isfinite(backoffFactor)) c.fail("backoffFactor", "a finite number > 0", formatNumber(backoffFactor));
    if (growthInterval < 1) c.fail("growthInterval", "at least 1", "0");
    c.fitsInt("growthInterval", growthInterval);
    return true;
  }
};

// The L2 norm of each tensor of a list (norms, float32 [count]) and of all of them together
// (total, float32 [1], optional): gradient clipping and LAMB's global norm. Deterministic: chunk
// partials are summed in a fixed order.
struct MultiTensorNormArgs {
  static constexpr const char* kName = "multiTensorNorm";
  std::vector<StoragePtr> tensors;
  std::vector<uint64_t> numels;
  StoragePtr norms, total;
  DType dtype = DType::Float32;
  StoragePtr workspace;  // normWorkspace(numels)
  void fields(Fields& f) {
    f.storageList("tensors", tensors);
    f.sizeList("numels", numels);
    f.storage("norms", norms);
    f.optionalStorage("total", total);
    f.floatDtype("dtype", dtype);
  }
  bool check(const Check& c) const {
    checkList(c, "tensors", tensors, numels, dtype);
    c.holds("norms", norms, numels.size(), DType::Float32);
    if (total) c.holds("total", total, 1, DType::Float32);
    return !tensors.empty();
  }
};

inline uint64_t multiTensorNormWorkspace(const MultiTensorNormArgs& a) { return normWorkspace(a.numels); }

}  // namespace hy::ops
