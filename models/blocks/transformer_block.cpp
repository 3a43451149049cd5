#include "models/blocks/transformer_block.h"

namespace dreamer::models {

TransformerBlockImpl::TransformerBlockImpl(const TransformerBlockOptions& o) : options(o) {
  const int64_t d = o.attention.d_model;
  norm_1 = register_module("norm_1", Norm(d, o.norm, o.norm_eps));
  if (o.sandwich) norm_2 = register_module("norm_2", Norm(d, o.norm, o.norm_eps));
  attention = register_module("attention", SequenceAttention(o.attention));
  norm_3 = register_module("norm_3", Norm(d, o.norm, o.norm_eps));
  if (o.sandwich) norm_4 = register_module("norm_4", Norm(d, o.norm, o.norm_eps));
  if (o.ffn_hidden > 0)
    ffn = register_module("ffn", FeedForward(d, o.ffn_hidden, o.activation, o.ffn_bias));
}

torch::Tensor TransformerBlockImpl::attention_residual(const torch::Tensor& h, int64_t start,
                                                       KVCache* cache) {
  auto x = norm_1(h);
  auto y = h + attention(x, x, start, cache);
  return norm_2 ? norm_2(y) : y;
}

torch::Tensor TransformerBlockImpl::mlp_residual(
    const torch::Tensor& h, const std::function<torch::Tensor(const torch::Tensor&)>& mlp) {
  auto y = h + mlp(norm_3(h));
  return norm_4 ? norm_4(y) : y;
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& h, int64_t start, KVCache* cache) {
  auto y = attention_residual(h, start, cache);
  if (!ffn) return y;
  return mlp_residual(y, [this](const torch::Tensor& x) { return ffn(x); });
}

int64_t sequence_attention_parameters(const SequenceAttentionOptions& o) {
  const int64_t hq = o.n_heads * o.head_dim, hkv = o.n_kv_heads * o.head_dim;
  int64_t n = o.d_model * (hq + 2 * hkv) + hq * o.d_model;
  if (o.bias)
    n += hq + 2 * hkv + o.d_model;
  else if (o.qk_bias)
    n += hq + hkv;
  return n;
}

int64_t feed_forward_parameters(int64_t d, int64_t hidden, Activation activation, bool bias) {
  const int64_t in_proj = activation == Activation::kSwiGLU ? 2 : 1;
  return in_proj * (d * hidden + (bias ? hidden : 0)) + hidden * d + (bias ? d : 0);
}

int64_t transformer_block_parameters(const TransformerBlockOptions& o) {
  const int64_t d = o.attention.d_model;
  const int64_t n_norms = o.sandwich ? 4 : 2;
  int64_t n = n_norms * norm_parameters(o.norm, d) + sequence_attention_parameters(o.attention);
  if (o.ffn_hidden > 0) n += feed_forward_parameters(d, o.ffn_hidden, o.activation, o.ffn_bias);
  return n;
}

}  // namespace dreamer::models
