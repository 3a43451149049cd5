// Cost model of the Universal Transformer (models/cost.h conventions): one shared block
// applied R times. Every term mirrors a matmul in baselines/universal_transformer.cpp and
// models/blocks/*, so the FLOP counter test can hold it to 1%. With ACT the halting unit
// (Linear d -> 1, 2d FLOPs) runs before every step, and all R steps always run (the
// implementation never exits early), so the executed count at evaluation is the full R.
#include "baselines/universal_transformer.h"
#include "models/cost.h"

namespace dreamer::baselines {

models::Cost universal_transformer_cost(const UniversalTransformerConfig& c,
                                        const models::Workload& w) {
  const auto& b = c.backbone;
  const double d = b.d_model, V = b.vocab_size, H = b.n_heads, Hkv = b.kv_heads(),
               dh = b.seq_head_dim(), T = w.seq_len;
  const double R = w.recurrences > 0 ? w.recurrences : static_cast<double>(c.recurrences);
  const double ffn_h = c.block().ffn_hidden;
  const bool swiglu = c.activation == models::Activation::kSwiGLU;

  double step = models::sequence_attention_flops(d, H, Hkv, dh, T);
  step += (swiglu ? 6 : 4) * d * ffn_h;                             // (gate,) up, down
  if (c.act.enabled) step += 2 * d;                                 // halting unit
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;
  cost.flops_forward_per_token = R * step + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;  // gradients through all R

  const double per_step = models::sequence_attention_activations(d, H, Hkv, dh)  // attention
                          + 2 * d + (swiglu ? 3 : 2) * ffn_h      // FFN
                          + (c.act.enabled ? d + 1 : 0);          // ACT mix state, halting prob
  const double saved = w.activation_checkpointing ? R * d + per_step : R * per_step;
  const double kv = R * 2 * Hkv * dh * T * w.batch;  // one sequence cache per step
  models::set_memory(cost, w, saved, kv, static_cast<int64_t>(d), static_cast<int64_t>(V));
  return cost;
}

}  // namespace dreamer::baselines
