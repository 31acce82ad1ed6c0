// Types the neural-network kernels of both backends share (ops/nn.h declares the ops), and
// the deferred invalid-target error of the CUDA loss kernels. Element data is float32 or float16
// (`dtype`); float16 is stored as IEEE half and computed in float32. Targets and pooling indices are
// int32; losses, batch-norm parameters and statistics are float32 whatever `dtype` is.
#pragma once
#include <cstddef>
#include <cstdint>

#include "enums.h"  // Reduction

namespace hy::nn {

// Which op found an invalid target; part of the deferred CUDA error (see raisePendingTargetError).
// (The index ops of ops/shape.h share the slot: an index is a target of sorts, row its position.)
enum class TargetOp : uint32_t {
  NllLoss = 1, NllLossBackward = 2, CrossEntropy = 3, CrossEntropyBackward = 4, IndexSelect = 5, IndexAdd = 6,
  IntDivide = 7  // a zero divisor of intBinary's floorDivide or remainder (the slot's last free code)
};
const char* targetOpName(TargetOp op);
[[noreturn]] void throwBadTarget(TargetOp op, int64_t target, uint64_t row, uint64_t cols);

struct Pool2d {
  size_t N, C, H, W, kH, kW, sH, sW, pH, pW, outH, outW;
};

struct BatchNormShape {
  size_t N, C, HW;
};

// CUDA loss kernels cannot throw, so an invalid target is recorded in a host-mapped slot and the
// rows it touches get NaN; the next synchronising read (read, readAsync, synchronize) calls this,
// which throws the RangeError the CPU backend raises, and clears the slot.
void raisePendingTargetError();

}  // namespace hy::nn
