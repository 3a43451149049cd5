// Cost model of the Huginn family (models/cost.h conventions). Every term mirrors a matmul in
// baselines/huginn.cpp and models/blocks/transformer_block.cpp (sequence attention, FFN), so
// the FLOP counter test (tests/matching/cost_model_test.cpp) can hold it to 1%.
#include <algorithm>
#include <cmath>

#include "baselines/huginn.h"
#include "models/memory.h"

namespace dreamer::baselines {

namespace {

struct HuginnShapes {
  double d, V, H, Hkv, dh, ffn_h;
  bool swiglu;
};

// Forward matmul FLOPs per token of one block application in a sequence of T tokens.
double block_flops(const HuginnShapes& s, double T) {
  double f = models::sequence_attention_flops(s.d, s.H, s.Hkv, s.dh, T);
  f += (s.swiglu ? 6 : 4) * s.d * s.ffn_h;  // MLP
  return f;
}

}  // namespace

models::Cost huginn_cost(const HuginnConfig& c, const models::Workload& w) {
  const auto block = c.block();
  HuginnShapes s{};
  s.d = static_cast<double>(c.backbone.d_model);
  s.V = static_cast<double>(c.backbone.vocab_size);
  s.H = static_cast<double>(c.backbone.n_heads);
  s.Hkv = static_cast<double>(c.backbone.kv_heads());
  s.dh = static_cast<double>(c.backbone.seq_head_dim());
  s.ffn_h = static_cast<double>(block.ffn_hidden);
  s.swiglu = block.activation == models::Activation::kSwiGLU;
  const double T = static_cast<double>(w.seq_len);
  const bool sampled = c.recurrence.sampling == models::RecurrenceSampling::kPoissonLognormal;
  // Huginn's sampler has expectation mean + 1 (docs/DESIGN.md).
  const double R = w.recurrences > 0 ? w.recurrences
                                     : static_cast<double>(c.recurrence.mean) + (sampled ? 1 : 0);
  const double grad_steps =
      c.recurrence.backprop_depth > 0
          ? std::min<double>(static_cast<double>(c.recurrence.backprop_depth), R)
          : R;
  const double ends_blocks = static_cast<double>(c.n_prelude + c.n_coda);
  const double core = static_cast<double>(c.n_core);

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;  // dense

  const double blk = block_flops(s, T);
  const double adapter = c.injection == Injection::kLinear ? 2 * (2 * s.d) * s.d : 0;
  const double step = core * blk + adapter;  // one recurrence: injection + the core blocks
  const double head = 2 * s.d * s.V;         // LM head (tied or not)
  cost.flops_forward_per_token = ends_blocks * blk + R * step + head;
  // Truncated backprop: prelude, coda and head always train; only the last steps of the core.
  cost.flops_train_per_token =
      cost.flops_forward_per_token + 2 * (ends_blocks * blk + grad_steps * step + head);

  // Memory (models/memory.h): every block application with gradients (prelude, the last
  // grad_steps core steps, coda) keeps its tensors, or, checkpointed, its input; the linear
  // injection keeps cat[s, e]; ln_f keeps its input where the recurrence meets the coda.
  namespace mem = models::memory;
  mem::BlockShape bs;
  bs.d = s.d, bs.heads = s.H, bs.kv_heads = s.Hkv, bs.head_dim = s.dh, bs.ffn_hidden = s.ffn_h;
  bs.activation = block.activation, bs.norm = c.backbone.norm, bs.sandwich = c.sandwich;
  const double grad_blocks = ends_blocks + std::ceil(grad_steps) * core;
  mem::Ledger saved(w);
  double recompute = 0;
  if (w.activation_checkpointing) {
    saved.tensor(s.d, saved.resid, grad_blocks);
    recompute = mem::block_bytes(w, bs);
    cost.flops_recompute_per_token = ends_blocks * blk + grad_steps * core * blk;
    cost.flops_train_per_token += cost.flops_recompute_per_token;
  } else {
    for (int64_t i = 0; i < static_cast<int64_t>(grad_blocks); ++i) {
      mem::block_attention_half(saved, bs);
      mem::block_mlp_half(saved, bs);
    }
  }
  if (c.injection == Injection::kLinear) {
    mem::Ledger cat(w);
    cat.tensor(2 * s.d, cat.autocast ? cat.lp : cat.resid);
    saved.fixed(cat.bytes(), std::ceil(grad_steps));
  }
  saved.tensor(s.d, saved.resid);  // ln_f's input
  mem::norm_internals(saved, c.backbone.norm, s.d);
  mem::lm_head_inputs(saved, c.backbone.norm, s.d);
  // A KV cache per block application: prelude, every core step, coda.
  const double kv = (ends_blocks + R * core) * 2 * s.Hkv * s.dh * T * w.batch;
  if (grad_steps > 1)
    saved.backward_buffers = core * models::transformer_block_parameters(block) * saved.resid;
  saved.tied_head = c.backbone.tie_embeddings;
  mem::finish(cost, w, saved, s.d, s.V, static_cast<double>(cost.params.non_embedding) + s.V * s.d,
              0, kv, recompute);
  return cost;
}

}  // namespace dreamer::baselines
