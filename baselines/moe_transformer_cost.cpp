// Cost model of the MoE transformer (models/cost.h conventions). Every term mirrors a matmul
// in baselines/moe_transformer.cpp and models/blocks/* (attention, router logits x W_g^T, the
// k selected experts, the always-on shared experts), so the FLOP counter test can hold it to
// 1%. The Switch auxiliary loss is bincount/elementwise only (and training-only): 0 FLOPs.
#include "baselines/moe_transformer.h"
#include "models/cost.h"
#include "models/memory.h"

namespace dreamer::baselines {

models::Cost moe_transformer_cost(const MoETransformerConfig& c, const models::Workload& w) {
  const auto& b = c.backbone;
  const double d = b.d_model, V = b.vocab_size, H = b.n_heads, Hkv = b.kv_heads(),
               dh = b.seq_head_dim(), L = c.n_layers, T = w.seq_len;
  const double E = c.moe.n_experts, k = c.moe.k, de = c.expert_dim(),
               shared_h = c.moe.n_shared_experts * de;
  const double mats = c.moe.activation == models::Activation::kSwiGLU ? 3 : 2;

  double layer = models::sequence_attention_flops(d, H, Hkv, dh, T);
  layer += 2 * d * E;                // router logits
  layer += k * 2 * mats * d * de;    // the selected experts
  layer += 2 * mats * d * shared_h;  // shared experts
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  const double inactive = L * (E - k) * mats * d * de;
  cost.active_params = cost.params.total - static_cast<int64_t>(inactive);
  cost.flops_forward_per_token = L * layer + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;

  // Memory (models/memory.h). The MoE half: n3's internals, its output read by the router's
  // logits matmul and the shared experts' input projection(s), the router, the experts, the
  // shared FFN's hidden state and the Switch auxiliary loss's denominator.
  namespace mem = models::memory;
  mem::BlockShape bs;
  bs.d = d, bs.heads = H, bs.kv_heads = Hkv, bs.head_dim = dh, bs.norm = b.norm;
  const bool gated = c.moe.activation == models::Activation::kSwiGLU;
  double per_call_autocast = 0;
  auto layer_bytes = [&](mem::Ledger& l) {
    mem::block_attention_half(l, bs);
    mem::norm_internals(l, b.norm, d);
    mem::linear_inputs(l, d, 1 + (shared_h > 0 ? (gated ? 2 : 1) : 0));
    mem::RouterShape rs;
    rs.d = d, rs.dk = d, rs.experts = E, rs.k = k, rs.renormalize = c.moe.renormalize;
    mem::router(l, rs);
    if (c.moe.aux_loss_coef > 0) l.tensor(1, 4);  // scores.sum for the balance loss
    per_call_autocast = mem::experts(l, d, de, E, k, c.moe.activation, gated);
    if (shared_h > 0) mem::ffn_hidden(l, c.moe.activation, shared_h);
  };
  mem::Ledger saved(w);
  double recompute = 0;
  if (w.activation_checkpointing) {
    saved.tensor(d, saved.resid, L);
    mem::Ledger one(w);
    layer_bytes(one);
    recompute = one.bytes();
    cost.flops_recompute_per_token = L * layer;
    cost.flops_train_per_token += cost.flops_recompute_per_token;
  } else {
    for (int64_t i = 0; i < c.n_layers; ++i) layer_bytes(saved);
  }
  mem::lm_head_inputs(saved, b.norm, d);
  const double kv = L * 2 * Hkv * dh * T * w.batch;
  saved.backward_buffers = E * mats * d * de * saved.resid;  // one layer's expert gradients
  saved.tied_head = b.tie_embeddings;
  mem::finish(cost, w, saved, d, V, static_cast<double>(cost.params.non_embedding) + V * d,
              L * per_call_autocast, kv, recompute);
  return cost;
}

}  // namespace dreamer::baselines
