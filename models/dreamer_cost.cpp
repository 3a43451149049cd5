// Cost model of the Dreamer family (models/cost.h conventions). Every term mirrors a matmul
// in models/dreamer.cpp and models/blocks/*, so the FLOP counter test can hold it to 1%.
#include <algorithm>
#include <cmath>

#include "models/cost.h"
#include "models/dreamer.h"
#include "models/memory.h"

#include <stdexcept>

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

// Memory of depth r with gradients (models/memory.h conventions); R = depths of this call.
// Parallel mode: the depth input h (norm_mix's), its internals, its output read by SA's q, k,
// v, DA's k, v (write) and q (read), the router's query or the FFN; separate mode adds each
// sub-layer's own norm input and internals. DA write keeps nothing (the level buffers hold
// k and v); DA read keeps the (rotated) query, the float32 probabilities over
// the readable levels and the output reshaped for o (the level buffers hold k and v: added
// once per call by the caller). Joint mode: SA's tensors with the T x T (+ depth) float32
// probabilities and the stacked earlier keys and values. All-tokens scope: the concatenated
// keys and values of every level and the [T, L*T] probabilities and mask.
double depth_memory(const DreamerConfig& c, const DreamerShapes& s, models::memory::Ledger& l,
                    double r) {
  namespace mem = models::memory;
  const double d = s.d, T = static_cast<double>(l.w.seq_len);
  const bool peri = c.norm_placement == NormPlacement::kPeri;
  const bool rope_da = c.depth_attention.rope != DepthRope::kNone;
  const auto norm = c.norm;
  const double levels = r + (s.depth0 ? 1 : 0);
  const double ffn_reads = s.swiglu_ffn ? 2 : 1;
  const double channel_reads = s.ea ? 1 : ffn_reads;  // the router's query or logits matmul
  auto da_read_write = [&] {
    // The write keeps nothing: k and v live on in the level buffers (RoPE keeps cos/sin).
    l.tensor(s.I, l.lp);  // the (rotated) query
    if (s.all_tokens) {
      l.tensor(s.I * levels, l.lp, 2);  // concatenated keys, values
      l.tensor(s.Hd * levels * T, 4);   // probabilities
      if (l.lp < 4) l.tensor(s.Hd * levels * T, l.lp);
      l.fixed(T * T * levels);  // mask
    } else {
      l.tensor(s.Hd * levels, 4);  // probabilities
    }
    l.tensor(s.I, l.lp);  // output reshaped for o
  };
  auto channel = [&] {
    if (s.ea) {
      mem::RouterShape rs;
      rs.d = d, rs.dk = s.dk, rs.experts = s.E, rs.k = s.k, rs.linear_query = s.linear_query;
      rs.depth_offset = c.expert_attention.depth_encoding == DepthEncoding::kLearnedOffset;
      rs.depth_rope = c.expert_attention.depth_encoding == DepthEncoding::kRope;
      rs.renormalize = c.expert_attention.renormalize;
      mem::router(l, rs);
      return mem::experts(l, d, s.de, s.E, s.k, c.expert_attention.activation, s.swiglu_experts);
    }
    mem::ffn_hidden(l, c.ffn.activation, s.ffn_h);
    return 0.0;
  };
  double per_call = 0;
  l.tensor(d, l.resid);  // the depth input
  mem::norm_internals(l, norm, d);
  if (s.parallel) {
    const double v_reads = peri ? (s.da ? 2 : 1) : 0;  // SA's and DA's v read h under peri
    double reads = 3 + (s.da ? 3 : 0) + (s.expert_branch ? channel_reads : 0) - v_reads;
    mem::linear_inputs(l, d, reads);
    mem::linear_inputs(l, d, v_reads, /*exists=*/true);
    mem::sequence_attention(l, s.H, s.Hkv, s.dh, true);
    if (s.da) da_read_write();
    if (!s.expert_branch) {
      l.tensor(d, l.resid);  // h + branches, norm_ffn's input
      mem::norm_internals(l, norm, d);
      mem::linear_inputs(l, d, channel_reads);
    }
    per_call += channel();
  } else {
    mem::linear_inputs(l, d, peri ? 2 : 3);
    if (peri) mem::linear_inputs(l, d, 1, true);
    if (s.joint) {
      const double earlier = r - 1;
      l.tensor(s.H * s.dh, l.lp);        // q (rotated)
      l.tensor(s.Hkv * s.dh, l.lp, 2);   // k (rotated), v
      l.tensor(s.H * (T + earlier), 4);  // probabilities over sequence and depth keys
      if (l.lp < 4) l.tensor(s.H * (T + earlier), l.lp);
      l.fixed(T * T);
      l.tensor(s.H * s.dh * earlier, l.lp, 2);  // stacked earlier keys, values
      l.tensor(s.H * s.dh, l.lp);               // output reshaped for o
    } else {
      mem::sequence_attention(l, s.H, s.Hkv, s.dh, true);
    }
    if (s.da && !s.joint) {
      l.tensor(d, l.resid);  // h + SA, norm_da's input
      mem::norm_internals(l, norm, d);
      mem::linear_inputs(l, d, peri ? 2 : 3);
      if (peri) mem::linear_inputs(l, d, 1, true);
      da_read_write();
    }
    l.tensor(d, l.resid);  // norm_ffn's input
    mem::norm_internals(l, norm, d);
    mem::linear_inputs(l, d, channel_reads);
    per_call += channel();
  }
  return per_call;
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

  namespace mem = models::memory;
  mem::Ledger saved(w);
  const int64_t depths = static_cast<int64_t>(std::ceil(R - 1e-9));
  const int64_t first_grad = depths - static_cast<int64_t>(std::ceil(grad_steps - 1e-9)) + 1;
  double per_call = 0, recompute = 0;
  if (w.activation_checkpointing) {
    if (s.da)
      throw std::invalid_argument(
          "workload.activation_checkpointing is not supported by dreamer with depth attention: "
          "a depth step reads and writes the depth memory (not implemented)");
    saved.tensor(s.d, saved.resid, depths - first_grad + 1);
    mem::Ledger one(w);
    per_call += (depths - first_grad + 1) * depth_memory(c, s, one, R);
    recompute = one.bytes();
    cost.flops_recompute_per_token = grad_depths;
    cost.flops_train_per_token += grad_depths;
  } else {
    for (int64_t r = first_grad; r <= depths; ++r) per_call += depth_memory(c, s, saved, r);
  }
  if (s.da && !s.joint && s.depth0) {  // level 0 (outside the no-grad steps)
    // x0 = norm(embedding); the embedding is depth 1's input unless depth 1 runs without
    // gradients.
    if (first_grad > 1) saved.tensor(s.d, saved.resid);
    mem::norm_internals(saved, c.norm, s.d);
    mem::linear_inputs(saved, s.d, 2);
  }
  if (s.da && !s.joint && !s.all_tokens) saved.fixed(saved.tokens * (R + 1) * s.I * saved.lp, 2);
  mem::lm_head_inputs(saved, c.norm, s.d);

  const double kv = R * 2 * s.Hkv * s.dh * T * w.batch;  // sequence KV cache of every depth
  double depth_cache = 0;
  if (s.da && !s.joint)
    depth_cache =
        (R + 1) * 2 * s.I * w.batch * (s.all_tokens ? T : 1.0);  // same_token: in flight only
  saved.backward_buffers =
      ((depths - first_grad + 1) > 1 ? cost.params.non_embedding : 0) * saved.resid +
      expert_params * saved.resid;
  saved.tied_head = c.tie_embeddings;
  mem::finish(cost, w, saved, s.d, s.V, static_cast<double>(cost.params.non_embedding) + s.V * s.d,
              per_call, kv + depth_cache, recompute);
  return cost;
}

}  // namespace dreamer::models
