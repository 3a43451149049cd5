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
  declare_roles("q", *q, ParameterRole::kProjection);
  declare_roles("k", *k, ParameterRole::kProjection);
  declare_roles("v", *v, ParameterRole::kProjection);
  declare_roles("o", *o, ParameterRole::kResidualOutput);
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

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Same-token depth attention over the first L entries of the level buffers. The forward reads
// the buffers (no stacking); the entries' own tensors are inputs only so that their gradients
// reach them. Saved for the backward: the query and the softmax probabilities (plus views of
// the shared buffers, whose first L entries later writes never touch).
struct SameTokenDepthRead : torch::autograd::Function<SameTokenDepthRead> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& query,
                               at::TensorList keys, at::TensorList values,
                               const DepthMemory* memory, double scale) {
    const int64_t n = static_cast<int64_t>(keys.size());
    auto kk = memory->key_buffer.narrow(3, 0, n);                              // [B, H, T, L, Dh]
    auto vv = memory->value_buffer.narrow(3, 0, n);                            // [B, H, T, L, Dh]
    auto scores = torch::matmul(kk, query.unsqueeze(-1)).squeeze(-1) * scale;  // [B, H, T, L]
    auto probs = torch::softmax(at_least_float32(scores), -1);
    auto out = torch::matmul(probs.to(vv.scalar_type()).unsqueeze(-2), vv).squeeze(-2);
    ctx->save_for_backward({query, probs});
    ctx->saved_data["kk"] = kk;
    ctx->saved_data["vv"] = vv;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["n"] = n;
    return out;  // [B, H, T, Dh]
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& query = saved[0];
    const auto& probs = saved[1];  // float32
    const auto kk = ctx->saved_data["kk"].toTensor(), vv = ctx->saved_data["vv"].toTensor();
    const double scale = ctx->saved_data["scale"].toDouble();
    const int64_t n = ctx->saved_data["n"].toInt();
    const auto g = grads[0].to(vv.scalar_type());  // [B, H, T, Dh]
    // out = w . vv with w = softmax(scores): dw, then the softmax backward in float32.
    auto grad_w = torch::matmul(vv, g.unsqueeze(-1)).squeeze(-1).to(probs.scalar_type());
    auto grad_scores = probs * (grad_w - (grad_w * probs).sum(-1, true)) * scale;
    grad_scores = grad_scores.to(kk.scalar_type());
    auto grad_query =
        torch::matmul(grad_scores.unsqueeze(-2), kk).squeeze(-2).to(query.scalar_type());
    auto grad_kk = grad_scores.unsqueeze(-1) * query.to(kk.scalar_type()).unsqueeze(-2);
    auto grad_vv = probs.to(vv.scalar_type()).unsqueeze(-1) * g.unsqueeze(-2);
    variable_list out;
    out.reserve(1 + 2 * n + 2);
    out.push_back(grad_query);
    for (auto& t : grad_kk.unbind(3)) out.push_back(t);
    for (auto& t : grad_vv.unbind(3)) out.push_back(t);
    out.emplace_back();  // memory
    out.emplace_back();  // scale
    return out;
  }
};

}  // namespace

void DepthAttentionImpl::write(DepthMemory& memory, const torch::Tensor& x_k,
                               const torch::Tensor& x_v, int64_t level, int64_t total,
                               KVCache* cache) {
  auto key = rotate(heads(k(x_k)), level, total, /*is_query=*/false);  // [B, H, T, Dh]
  auto value = heads(v(x_v));
  if (options.scope == DepthScope::kAllTokensCausal && cache)
    std::tie(key, value) = cache->append(key, value);
  const int64_t index = static_cast<int64_t>(memory.levels.size());
  memory.levels.push_back(level);
  memory.keys.push_back(key);
  memory.values.push_back(value);
  if (options.scope != DepthScope::kSameToken || !use_level_buffers) return;
  // Level buffers: sized for levels 0..total at the first write; a write that does not fit
  // (other shapes, more entries) drops them and reads stack instead.
  auto fits = [&](const torch::Tensor& buffer, const torch::Tensor& entry) {
    return buffer.defined() && index < buffer.size(3) &&
           buffer.scalar_type() == entry.scalar_type() && buffer.device() == entry.device() &&
           buffer.select(3, 0).sizes() == entry.sizes();
  };
  if (index == 0) {
    auto shape = key.sizes().vec();
    shape.insert(shape.begin() + 3, total + 1);
    memory.key_buffer = torch::empty(shape, key.options().requires_grad(false));
    memory.value_buffer = torch::empty(shape, value.options().requires_grad(false));
  }
  if (!fits(memory.key_buffer, key) || !fits(memory.value_buffer, value)) {
    memory.key_buffer = memory.value_buffer = torch::Tensor();
    return;
  }
  torch::NoGradGuard no_grad;
  memory.key_buffer.select(3, index).copy_(key.detach());
  memory.value_buffer.select(3, index).copy_(value.detach());
}

torch::Tensor DepthAttentionImpl::read(const DepthMemory& memory, const torch::Tensor& x_q,
                                       int64_t level, int64_t total) {
  // Levels are written in increasing order, so the readable entries are a prefix.
  int64_t n = 0;
  while (n < static_cast<int64_t>(memory.levels.size()) && memory.levels[n] <= level) ++n;
  bool prefix = n > 0 && memory.key_buffer.defined() && n <= memory.key_buffer.size(3);
  for (size_t i = n; prefix && i < memory.levels.size(); ++i) prefix = memory.levels[i] > level;
  if (options.scope != DepthScope::kSameToken || !use_level_buffers || !prefix)
    return read_reference(memory, x_q, level, total);
  const int64_t b = x_q.size(0), t = x_q.size(1), h = options.n_heads, dh = options.head_dim;
  auto query = rotate(heads(q(x_q)), level, total, /*is_query=*/true);  // [B, H, T, Dh]
  const auto keys = at::TensorList(memory.keys).slice(0, n);
  const auto values = at::TensorList(memory.values).slice(0, n);
  auto out = SameTokenDepthRead::apply(query.to(memory.key_buffer.scalar_type()), keys, values,
                                       &memory, 1.0 / std::sqrt(static_cast<double>(dh)));
  return o(out.transpose(1, 2).reshape({b, t, h * dh}));
}

torch::Tensor DepthAttentionImpl::read_reference(const DepthMemory& memory,
                                                 const torch::Tensor& x_q, int64_t level,
                                                 int64_t total) {
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
    auto kk = torch::stack(keys, 3);                                           // [B, H, T, L, Dh]
    auto vv = torch::stack(values, 3);                                         // [B, H, T, L, Dh]
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
