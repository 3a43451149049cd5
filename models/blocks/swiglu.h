#pragma once
// SwiGLU's gating, silu(gate) * up, as one autograd node that saves only its inputs (the plain
// ops also keep silu(gate): one more hidden-sized tensor per layer). On CUDA, where the
// project's kernels are compiled in (util/cuda_kernels.h), forward and backward are one
// fused kernel each (math in float32, one rounding to the inputs' dtype); elsewhere the node
// computes the same function with LibTorch ops, so the CPU tests cover the GPU's backward.
#include <torch/torch.h>

namespace dreamer::models {

// silu(gate) * up; gate and up of one shape.
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace dreamer::models
