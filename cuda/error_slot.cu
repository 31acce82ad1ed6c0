// The deferred error of kernels that find a bad index (the loss kernels' targets, the index ops'
// indices): kernels cannot throw, so they record it in a slot the host reads after synchronising.
#include <mutex>

#include "check.cuh"
#include "common.cuh"
#include "runtime.h"

namespace hy::cuda {

namespace {

// The pending invalid-target error lives in pinned host memory mapped into the device, so a
// kernel can report it and the host can read it after a synchronisation without another copy.
// word 0: row (saturated to 32 bits) << 32 | target bits; word 1: cols << 3 | op (0 = none).
// Racing reporters each store whole 64-bit words, so the pair names an invalid target unless
// two different ops fail before one read.
struct TargetErrorSlot {
  uint64_t* host = nullptr;
  uint64_t* device = nullptr;
};
TargetErrorSlot gSlot;
std::once_flag gSlotOnce;

}  // namespace

uint64_t* targetErrorSlot() {
  std::call_once(gSlotOnce, [] {
    void* p = nullptr;
    check(cudaHostAlloc(&p, 2 * sizeof(uint64_t), cudaHostAllocMapped), "nn: cudaHostAlloc(error slot)");
    void* d = nullptr;
    if (cudaHostGetDevicePointer(&d, p, 0) != cudaSuccess) {
      cudaFreeHost(p);
      throwCuda(cudaGetLastError(), "nn: cudaHostGetDevicePointer(error slot)");
    }
    static_cast<volatile uint64_t*>(p)[0] = 0;
    static_cast<volatile uint64_t*>(p)[1] = 0;
    gSlot.host = static_cast<uint64_t*>(p);
    gSlot.device = static_cast<uint64_t*>(d);
  });
  return gSlot.device;
}

bool takeTargetError(nn::TargetOp* op, int64_t* target, uint64_t* row, uint64_t* cols) {
  if (gSlot.host == nullptr) return false;
  // Exchanges, so that of two threads finishing reads at once only one reports the error.
  const uint64_t w1 = __atomic_exchange_n(&gSlot.host[1], uint64_t{0}, __ATOMIC_ACQ_REL);
  if (w1 == 0) return false;
  const uint64_t w0 = __atomic_exchange_n(&gSlot.host[0], uint64_t{0}, __ATOMIC_ACQ_REL);
  *op = static_cast<nn::TargetOp>(w1 & 7u);
  *cols = w1 >> 3;
  *row = w0 >> 32;
  *target = static_cast<int32_t>(static_cast<uint32_t>(w0));
  return true;
}

}  // namespace hy::cuda
