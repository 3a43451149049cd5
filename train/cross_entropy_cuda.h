#pragma once
// The LibTorch side of the fused cross-entropy gradient (cross_entropy_cuda.cu, device code in
// cross_entropy_kernel.cuh). Compiled in only where CMake found a CUDA compiler beside a CUDA
// LibTorch, which then defines DREAMER_WITH_CUDA_KERNELS; loss.h's
// chunked_linear_cross_entropy is the interface to use.
#include <ATen/core/Tensor.h>

namespace dreamer::train {

// logits [rows, V] (contiguous, CUDA, float32, bfloat16 or float16) are overwritten with
// (softmax(logits) - one_hot(targets)) * scale in their dtype; returns the per-row loss
// lse - logits[target] in float32 [rows]. targets [rows] int64 on the same device; a target
// outside [0, V) gives that row a NaN loss (checked on the device: no host sync). One launch,
// no autograd.
at::Tensor cross_entropy_grad_cuda(at::Tensor logits, const at::Tensor& targets, double scale);

}  // namespace dreamer::train
