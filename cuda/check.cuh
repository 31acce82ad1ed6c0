// CUDA error handling for cuda/ sources: a failed call becomes hy::Error whose code is the CUDA
// error's name (cudaErrorMemoryAllocation, ...), which the binding turns into the JS error's code.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "../core/caching_allocator.h"  // StreamId
#include "../core/error.h"
#include "portable.cuh"

namespace hy::cuda {

[[noreturn]] inline void throwCuda(cudaError_t err, const char* what) {
  cudaGetLastError();  // clear a non-sticky error so it is not reported twice
  throw Error(ErrorKind::Runtime, std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err),
              cudaGetErrorName(err));
}

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throwCuda(err, what);
}

inline void checkLaunch(const char* kernel) { check(cudaGetLastError(), kernel); }

inline cudaStream_t asStream(StreamId s) { return reinterpret_cast<cudaStream_t>(s); }

// Grid for a grid-stride loop: enough blocks to fill the device, never more than the work needs.
inline unsigned gridFor(size_t work, unsigned threads) {
  const size_t blocks = (work + threads - 1) / threads;
  const size_t cap = 65535u * 16u;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace hy::cuda
