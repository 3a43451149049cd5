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

  double layer = models::sequence_attention_flops(d, H, Hkv, dh, T);
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

  const double per_layer = models::sequence_attention_activations(d, H, Hkv, dh)  // attention
                           + 2 * d + E + k * (2 * d + mats * de)         // router + experts
                           + (shared_h > 0 ? mats * shared_h + d : 0);   // shared experts
  const double saved = w.activation_checkpointing ? L * d + per_layer : L * per_layer;
  const double kv = L * 2 * Hkv * dh * T * w.batch;
  models::set_memory(cost, w, saved, kv, static_cast<int64_t>(d), static_cast<int64_t>(V));
  return cost;
}

}  // namespace dreamer::baselines
