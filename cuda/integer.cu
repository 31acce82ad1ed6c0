// int32 arithmetic (ops/integer.h): the CUDA twin of cpu/integer.cpp, one thread per element. A
// zero divisor is recorded in the error slot (cuda/error_slot.cu) and its element gets 0.
#include "../core/int_math.h"
#include "../ops/integer.h"
#include "check.cuh"
#include "common.cuh"
#include "runtime.h"

namespace hy::cuda {

namespace {

constexpr unsigned kThreads = 256;

__global__ void intBinaryKernel(IntBinaryOp op, const int32_t* a, const int32_t* b, int32_t* out, size_t n,
                                ops::StridedLayout<2> L, uint64_t* slot) {
  const bool divides = op == IntBinaryOp::FloorDivide || op == IntBinaryOp::Remainder;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    int64_t offA = 0, offB = 0;
    size_t rest = i;
    for (int d = L.ndim - 1; d >= 0; --d) {
      const int64_t c = static_cast<int64_t>(rest % static_cast<size_t>(L.shape[d]));
      rest /= static_cast<size_t>(L.shape[d]);
      offA += c * L.stride[0][d];
      offB += c * L.stride[1][d];
    }
    const int32_t y = b[offB];
    if (divides && y == 0) recordBadTarget(slot, nn::TargetOp::IntDivide, 0, i, 0);
    out[i] = applyIntBinary(op, a[offA], y);
  }
}

void intBinary(const ops::IntBinaryArgs& a, StreamId stream) {
  size_t n = 1;
  for (int d = 0; d < a.layout.ndim; ++d) n *= static_cast<size_t>(a.layout.shape[d]);
  uint64_t* slot = targetErrorSlot();
  HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), intBinaryKernel)(
      a.op, static_cast<const int32_t*>(a.a->data()), static_cast<const int32_t*>(a.b->data()),
      static_cast<int32_t*>(a.out->data()), n, a.layout, slot);
  checkLaunch("intBinary");
}

}  // namespace

// Registered implementation (ops/integer.h).
namespace {
HY_REGISTER_OP(ops::IntBinaryArgs, Cuda, "strided", intBinary);
}  // namespace

}  // namespace hy::cuda
