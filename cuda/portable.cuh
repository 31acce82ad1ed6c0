// The constructs that nvcc and the CPU emulator (emulator/) spell differently, written once here
// so that every kernel in cuda/ is the same source under both: kernel launches, __shared__
// declarations and dynamic shared memory. Inline PTX goes only through the wrappers of ptx.cuh,
// each with an emulated twin in emulator/ptx.h that follows the PTX ISA's per-thread layout.
//
//   HY_LAUNCH(grid, block, sharedBytes, stream, kernel)(args...)   // kernel<<<...>>>(args...)
//   HY_SHARED(float, tile, [64][65]);                              // __shared__ float tile[64][65];
//   HY_SHARED_ALIGNED(32, __half, tile, [1024]);                   // __shared__ __align__(32) ...
//   HY_DYNAMIC_SHARED(float, buf);                                 // extern __shared__ float buf[];
#pragma once

#include "ptx.cuh"

#if defined(HY_CUDA_EMULATOR)
// emulator/device.h (included first by the emulated build) defines these.
#else
#define HY_LAUNCH(grid, block, sharedBytes, stream, ...) __VA_ARGS__<<<(grid), (block), (sharedBytes), (stream)>>>
#define HY_SHARED(type, name, dims) __shared__ type name dims
#define HY_SHARED_ALIGNED(align, type, name, dims) __shared__ __align__(align) type name dims
#define HY_DYNAMIC_SHARED(type, name)                    \
  extern __shared__ __align__(16) unsigned char hy_dynamic_shared_[]; \
  type* name = reinterpret_cast<type*>(hy_dynamic_shared_)
#endif
