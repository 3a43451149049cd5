#pragma once
// Dense position-wise feed-forward network.
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "models/roles.h"

namespace dreamer::models {

enum class Activation { kReLU, kGELU, kSiLU, kSwiGLU };

inline const std::vector<std::pair<std::string, Activation>>& activation_names() {
  static const std::vector<std::pair<std::string, Activation>> kNames = {
      {"relu", Activation::kReLU},
      {"gelu", Activation::kGELU},
      {"silu", Activation::kSiLU},
      {"swiglu", Activation::kSwiGLU}};
  return kNames;
}

// Element-wise activation (SwiGLU is handled by the caller, which owns the gate projection).
torch::Tensor activate(const torch::Tensor& x, Activation activation);

struct FeedForwardImpl : torch::nn::Module, RoleDeclarer {
  // SwiGLU: down(silu(gate(x)) * up(x)); otherwise down(act(up(x))).
  FeedForwardImpl(int64_t d_model, int64_t hidden, Activation activation, bool bias = false);
  torch::Tensor forward(const torch::Tensor& x);

  Activation activation;
  torch::nn::Linear gate{nullptr}, up{nullptr}, down{nullptr};
};
TORCH_MODULE(FeedForward);

}  // namespace dreamer::models
