// The CPU backend: the same operations as cuda/, in plain C++. Pointers are host memory.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/gemm.h"

namespace hy::cpu {

void fill(void* out, DType dtype, size_t n, double value);
// kind 0: uniform in [a, b); kind 1: normal with mean a and standard deviation b.
void random(void* out, DType dtype, size_t n, int kind, uint64_t seed, uint64_t offset, double a, double b);
void cast(const void* in, DType inType, void* out, DType outType, size_t n);
// See core/gemm.h for the contract; the dispatcher has already handled empty shapes.
void gemm(const void* a, const void* b, void* c, DType dtype, const GemmParams& p);

}  // namespace hy::cpu
