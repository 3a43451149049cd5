#pragma once
// LibTorch's scalar types as the CUDA headers' (same bits), for the LibTorch side of the
// project's CUDA kernels: CudaType<at::BFloat16>::type is __nv_bfloat16, and so on.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace dreamer::cuda {

template <typename T>
struct CudaType {
  using type = T;
};
template <>
struct CudaType<at::BFloat16> {
  using type = __nv_bfloat16;
};
template <>
struct CudaType<at::Half> {
  using type = __half;
};

}  // namespace dreamer::cuda
