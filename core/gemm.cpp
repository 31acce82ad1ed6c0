#include "gemm.h"

#include "../cpu/cpu_ops.h"
#include "dispatch.h"
#ifdef HAYATE_WITH_CUDA
#include "../cuda/kernels.h"
#endif

namespace hy {

void gemm(Allocation& a, Allocation& b, Allocation& c, DType dtype, GemmParams p) {
  if (p.batch == 0 || p.M == 0 || p.N == 0) return;
  // With no product to add, both backends' K loops run zero times and only beta * C remains. A and
  // B are then never read, and zero strides keep their (unchecked) batch pointers in range.
  if (p.alpha == 0.0f || p.K == 0) {
    p.K = 0;
    p.strideA = 0;
    p.strideB = 0;
  }
  if (onDevice(c)) {
#ifdef HAYATE_WITH_CUDA
    cuda::launchGemm(a.data(), b.data(), c.data(), dtype, p, computeStream());
    return;
#else
    throwNoCuda();
#endif
  }
  a.waitForHost();
  b.waitForHost();
  c.waitForHost();
  cpu::gemm(a.data(), b.data(), c.data(), dtype, p);
}

}  // namespace hy
