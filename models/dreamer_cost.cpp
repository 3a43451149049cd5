// Cost model of the Dreamer family (models/cost.h conventions). Every term mirrors a matmul
// in models/dreamer.cpp and models/blocks/*, so the FLOP counter test can hold it to 1%.
#include <algorithm>
#include <cmath>

#include "models/cost.h"
#include "models/dreamer.h"

namespace dreamer::models {

namespace {

struct DreamerShapes {
  double d, V, H, Hkv, dh, Hd, I /* DA heads x head dim */, dk, E, k, de, ffn_h;
  bool da, joint, parallel, expert_branch, all_tokens, depth0, ea, swiglu_experts, swiglu_ffn,
      linear_query;
};

DreamerShapes shapes_of(const DreamerConfig& c) {
  DreamerShapes s{};
  s.d = c.d_model;
  s.V = c.vocab_size;
  s.H = c.n_heads;
  s.Hkv = c.kv_heads();
  s.dh = c.seq_head_dim();
  s.da = c.depth_attention.enabled;
  s.joint = c.mix_mode == MixMode::kJointSequenceDepth;
  s.parallel = c.mix_mode == MixMode::kParallel;
  s.expert_branch = c.expert_is_branch();
  s.all_tokens = c.depth_attention.scope == DepthScope::kAllTokensCausal;
  s.depth0 = c.depth_attention.include_depth0;
  s.Hd = static_cast<double>(c.da_heads());
  s.I = static_cast<double>(c.da_heads() * c.da_head_dim());
  const auto& ea = c.expert_attention;
  s.ea = ea.enabled;
  s.linear_query = ea.query == RouterQuery::kLinear;
  s.dk = !s.linear_query || ea.router_dim == 0 ? c.d_model : ea.router_dim;
  s.E = ea.n_experts;
  s.k = ea.k;
  s.de = ea.expert_dim;
  s.swiglu_experts = ea.activation == Activation::kSwiGLU;
  s.ffn_h = c.ffn_hidden();
  s.swiglu_ffn = c.ffn.activation == Activation::kSwiGLU;
  return s;
}

// Forward matmul FLOPs per token of depth r (1-based) in a sequence of T tokens.
double depth_flops(const DreamerShapes& s, double r, double T) {
  double f = sequence_attention_flops(s.d, s.H, s.Hkv, s.dh, T);
  if (s.da && s.joint) {
    f += 4 * (r - 1) * s.H * s.dh;  // the same token's earlier depths in the joint softmax
  } else if (s.da) {
    const double levels = r + (s.depth0 ? 1 : 0);
    f += 8 * s.d * s.I;                                // q, k, v, o
    f += 4 * levels * s.I * (s.all_tokens ? T : 1.0);  // scores + mix over depth levels
  }
  if (s.ea) {
    f += (s.linear_query ? 2 * s.d * s.dk : 0) + 2 * s.dk * s.E;  // router query and logits
    f += s.k * (s.swiglu_experts ? 6 : 4) * s.d * s.de;           // the selected experts
  } else {
    f += (s.swiglu_ffn ? 6 : 4) * s.d * s.ffn_h;
  }
  return f;
}

// Activation elements kept for backward, per token and depth (fused attention assumed: the
// T x T probabilities are not stored, as with SDPA's flash kernels). Every sub-layer with its
// own norm keeps its input and normed input (2 d); parallel branches share SA's (summing the
// branch outputs keeps nothing).
double depth_activations(const DreamerShapes& s, double r) {
  double a = sequence_attention_activations(s.d, s.H, s.Hkv, s.dh);  // includes h, norm(h)
  if (s.da && !s.joint)
    a += (s.parallel ? 0 : 2 * s.d) + 4 * s.I + (r + 1) * s.Hd;  // h, x, q, k, v, out, weights
  const double own_norm = s.expert_branch ? 0 : 2 * s.d;
  if (s.ea)
    a += own_norm + s.dk + s.E + s.k * (2 * s.d + (s.swiglu_experts ? 3 : 2) * s.de);
  else
    a += own_norm + (s.swiglu_ffn ? 3 : 2) * s.ffn_h;
  return a;
}

}  // namespace

Cost dreamer_cost(const DreamerConfig& c, const Workload& w) {
  const DreamerShapes s = shapes_of(c);
  const double T = static_cast<double>(w.seq_len);
  const bool sampled = c.recurrence.sampling == RecurrenceSampling::kPoissonLognormal;
  // Huginn's sampler has expectation mean + 1 (docs/DESIGN.md).
  const double R = w.recurrences > 0 ? w.recurrences : c.recurrence.mean + (sampled ? 1 : 0);
  const double grad_steps =
      c.recurrence.backprop_depth > 0 ? std::min<double>(c.recurrence.backprop_depth, R) : R;
  Cost cost;
  cost.params = c.parameter_counts();
  const double expert_params = s.ea ? s.E * s.d * s.de * (s.swiglu_experts ? 3 : 2) : 0;
  cost.active_params =
      cost.params.total - static_cast<int64_t>(expert_params * (1.0 - s.k / std::max(1.0, s.E)));

  // Whole depths plus the fractional last one when R is a mean.
  auto sum_depths = [&](double from, double to, auto per_depth) {
    double total = 0;
    for (double r = from; r <= to + 1e-9; r += 1) total += per_depth(r);
    const double frac = to - std::floor(to + 1e-9);
    if (frac > 1e-9) total += frac * per_depth(std::floor(to) + 1);
    return total;
  };
  const double head = 2 * s.d * s.V;
  const double depth0 = s.da && !s.joint && s.depth0 ? 4 * s.d * s.I : 0;  // level-0 k, v
  const double all_depths = sum_depths(1, R, [&](double r) { return depth_flops(s, r, T); });
  const double grad_depths =
      sum_depths(R - grad_steps + 1, R, [&](double r) { return depth_flops(s, r, T); });
  cost.flops_forward_per_token = depth0 + all_depths + head;
  // Level 0 is written outside the no-grad steps, so its k, v always get a backward pass.
  cost.flops_train_per_token = cost.flops_forward_per_token + 2 * (grad_depths + head + depth0);

  const double per_token_saved =
      w.activation_checkpointing
          ? grad_steps * s.d + depth_activations(s, R)  // layer inputs + one layer recomputed
          : sum_depths(R - grad_steps + 1, R, [&](double r) { return depth_activations(s, r); });

  const double kv = R * 2 * s.Hkv * s.dh * T * w.batch;  // sequence KV cache of every depth
  double depth_cache = 0;
  if (s.da && !s.joint)
    depth_cache =
        (R + 1) * 2 * s.I * w.batch * (s.all_tokens ? T : 1.0);  // same_token: in flight only
  set_memory(cost, w, per_token_saved, kv + depth_cache, c.d_model, c.vocab_size);
  return cost;
}

}  // namespace dreamer::models
