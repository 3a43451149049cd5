#include "models/blocks/depth_attention.h"

#include <cmath>
#include <limits>

#include "models/blocks/attention_core.h"
#include "models/blocks/rope.h"

namespace dreamer::models {

DepthAttentionImpl::DepthAttentionImpl(const DepthAttentionOptions& opt) : options(opt) {
  using torch::nn::LinearOptions;
  const int64_t inner = opt.n_heads * opt.head_dim;
  q = register_module("q", torch::nn::Linear(LinearOptions(opt.d_model, inner).bias(false)));
  k = register_module("k", torch::nn::Linear(LinearOptions(opt.d_model, inner).bias(false)));
  v = register_module("v", torch::nn::Linear(LinearOptions(opt.d_model, inner).bias(false)));
  o = register_module("o", torch::nn::Linear(LinearOptions(inner, opt.d_model).bias(false)));
}

torch::Tensor DepthAttentionImpl::heads(const torch::Tensor& x) {
  return x.view({x.size(0), x.size(1), options.n_heads, options.head_dim}).transpose(1, 2);
}

torch::Tensor DepthAttentionImpl::rotate(const torch::Tensor& x, int64_t level, int64_t total,
                                         bool is_query) {
  if (options.rope == DepthRope::kNone) return x;
  auto depth = torch::full({1}, level, torch::dtype(torch::kLong).device(x.device()));
  // Keys get a zero reverse angle (total := level), queries the true distance to the end.
  auto angles = options.rope == DepthRope::kForward
                    ? rope_angles(depth, options.head_dim, options.rope_base)
                    : depth_rope_angles_forward_reverse(depth, is_query ? total : level,
                                                        options.head_dim, options.rope_base);
  return apply_rope(x, angles);  // one angle row broadcasts over tokens
}

void DepthAttentionImpl::write(DepthMemory& memory, const torch::Tensor& x_k,
                               const torch::Tensor& x_v, int64_t level, int64_t total,
                               KVCache* cache) {
  auto key = rotate(heads(k(x_k)), level, total, /*is_query=*/false);  // [B, H, T, Dh]
  auto value = heads(v(x_v));
  if (options.scope == DepthScope::kAllTokensCausal && cache)
    std::tie(key, value) = cache->append(key, value);
  memory.levels.push_back(level);
  memory.keys.push_back(key);
  memory.values.push_back(value);
}

torch::Tensor DepthAttentionImpl::read(const DepthMemory& memory, const torch::Tensor& x_q,
                                       int64_t level, int64_t total) {
  const int64_t b = x_q.size(0), t = x_q.size(1), h = options.n_heads, dh = options.head_dim;
  auto query = rotate(heads(q(x_q)), level, total, /*is_query=*/true);  // [B, H, T, Dh]
  std::vector<torch::Tensor> keys, values;
  for (size_t i = 0; i < memory.levels.size(); ++i) {
    if (memory.levels[i] > level) continue;  // depth causality
    keys.push_back(memory.keys[i]);
    values.push_back(memory.values[i]);
  }
  TORCH_CHECK(!keys.empty(), "depth attention at level ", level, " has no memory entry");
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  torch::Tensor out;
  if (options.scope == DepthScope::kSameToken) {
    auto kk = torch::stack(keys, 3);    // [B, H, T, L, Dh]
    auto vv = torch::stack(values, 3);  // [B, H, T, L, Dh]
    auto scores = torch::matmul(kk, query.unsqueeze(-1)).squeeze(-1) * scale;  // [B, H, T, L]
    auto weights = torch::softmax(at_least_float32(scores), -1).to(x_q.scalar_type());
    out = torch::matmul(weights.unsqueeze(-2), vv).squeeze(-2);  // [B, H, T, Dh]
  } else {
    // Keys of every level over tokens 0..Tk-1; this call's tokens are the last T of them.
    const int64_t tk = keys[0].size(2);
    auto kk = torch::cat(keys, 2), vv = torch::cat(values, 2);  // [B, H, L*Tk, Dh]
    auto mask = causal_mask(t, tk, x_q.device()).repeat({1, static_cast<int64_t>(keys.size())});
    auto scores = torch::matmul(query, kk.transpose(-2, -1)) * scale;  // [B, H, T, L*Tk]
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
    auto weights = torch::softmax(at_least_float32(scores), -1).to(x_q.scalar_type());
    out = torch::matmul(weights, vv);
  }
  return o(out.transpose(1, 2).reshape({b, t, h * dh}));
}

}  // namespace dreamer::models
