// Cost model of the Huginn family (models/cost.h conventions). Every term mirrors a matmul in
// baselines/huginn.cpp and models/blocks/transformer_block.cpp (sequence attention, FFN), so
// the FLOP counter test (tests/matching/cost_model_test.cpp) can hold it to 1%.
#include <algorithm>
#include <cmath>

#include "baselines/huginn.h"

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

// Activation elements kept for backward, per token and block (fused attention).
double block_activations(const HuginnShapes& s, bool sandwich) {
  double a =
      models::sequence_attention_activations(s.d, s.H, s.Hkv, s.dh);  // h, n1(h), q, k, v, out
  a += 2 * s.d + (s.swiglu ? 3 : 2) * s.ffn_h;                        // h, n3(h), hidden
  if (sandwich) a += 2 * s.d;                                         // n2, n4 inputs
  return a;
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

  const double per_block = block_activations(s, c.sandwich);
  const double adapter_saved = c.injection == Injection::kLinear ? 2 * s.d : 0;  // cat[s, e]
  const double grad_blocks = ends_blocks + grad_steps * core;
  const double ln_f_saved = s.d;  // ln_f's input where the recurrence meets the coda
  const double per_token_saved =
      ln_f_saved + (w.activation_checkpointing
                        ? grad_blocks * s.d + per_block  // block inputs + one block recomputed
                        : grad_blocks * per_block + grad_steps * adapter_saved);
  // A KV cache per block application: prelude, every core step, coda.
  const double kv = (ends_blocks + R * core) * 2 * s.Hkv * s.dh * T * w.batch;
  models::set_memory(cost, w, per_token_saved, kv, static_cast<int64_t>(s.d),
                     static_cast<int64_t>(s.V));
  return cost;
}

}  // namespace dreamer::baselines
