// Cost model of the dense transformer (models/cost.h conventions). Every term mirrors a matmul
// in baselines/dense_transformer.cpp and models/blocks/*, so the FLOP counter test
// (tests/matching/cost_model_test.cpp) can hold it to 1%. Learned position embeddings are a
// gather (0 FLOPs); biases ride on addmm and add no matmul FLOPs.
#include "baselines/dense_transformer.h"
#include "models/cost.h"

namespace dreamer::baselines {

models::Cost dense_transformer_cost(const DenseTransformerConfig& c, const models::Workload& w) {
  const auto& b = c.backbone;
  const double d = b.d_model, V = b.vocab_size, H = b.n_heads, Hkv = b.kv_heads(),
               dh = b.seq_head_dim(), L = c.n_layers, T = w.seq_len;
  const double ffn_h = c.block().ffn_hidden;
  const bool swiglu = c.activation == models::Activation::kSwiGLU;

  double layer = models::sequence_attention_flops(d, H, Hkv, dh, T);
  layer += (swiglu ? 6 : 4) * d * ffn_h;                             // (gate,) up, down
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;
  cost.flops_forward_per_token = L * layer + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;  // every layer has gradients

  // Activations kept for backward per token and layer (fused attention: no T x T).
  const double per_layer = models::sequence_attention_activations(d, H, Hkv, dh)
                           + 2 * d + (swiglu ? 3 : 2) * ffn_h;     // h, x, hidden(s)
  const double saved = w.activation_checkpointing ? L * d + per_layer : L * per_layer;
  const double kv = L * 2 * Hkv * dh * T * w.batch;
  models::set_memory(cost, w, saved, kv, static_cast<int64_t>(d), static_cast<int64_t>(V));
  return cost;
}

}  // namespace dreamer::baselines
