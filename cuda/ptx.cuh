// Inline PTX, only through these thin wrappers (sm_80 and newer): the tensor-core mma.sync, the
// ldmatrix shared-memory fragment loads, and cp.async global-to-shared copies. Each has an
// emulated twin (emulator/ptx.h) that follows the PTX ISA's per-thread layouts exactly, so a
// fragment-layout mistake gives wrong numbers on the CPU too.
//
// Layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16"; g = lane / 4, t = lane % 4; a register's
// low 16 bits hold its first element):
//   A (16 x 16, row-major) a[0] = A[g][2t, 2t+1]   a[1] = A[g+8][2t, 2t+1]
//                          a[2] = A[g][2t+8, +9]   a[3] = A[g+8][2t+8, +9]
//   B (16 x 8, k x n)      b[0] = B[2t, 2t+1][g]   b[1] = B[2t+8, 2t+9][g]
//   C, D (16 x 8, float)   c[0], c[1] = C[g][2t, 2t+1]   c[2], c[3] = C[g+8][2t, 2t+1]
//   ldmatrix m8n8 .b16: lanes 8i..8i+7 give the 16-byte-aligned row addresses of matrix i;
//   every lane gets r[i] = M_i[g][2t, 2t+1] (with .trans: M_i[2t][g], M_i[2t+1][g]).
#pragma once
#include <cstdint>

#if defined(HY_CUDA_EMULATOR)
#include "../emulator/ptx.h"
#else

namespace hy::cuda::ptx {

// D = A * B + C on the tensor cores: fp16 inputs, fp32 accumulation, one warp.
__device__ __forceinline__ void mmaM16N8K16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                            const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
}

__device__ __forceinline__ unsigned sharedAddress(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// Four 8 x 8 b16 matrices from shared memory; `row` is this lane's row address.
__device__ __forceinline__ void ldmatrixX4(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(sharedAddress(row))
               : "memory");
}
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(sharedAddress(row))
               : "memory");
}
__device__ __forceinline__ void ldmatrixX2(uint32_t (&r)[2], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(sharedAddress(row))
               : "memory");
}
__device__ __forceinline__ void ldmatrixX2Trans(uint32_t (&r)[2], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(sharedAddress(row))
               : "memory");
}

// 16 bytes global -> shared, bypassing L1; complete only after a cpAsyncWait covering its group.
__device__ __forceinline__ void cpAsync16(void* shared, const void* global) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(sharedAddress(shared)), "l"(global) : "memory");
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most `Pending` of this thread's committed groups are still in flight.
template <int Pending>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
}

}  // namespace hy::cuda::ptx

#endif
