#pragma once
// Causal multi-head self-attention over sequence positions, with grouped-query heads,
// RoPE (or none, for models with learned absolute positions) and a KV cache.
#include <torch/torch.h>

#include <string>

#include "models/model.h"

namespace dreamer::models {

struct SequenceAttentionOptions {
  int64_t d_model = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // == n_heads: multi-head; 1: multi-query
  int64_t head_dim = 0;
  bool rope = true;
  double rope_base = 10000.0;
  bool bias = false;     // biases on the four projections (GPT-2)
  bool qk_bias = false;  // biases on the query and key projections only (Huginn's qk_bias)
};

// Checks a head layout given as the JSON fields n_heads, n_kv_heads (0 = n_heads) and
// head_dim (0 = d_model / n_heads) below `path`; throws InputError naming the field.
void validate_head_layout(const std::string& path, int64_t d_model, int64_t n_heads,
                          int64_t n_kv_heads, int64_t head_dim, bool rope);

struct QKV {
  torch::Tensor q;  // [B, H, T, Dh], RoPE applied
  torch::Tensor k;  // [B, Hkv, T, Dh], RoPE applied
  torch::Tensor v;  // [B, Hkv, T, Dh]
};

struct SequenceAttentionImpl : torch::nn::Module, RoleDeclarer {
  explicit SequenceAttentionImpl(const SequenceAttentionOptions& options);

  // x_qk feeds queries and keys, x_v the values (the same tensor under pre-norm; the raw
  // residual under MoEUT-style peri-norm). start = absolute position of x's first token.
  // With a cache, the new keys/values are appended and attention spans the whole cache.
  torch::Tensor forward(const torch::Tensor& x_qk, const torch::Tensor& x_v, int64_t start,
                        KVCache* cache);

  // The pieces, for layers that mix these keys with others under one softmax.
  // With a static `cache` (models/static_decode.h) RoPE reads the position on the device.
  QKV project(const torch::Tensor& x_qk, const torch::Tensor& x_v, int64_t start,
              const KVCache* cache = nullptr);
  torch::Tensor output(const torch::Tensor& heads);  // [B, H, T, Dh] -> [B, T, d]

  SequenceAttentionOptions options;
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
};
TORCH_MODULE(SequenceAttention);

}  // namespace dreamer::models
