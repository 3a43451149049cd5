#pragma once
// Float32 math on any storage type, for the project's CUDA kernels (models/**/*.cu, train/*.cu):
// each loads float, __nv_bfloat16 or __half, computes in float32 and rounds once on the way
// out. CUDA headers only, so that a kernel's device code still compiles without LibTorch.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace dreamer::cuda {

__device__ inline float to_float(float x) {
  return x;
}
__device__ inline float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
__device__ inline float to_float(__half x) {
  return __half2float(x);
}

template <typename T>
__device__ T from_float(float x);
template <>
__device__ inline float from_float<float>(float x) {
  return x;
}
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);  // round to nearest even, as LibTorch's casts
}
template <>
__device__ inline __half from_float<__half>(float x) {
  return __float2half(x);
}

}  // namespace dreamer::cuda
