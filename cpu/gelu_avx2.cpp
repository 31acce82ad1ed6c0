// GELU's vector kernels (cpu/gelu_vec.h) at 8 lanes, built with -mavx2 -mfma (CMakeLists.txt)
// and run only where the CPU has them (cpu/elementwise.cpp checks at load time).
#if defined(__x86_64__)
#include "gelu_vec.h"

namespace hy::cpu {

const GeluKernels kGeluAvx2{"avx2", &GeluVec<8>::forwardLoop, &GeluVec<8>::backwardLoop};

}  // namespace hy::cpu
#endif
