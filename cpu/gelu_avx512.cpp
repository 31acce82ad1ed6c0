// GELU's vector kernels (cpu/gelu_vec.h) at 16 lanes, built with -mavx512f -mavx2 -mfma (CMakeLists.txt)
// and run only where the CPU has them (cpu/elementwise.cpp checks at load time).
#if defined(__x86_64__)
#include "gelu_vec.h"

namespace hy::cpu {

const GeluKernels kGeluAvx512{"avx512", &GeluVec<16>::forwardLoop, &GeluVec<16>::backwardLoop};

}  // namespace hy::cpu
#endif
