// Cost model of the Universal Transformer (models/cost.h conventions): one shared block
// applied R times. Every term mirrors a matmul in baselines/universal_transformer.cpp and
// models/blocks/*, so the FLOP counter test can hold it to 1%. With ACT the halting unit
// (Linear d -> 1, 2d FLOPs) runs before every step, and all R steps always run (the
// implementation never exits early), so the executed count at evaluation is the full R.
#include "baselines/universal_transformer.h"
#include "models/cost.h"
#include "models/memory.h"

#include <cmath>

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
  step += (swiglu ? 6 : 4) * d * ffn_h;  // (gate,) up, down
  if (c.act.enabled) step += 2 * d;      // halting unit
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;
  cost.flops_forward_per_token = R * step + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;  // gradients through all R

  // Memory (models/memory.h): R applications of the block. ACT adds per step the halting
  // unit's input copy (autocast) and sigmoid result, the running mask, the step weight, and
  // the previous mixed state kept by the mixing multiply.
  namespace mem = models::memory;
  mem::BlockShape bs;
  bs.d = d, bs.heads = H, bs.kv_heads = Hkv, bs.head_dim = dh, bs.ffn_hidden = ffn_h;
  bs.activation = c.activation, bs.norm = b.norm;
  const int64_t steps = static_cast<int64_t>(std::ceil(R));
  mem::Ledger saved(w);
  double recompute = 0;
  auto act_step = [&](mem::Ledger& l) {
    if (!c.act.enabled) return;
    mem::linear_inputs(l, d, 1, /*exists=*/true);
    l.tensor(1, 4, 4);        // p, running, new_halted, remainders' factor
    l.tensor(1, l.resid, 2);  // weight, 1 - weight
    l.tensor(d, l.resid);     // the previous mixed state
  };
  if (w.activation_checkpointing) {
    saved.tensor(d, saved.resid, static_cast<double>(steps));
    recompute = mem::block_bytes(w, bs);
    cost.flops_recompute_per_token = R * step - (c.act.enabled ? R * 2 * d : 0);
    cost.flops_train_per_token += cost.flops_recompute_per_token;
    for (int64_t r = 0; r < steps; ++r) act_step(saved);
  } else {
    for (int64_t r = 0; r < steps; ++r) {
      mem::block_attention_half(saved, bs);
      mem::block_mlp_half(saved, bs);
      act_step(saved);
    }
  }
  mem::lm_head_inputs(saved, b.norm, d);
  const double kv = R * 2 * Hkv * dh * T * w.batch;  // one sequence cache per step
  if (steps > 1) saved.backward_buffers = cost.params.non_embedding * saved.resid;
  saved.tied_head = b.tie_embeddings;
  mem::finish(cost, w, saved, d, V, static_cast<double>(cost.params.non_embedding) + V * d, 0, kv,
              recompute);
  return cost;
}

}  // namespace dreamer::baselines
