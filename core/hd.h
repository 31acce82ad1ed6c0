// HY_HD marks a function both backends compile: host and device under nvcc, plain inline under g++
// (the CPU backend and the emulated device).
#pragma once

#if defined(__CUDACC__)
#define HY_HD __host__ __device__ __forceinline__
#else
#define HY_HD inline
#endif
