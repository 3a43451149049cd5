#pragma once
// SwiGLU's gating, silu(gate) * up, as one autograd node that saves only its inputs (the plain
// ops also keep silu(gate): one more hidden-sized tensor per layer). On CUDA, where the
// project's kernels are compiled in (fused_swiglu_compiled()), forward and backward are one
// fused kernel each (math in float32, one rounding to the inputs' dtype); elsewhere the node
// computes the same function with LibTorch ops, so the CPU tests cover the GPU's backward.
#include <torch/torch.h>

namespace dreamer::models {

// silu(gate) * up; gate and up of one shape.
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);

// swiglu of the two halves of one projection [..., 2 h] (gate first, then up) -> [..., h]. Its
// gradient is one [..., 2 h] tensor, which feeds the fused projection's single matmul.
torch::Tensor swiglu_packed(const torch::Tensor& gate_up);

// Whether this build has the fused SwiGLU kernels (a CUDA LibTorch and a CUDA compiler).
bool fused_swiglu_compiled();

}  // namespace dreamer::models
