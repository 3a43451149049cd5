// Cost model of the dense transformer (models/cost.h conventions). Every term mirrors a matmul
// in baselines/dense_transformer.cpp and models/blocks/*, so the FLOP counter test
// (tests/matching/cost_model_test.cpp) can hold it to 1%. Learned position embeddings are a
// gather (0 FLOPs); biases ride on addmm and add no matmul FLOPs.
#include "baselines/dense_transformer.h"
#include "models/cost.h"
#include "models/memory.h"

namespace dreamer::baselines {

models::Cost dense_transformer_cost(const DenseTransformerConfig& c, const models::Workload& w) {
  const auto& b = c.backbone;
  const double d = b.d_model, V = b.vocab_size, H = b.n_heads, Hkv = b.kv_heads(),
               dh = b.seq_head_dim(), L = c.n_layers, T = w.seq_len;
  const double ffn_h = c.block().ffn_hidden;
  const bool swiglu = c.activation == models::Activation::kSwiGLU;

  double layer = models::sequence_attention_flops(d, H, Hkv, dh, T);
  layer += (swiglu ? 6 : 4) * d * ffn_h;  // (gate,) up, down
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;
  cost.flops_forward_per_token = L * layer + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;  // every layer has gradients

  // Memory (models/memory.h): every block keeps its own tensors, or, checkpointed, only its
  // input while one block at a time is rebuilt in backward (one extra forward of the blocks).
  namespace mem = models::memory;
  mem::BlockShape bs;
  bs.d = d, bs.heads = H, bs.kv_heads = Hkv, bs.head_dim = dh, bs.ffn_hidden = ffn_h;
  bs.activation = c.activation, bs.norm = b.norm,
  bs.rope = c.position_encoding == PositionEncoding::kRope;
  mem::Ledger saved(w);
  double recompute = 0;
  if (w.activation_checkpointing) {
    saved.tensor(d, saved.resid, L);
    recompute = mem::block_bytes(w, bs);
    cost.flops_recompute_per_token = L * layer;
    cost.flops_train_per_token += cost.flops_recompute_per_token;
  } else {
    for (int64_t i = 0; i < c.n_layers; ++i) {
      mem::block_attention_half(saved, bs);
      mem::block_mlp_half(saved, bs);
    }
  }
  mem::lm_head_inputs(saved, b.norm, d);
  const double kv = L * 2 * Hkv * dh * T * w.batch;
  saved.tied_head = b.tie_embeddings;
  mem::finish(cost, w, saved, d, V, static_cast<double>(cost.params.non_embedding) + V * d, 0, kv,
              recompute);
  return cost;
}

}  // namespace dreamer::baselines
