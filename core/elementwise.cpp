#include "elementwise.h"

#include "../cpu/cpu_ops.h"
#include "dispatch.h"
#ifdef HAYATE_WITH_CUDA
#include "../cuda/kernels.h"
#endif

namespace hy {

// Each op runs on the CUDA stream when its storage is on the GPU, else on the host after any
// pending asynchronous copy into that host memory has finished.
#ifdef HAYATE_WITH_CUDA
#define HY_ON_DEVICE(alloc, call) \
  if (onDevice(alloc)) {          \
    call;                         \
    return;                       \
  }
#else
#define HY_ON_DEVICE(alloc, call) \
  if (onDevice(alloc)) throwNoCuda();
#endif

void unary(UnaryOp op, Allocation& in, Allocation& out, DType dtype, size_t n) {
  requireSameDevice("unary", in, out);
  HY_ON_DEVICE(in, cuda::launchUnary(op, in.data(), out.data(), dtype, n, computeStream()));
  in.waitForHost();
  out.waitForHost();
  cpu::unary(op, in.data(), out.data(), dtype, n);
}

void unaryGrad(UnaryGradOp op, Allocation& x, Allocation& gradOut, Allocation& gradIn, DType dtype, size_t n) {
  requireSameDevice("unaryGrad", x, gradOut);
  requireSameDevice("unaryGrad", x, gradIn);
  HY_ON_DEVICE(x, cuda::launchUnaryGrad(op, x.data(), gradOut.data(), gradIn.data(), dtype, n, computeStream()));
  x.waitForHost();
  gradOut.waitForHost();
  gradIn.waitForHost();
  cpu::unaryGrad(op, x.data(), gradOut.data(), gradIn.data(), dtype, n);
}

void scalar(ScalarOp op, Allocation& in, Allocation& out, DType dtype, size_t n, float s) {
  requireSameDevice("scalar", in, out);
  HY_ON_DEVICE(in, cuda::launchScalar(op, in.data(), out.data(), dtype, n, s, computeStream()));
  in.waitForHost();
  out.waitForHost();
  cpu::scalar(op, in.data(), out.data(), dtype, n, s);
}

void binary(BinaryOp op, Allocation& a, Allocation& b, Allocation& out, DType dtype, const BroadcastLayout& layout) {
  requireSameDevice("binary", a, b);
  requireSameDevice("binary", a, out);
  HY_ON_DEVICE(a, cuda::launchBinary(op, a.data(), b.data(), out.data(), dtype, layout, computeStream()));
  a.waitForHost();
  b.waitForHost();
  out.waitForHost();
  cpu::binary(op, a.data(), b.data(), out.data(), dtype, layout);
}

void reduceSum(Allocation& in, Allocation& out, DType dtype, size_t outer, size_t reduce, size_t inner, float scale) {
  requireSameDevice("sum", in, out);
  HY_ON_DEVICE(in, cuda::launchReduceSum(in.data(), out.data(), dtype, outer, reduce, inner, scale, computeStream()));
  in.waitForHost();
  out.waitForHost();
  cpu::reduceSum(in.data(), out.data(), dtype, outer, reduce, inner, scale);
}

}  // namespace hy
