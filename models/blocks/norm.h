#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "models/roles.h"

namespace dreamer::models {

enum class NormKind { kRMSNorm, kLayerNorm, kLayerNormNoBias };

inline const std::vector<std::pair<std::string, NormKind>>& norm_kind_names() {
  static const std::vector<std::pair<std::string, NormKind>> kNames = {
      {"rmsnorm", NormKind::kRMSNorm},
      {"layernorm", NormKind::kLayerNorm},
      {"layernorm_nobias", NormKind::kLayerNormNoBias}};
  return kNames;
}

// RMSNorm (default) or LayerNorm; statistics in float32 whatever the input dtype.
// (torch::nn::RMSNorm only exists from LibTorch 2.4, hence our own.)
struct NormImpl : torch::nn::Module, RoleDeclarer {
  NormImpl(int64_t dim, NormKind kind, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x);

  NormKind kind;
  double eps;
  torch::Tensor weight, bias;
};
TORCH_MODULE(Norm);

// Parameters of one norm layer of this kind and width (the analytic counts' term).
inline int64_t norm_parameters(NormKind kind, int64_t dim) {
  return kind == NormKind::kLayerNorm ? 2 * dim : dim;
}

}  // namespace dreamer::models
