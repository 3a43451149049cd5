#include "models/blocks/swiglu.h"

#include "util/cuda_kernels.h"

#ifdef DREAMER_WITH_CUDA_KERNELS
#include "models/blocks/swiglu_cuda.h"
#endif

namespace dreamer::models {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// gate and up as [rows, cols] views: the last dim is kept, the others flattened.
torch::Tensor as_rows(const torch::Tensor& x) {
  return x.reshape({-1, x.size(-1)});
}

// Whether the fused kernels take these [rows, cols] operands.
bool use_kernel(const torch::Tensor& gate, const torch::Tensor& up) {
  const auto t = gate.scalar_type();
  return cuda_kernels_compiled() && gate.is_cuda() && up.device() == gate.device() &&
         up.scalar_type() == t && gate.stride(1) == 1 && up.stride(1) == 1 && cuda_kernel_dtype(t);
}

torch::Tensor forward_rows(const torch::Tensor& gate, const torch::Tensor& up) {
#ifdef DREAMER_WITH_CUDA_KERNELS
  if (use_kernel(gate, up)) return swiglu_forward_cuda(gate, up);
#endif
  return torch::silu(gate) * up;
}

// Writes the gradients of gate and up into d_gate and d_up (same [rows, cols] shape).
void backward_rows(const torch::Tensor& gate, const torch::Tensor& up, const torch::Tensor& grad,
                   torch::Tensor d_gate, torch::Tensor d_up) {
#ifdef DREAMER_WITH_CUDA_KERNELS
  if (use_kernel(gate, up) && grad.scalar_type() == gate.scalar_type()) {
    swiglu_backward_cuda(gate, up, grad.contiguous(), d_gate, d_up);
    return;
  }
#endif
  // d/dgate silu(g) u = u s (1 + g (1 - s)) with s = sigmoid(g); d/dup = silu(g) = g s. In
  // place in the outputs: one temporary (s), so backward's peak stays that of the plain ops.
  const auto s = torch::sigmoid(gate);
  torch::mul_out(d_up, gate, s);       // g s
  torch::sub_out(d_gate, gate, d_up);  // g (1 - s)
  d_gate.add_(1).mul_(s).mul_(up).mul_(grad);
  d_up.mul_(grad);
}

struct SwiGLUPair : torch::autograd::Function<SwiGLUPair> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& gate,
                               const torch::Tensor& up) {
    ctx->save_for_backward({gate, up});
    return forward_rows(as_rows(gate), as_rows(up)).view(gate.sizes());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& gate = saved[0];
    auto d_gate = torch::empty(gate.sizes(), gate.options());
    auto d_up = torch::empty(gate.sizes(), gate.options());
    backward_rows(as_rows(gate), as_rows(saved[1]), as_rows(grads[0]), as_rows(d_gate),
                  as_rows(d_up));
    return {d_gate, d_up};
  }
};

}  // namespace

torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up) {
  TORCH_CHECK(gate.sizes() == up.sizes(), "swiglu: gate and up must be of one shape, got ",
              gate.sizes(), " and ", up.sizes());
  // The node works in one dtype; mixed inputs (or none to gate) take the plain ops.
  if (gate.scalar_type() != up.scalar_type() || gate.dim() == 0) return torch::silu(gate) * up;
  return SwiGLUPair::apply(gate.contiguous(), up.contiguous());
}

}  // namespace dreamer::models
