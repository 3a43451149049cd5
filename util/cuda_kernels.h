#pragma once
// Whether this build has the project's own CUDA kernels (models/**/*.cu, train/*.cu: fused
// RoPE, SwiGLU, cross-entropy rows), and the storage types every one of them takes. CMake
// defines DREAMER_WITH_CUDA_KERNELS where a CUDA LibTorch and nvcc are found and the option
// DREAMER_CUDA_KERNELS is ON; elsewhere each kernel's LibTorch-op fallback runs.
#include <c10/core/ScalarType.h>

namespace dreamer {

constexpr bool cuda_kernels_compiled() {
#ifdef DREAMER_WITH_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

// float32, bfloat16 or float16: the kernels compute in float32 and store in these.
inline bool cuda_kernel_dtype(c10::ScalarType t) {
  return t == c10::kFloat || t == c10::kBFloat16 || t == c10::kHalf;
}

}  // namespace dreamer
