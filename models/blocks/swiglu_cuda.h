#pragma once
// The LibTorch side of the fused SwiGLU kernels (swiglu_cuda.cu). Compiled in only where CMake
// found a CUDA compiler beside a CUDA LibTorch (DREAMER_WITH_CUDA_KERNELS); swiglu.h is the
// interface to use.
#include <ATen/core/Tensor.h>

#include <utility>

namespace dreamer::models {

// silu(gate) * up for CUDA [rows, cols] matrices of one dtype (float32, bfloat16 or float16)
// whose rows may be strided (unit stride within a row; swiglu() passes contiguous ones). Math
// in float32, one rounding, one launch; the output is contiguous [rows, cols].
at::Tensor swiglu_forward_cuda(const at::Tensor& gate, const at::Tensor& up);

// The gradients with respect to gate and up, given the output's (contiguous [rows, cols]):
// one launch, written into d_gate and d_up ([rows, cols], unit stride within a row).
void swiglu_backward_cuda(const at::Tensor& gate, const at::Tensor& up, const at::Tensor& grad,
                          at::Tensor& d_gate, at::Tensor& d_up);

}  // namespace dreamer::models
