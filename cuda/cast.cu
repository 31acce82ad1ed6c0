// dtype conversion: the CUDA twin of cpu/cast.cpp (values go through double, as there).
#include <cuda_fp16.h>

#include "../core/convert.h"
#include "check.cuh"
#include "../ops/creation.h"

namespace hy::cuda {

namespace {

__device__ __forceinline__ double load(const void* in, DType t, size_t i) {
  switch (t) {
    case DType::Float32: return static_cast<const float*>(in)[i];
    case DType::Float16: return __half2float(static_cast<const __half*>(in)[i]);
    case DType::Int32: return static_cast<const int32_t*>(in)[i];
    case DType::Bool: return static_cast<const uint8_t*>(in)[i];
  }
  return 0;
}

__global__ void castKernel(const void* in, DType inType, void* out, DType outType, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const double v = load(in, inType, i);
    switch (outType) {
      case DType::Float32: static_cast<float*>(out)[i] = static_cast<float>(v); break;
      case DType::Float16: static_cast<__half*>(out)[i] = __float2half_rn(static_cast<float>(v)); break;
      case DType::Int32: static_cast<int32_t*>(out)[i] = floatToInt32(v); break;
      case DType::Bool: static_cast<uint8_t*>(out)[i] = toBool(v); break;
    }
  }
}

}  // namespace

void launchCast(const void* in, DType inType, void* out, DType outType, size_t n, StreamId stream) {
  if (n == 0) return;
  if (inType == outType) {
    check(cudaMemcpyAsync(out, in, n * dtypeSize(inType), cudaMemcpyDeviceToDevice, asStream(stream)), "cast");
    return;
  }
  constexpr unsigned kThreads = 256;
  HY_LAUNCH(gridFor(n, kThreads), kThreads, 0, asStream(stream), castKernel)(in, inType, out, outType, n);
  checkLaunch("cast");
}

// Registered implementation (ops/creation.h).
namespace {
HY_REGISTER_OP(ops::CastArgs, Cuda, "direct", [](const ops::CastArgs& a, StreamId s) {
  launchCast(a.x->data(), a.xDtype, a.out->data(), a.dtype, a.n, s);
});
}  // namespace

}  // namespace hy::cuda
