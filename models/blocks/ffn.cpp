#include "models/blocks/ffn.h"

#include "models/blocks/swiglu.h"

namespace dreamer::models {

torch::Tensor activate(const torch::Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::kReLU:
      return torch::relu(x);
    case Activation::kGELU:
      return torch::gelu(x, "tanh");  // GPT-2's approximation
    case Activation::kSiLU:
    case Activation::kSwiGLU:
      return torch::silu(x);
  }
  return x;
}

FeedForwardImpl::FeedForwardImpl(int64_t d_model, int64_t hidden, Activation act, bool bias)
    : activation(act) {
  using torch::nn::LinearOptions;
  if (act == Activation::kSwiGLU)
    gate = register_module("gate", torch::nn::Linear(LinearOptions(d_model, hidden).bias(bias)));
  up = register_module("up", torch::nn::Linear(LinearOptions(d_model, hidden).bias(bias)));
  down = register_module("down", torch::nn::Linear(LinearOptions(hidden, d_model).bias(bias)));
  if (gate) declare_roles("gate", *gate, ParameterRole::kProjection);
  declare_roles("up", *up, ParameterRole::kProjection);
  declare_roles("down", *down, ParameterRole::kResidualOutput);
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  if (activation == Activation::kSwiGLU) return down(swiglu(gate(x), up(x)));
  return down(activate(up(x), activation));
}

}  // namespace dreamer::models
