#include "models/blocks/norm.h"

#include <torch/version.h>

#include "models/blocks/attention_core.h"

// at::rms_norm from LibTorch 2.4 (a fused CUDA kernel in later releases).
#define DREAMER_FUSED_RMS_NORM \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
#if DREAMER_FUSED_RMS_NORM
#include <ATen/ops/rms_norm.h>
#endif

namespace dreamer::models {

NormImpl::NormImpl(int64_t dim, NormKind kind_, double eps_) : kind(kind_), eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
  declare_role("weight", ParameterRole::kNorm);
  if (kind == NormKind::kLayerNorm) {
    bias = register_parameter("bias", torch::zeros({dim}));
    declare_role("bias", ParameterRole::kNorm);
  }
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  const auto x32 = at_least_float32(x);
  torch::Tensor y;
  if (kind == NormKind::kRMSNorm) {
#if DREAMER_FUSED_RMS_NORM
    y = at::rms_norm(x32, {x.size(-1)}, weight, eps);
#else
    y = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
#endif
  } else {
    y = torch::layer_norm(x32, {x.size(-1)}, weight, bias, eps);
  }
  return y.to(x.scalar_type());
}

}  // namespace dreamer::models
