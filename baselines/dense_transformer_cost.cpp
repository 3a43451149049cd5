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

  double layer = 2 * d * H * dh + 4 * d * Hkv * dh + 2 * H * dh * d;  // q, k, v, o
  layer += 4 * T * H * dh;                                           // scores + mix over all T
  layer += (swiglu ? 6 : 4) * d * ffn_h;                             // (gate,) up, down
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;
  cost.flops_forward_per_token = L * layer + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;  // every layer has gradients

  // Activations kept for backward per token and layer (fused attention: no T x T).
  const double per_layer = 2 * d + H * dh + 2 * Hkv * dh + H * dh  // h, x, q, k, v, out
                           + 2 * d + (swiglu ? 3 : 2) * ffn_h;     // h, x, hidden(s)
  const double P = static_cast<double>(cost.params.total);
  const double tokens = static_cast<double>(w.batch) * T;
  const double saved = w.activation_checkpointing ? L * d + per_layer : L * per_layer;
  cost.memory_activation_bytes = tokens * (saved + d) * w.activation_bytes +
                                 tokens * V * 4.0 * 2;  // float32 logits and their gradient
  cost.memory_train_bytes = P * (2 * w.param_bytes + w.optimizer_state_bytes) + cost.memory_activation_bytes;
  const double kv = L * 2 * Hkv * dh * T * w.batch;
  cost.memory_inference_bytes = (P + kv) * w.activation_bytes;
  return cost;
}

}  // namespace dreamer::baselines
