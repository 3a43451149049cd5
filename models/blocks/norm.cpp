#include "models/blocks/norm.h"

#include "models/blocks/attention_core.h"

namespace dreamer::models {

NormImpl::NormImpl(int64_t dim, NormKind kind_, double eps_) : kind(kind_), eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
  if (kind == NormKind::kLayerNorm) bias = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  const auto x32 = at_least_float32(x);
  torch::Tensor y;
  if (kind == NormKind::kRMSNorm) {
    y = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
  } else {
    y = torch::layer_norm(x32, {x.size(-1)}, weight, bias, eps);
  }
  return y.to(x.scalar_type());
}

}  // namespace dreamer::models
