#include "nn.h"

#include <string>

#include "error.h"
#ifdef HAYATE_WITH_CUDA
#include "../cuda/runtime.h"
#endif

namespace hy::nn {

const char* targetOpName(TargetOp op) {
  switch (op) {
    case TargetOp::NllLoss: return "nllLoss";
    case TargetOp::NllLossBackward: return "nllLossBackward";
    case TargetOp::CrossEntropy: return "crossEntropy";
    case TargetOp::CrossEntropyBackward: return "crossEntropyBackward";
    case TargetOp::IndexSelect: return "indexSelect";
    case TargetOp::IndexAdd: return "indexAdd";
    case TargetOp::IntDivide: return "intBinary";
  }
  return "loss";
}

void throwBadTarget(TargetOp op, int64_t target, uint64_t row, uint64_t cols) {
  if (op == TargetOp::IntDivide) {
    throwRange("intBinary: integer division by zero at position " + std::to_string(row) + " (floorDivide and remainder of int32 need nonzero divisors)");
  }
  if (op == TargetOp::IndexSelect || op == TargetOp::IndexAdd) {
    throwRange(std::string(targetOpName(op)) + ": index " + std::to_string(target) + " at position " + std::to_string(row) +
               " is outside [0, " + std::to_string(cols) + ")");
  }
  throwRange(std::string(targetOpName(op)) + ": target " + std::to_string(target) + " at row " + std::to_string(row) +
             " is outside [0, " + std::to_string(cols) + ")");
}

void raisePendingTargetError() {
#ifdef HAYATE_WITH_CUDA
  TargetOp op;
  int64_t target;
  uint64_t row, cols;
  if (cuda::takeTargetError(&op, &target, &row, &cols)) throwBadTarget(op, target, row, cols);
#endif
}

}  // namespace hy::nn
