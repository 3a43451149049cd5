#pragma once
// The LibTorch side of the fused RoPE kernel (rope_cuda.cu, device code in rope_kernel.cuh).
// Compiled in only where CMake found a CUDA compiler beside a CUDA LibTorch, which then
// defines DREAMER_WITH_CUDA_KERNELS; rope.h's apply_rope_qk is the interface to use.
#include <ATen/core/Tensor.h>

#include <utility>

namespace dreamer::models {

// q [B, Hq, T, D] and k [B, Hkv, T, D] (CUDA, float32, bfloat16 or float16, any strides)
// rotated by cos/sin [T, D/2] (float32, on their device), or by -angle when `inverse`:
// contiguous outputs in the inputs' dtypes, from one kernel launch (two if q and k differ in
// dtype). No autograd: apply_rope_qk wraps it.
std::pair<at::Tensor, at::Tensor> rope_qk_cuda(const at::Tensor& q, const at::Tensor& k,
                                               const at::Tensor& cos, const at::Tensor& sin,
                                               bool inverse);

}  // namespace dreamer::models
