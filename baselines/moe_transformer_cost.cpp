// Cost model of the MoE transformer (models/cost.h conventions). Every term mirrors a matmul
// in baselines/moe_transformer.cpp and models/blocks/* (attention, router logits x W_g^T, the
// k selected experts, the always-on shared experts), so the FLOP counter test can hold it to
// 1%. The Switch auxiliary loss is bincount/elementwise only (and training-only): 0 FLOPs.
#include "baselines/moe_transformer.h"
#include "models/cost.h"

namespace dreamer::baselines {

models::Cost moe_transformer_cost(const MoETransformerConfig& c, const models::Workload& w) {
  const auto& b = c.backbone;
  const double d = b.d_model, V = b.vocab_size, H = b.n_heads, Hkv = b.kv_heads(),
               dh = b.seq_head_dim(), L = c.n_layers, T = w.seq_len;
  const double E = c.moe.n_experts, k = c.moe.k, de = c.expert_dim(),
               shared_h = c.moe.n_shared_experts * de;
  const double mats = c.moe.activation == models::Activation::kSwiGLU ? 3 : 2;

  double layer = 2 * d * H * dh + 4 * d * Hkv * dh + 2 * H * dh * d;  // q, k, v, o
  layer += 4 * T * H * dh;                                           // scores + mix over all T
  layer += 2 * d * E;                                                // router logits
  layer += k * 2 * mats * d * de;                                    // the selected experts
  layer += 2 * mats * d * shared_h;                                  // shared experts
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  const double inactive = L * (E - k) * mats * d * de;
  cost.active_params = cost.params.total - static_cast<int64_t>(inactive);
  cost.flops_forward_per_token = L * layer + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;

  const double per_layer = 2 * d + H * dh + 2 * Hkv * dh + H * dh        // attention
                           + 2 * d + E + k * (2 * d + mats * de)         // router + experts
                           + (shared_h > 0 ? mats * shared_h + d : 0);   // shared experts
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
