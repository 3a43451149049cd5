#pragma once
// One standard transformer block (attention + MLP, each with a residual), shared by the dense,
// MoE, Huginn and Universal-Transformer baselines.
//   pre-norm (Llama, GPT-2):  h = h + attn(n1(h));      h = h + mlp(n3(h))
//   sandwich (Huginn):        h = n2(h + attn(n1(h)));  h = n4(h + mlp(n3(h)))
// (Huginn's SandwichBlock in recpre/raven_modeling_minimal.py; norm names follow it.)
#include <torch/torch.h>

#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/blocks/sequence_attention.h"
#include "models/model.h"

namespace dreamer::models {

struct TransformerBlockOptions {
  SequenceAttentionOptions attention;
  NormKind norm = NormKind::kRMSNorm;
  double norm_eps = 1e-5;
  bool sandwich = false;
  int64_t ffn_hidden = 0;  // 0: no MLP module (the MoE layer brings its own via mlp_residual)
  Activation activation = Activation::kSwiGLU;
  bool ffn_bias = false;
};

struct TransformerBlockImpl : torch::nn::Module {
  explicit TransformerBlockImpl(const TransformerBlockOptions& options);
  // h [B, T, d]; start = absolute position of the first token; cache may be null.
  torch::Tensor forward(const torch::Tensor& h, int64_t start, KVCache* cache);
  torch::Tensor attention_residual(const torch::Tensor& h, int64_t start, KVCache* cache);
  // The MLP half, with `mlp` (given norm_3(h)) in place of the block's own MLP.
  torch::Tensor mlp_residual(const torch::Tensor& h,
                             const std::function<torch::Tensor(const torch::Tensor&)>& mlp);

  TransformerBlockOptions options;
  Norm norm_1{nullptr}, norm_2{nullptr}, norm_3{nullptr}, norm_4{nullptr};
  SequenceAttention attention{nullptr};
  FeedForward ffn{nullptr};
};
TORCH_MODULE(TransformerBlock);

// Parameters of one block, analytically (equals the built module).
int64_t transformer_block_parameters(const TransformerBlockOptions& options);
int64_t sequence_attention_parameters(const SequenceAttentionOptions& options);
int64_t feed_forward_parameters(int64_t d_model, int64_t hidden, Activation activation, bool bias);

}  // namespace dreamer::models
