#include "models/memory.h"

#include <algorithm>
#include <cmath>

namespace dreamer::models::memory {

Ledger::Ledger(const Workload& w_)
    : w(w_),
      tokens(static_cast<double>(w_.batch) * static_cast<double>(w_.seq_len)),
      lp(static_cast<double>(w_.activation_bytes)),
      resid(static_cast<double>(w_.param_bytes)),
      autocast(w_.activation_bytes < w_.param_bytes) {}

double Ledger::round(double b) const {
  const double g = static_cast<double>(std::max<int64_t>(1, w.allocation_granularity));
  return std::ceil(b / g) * g;
}

void Ledger::tensor(double per_token, double elem, double count) {
  if (per_token <= 0 || count <= 0) return;
  bytes_ += count * round(tokens * per_token * elem);
}

void Ledger::fixed(double bytes, double count) {
  if (bytes <= 0 || count <= 0) return;
  bytes_ += count * round(bytes);
}

void linear_inputs(Ledger& l, double width, double n, bool exists) {
  if (n <= 0) return;
  if (l.autocast)
    l.tensor(width, l.lp, n);
  else if (!exists)
    l.tensor(width, l.resid);
}

void norm_internals(Ledger& l, NormKind kind, double d) {
  if (kind == NormKind::kRMSNorm) {
    l.tensor(1, 4);     // rsqrt's result
    l.tensor(d, 4, 2);  // x * r (kept by the weight multiply) and one more [N, d] (measured)
  } else {
    l.tensor(1, 4, 2);  // mean, rstd
  }
}

void sequence_attention(Ledger& l, double h, double hkv, double dh, bool rope) {
  const double T = static_cast<double>(l.w.seq_len);
  const double rot = 1;         // the rotated copy (RoPE's multiplies by cos/sin keep only cos/sin)
  l.tensor(h * dh, l.lp, rot);  // q
  if (l.w.fused_attention) {
    l.tensor(hkv * dh, l.lp, rot);  // k
    l.tensor(hkv * dh, l.lp);       // v
    l.tensor(h * dh, l.lp);         // SDPA's output
    l.tensor(h, 4);                 // log-sum-exp
  } else {
    if (hkv == h) {
      l.tensor(hkv * dh, l.lp, rot);  // k
    } else {
      l.tensor(h * dh, l.lp);  // k repeated to the query heads
    }
    l.tensor(h * dh, l.lp);               // v (repeated, or matmul's contiguous copy)
    l.tensor(h * T, 4);                   // softmax probabilities
    if (l.lp < 4) l.tensor(h * T, l.lp);  // their low-precision copy for the mixing matmul
    l.fixed(T * T);                       // the boolean causal mask
  }
  l.tensor(h * dh, l.lp);  // the output reshaped [B, T, H*Dh] for o
}

void ffn_hidden(Ledger& l, Activation a, double hidden) {
  switch (a) {
    case Activation::kSwiGLU:
      l.tensor(hidden, l.lp, 4);
      break;
    case Activation::kReLU:
      l.tensor(hidden, l.lp);
      break;
    case Activation::kGELU:
    case Activation::kSiLU:
      l.tensor(hidden, l.lp, 2);
      break;
  }
}

void router(Ledger& l, const RouterShape& s) {
  if (s.linear_query) {
    if (s.depth_offset)
      l.tensor(s.dk, l.autocast ? l.lp : 4);  // q + offset (float32), or its cast copy
    else if (s.depth_rope)
      l.tensor(s.dk, l.lp);  // the rotated q
    else
      l.tensor(s.dk, l.lp);  // q
  } else {
    // Identity query: x itself meets the keys (counted by the caller as a linear input),
    // plus the offset's float32 sum or RoPE's rotated copy.
    if (s.depth_offset || s.depth_rope) l.tensor(s.dk, l.autocast ? l.lp : 4);
    if (s.depth_rope && l.autocast) l.tensor(s.dk, 4);
  }
  l.tensor(s.experts, 4);  // sigmoid/softmax scores (float32, kept as their result)
  l.tensor(s.k, 8);        // ids (top-k, int64), kept by gather
  if (s.renormalize) {
    l.tensor(s.k, 4);  // gathered scores (the division's numerator)
    l.tensor(1, 4);    // the denominator
  }
  l.tensor(s.k, l.autocast ? l.lp : 4);  // gates kept by the combine multiply
}

double experts(Ledger& l, double d, double de, double E, double k, Activation a, bool gated) {
  l.tensor(k, 8, 2);  // token_of_slot, position (index_select indices)
  const bool grouped = l.autocast && l.w.grouped_experts;
  const double reads = gated ? 2 : 1;  // up (and gate) matmuls read the gathered rows
  if (grouped)
    l.tensor(k * d, l.lp);  // rows cast once to bf16
  else if (l.autocast)
    l.tensor(k * d, l.lp, reads);  // each matmul casts its slice
  else
    l.tensor(k * d, l.resid);  // the gathered rows
  ffn_hidden(l, a, k * de);
  l.tensor(k * d, l.lp);  // expert outputs gathered back to slot order (the weighted product)
  if (!l.autocast || grouped) return 0;
  return E * d * de * (gated ? 3 : 2) * l.lp;  // the loop's per-expert weight slices, cast
}

void lm_head_inputs(Ledger& l, NormKind kind, double d) {
  l.tensor(d, l.resid);  // the final state (the final norm's input)
  norm_internals(l, kind, d);
  linear_inputs(l, d, 1);
}

void finish(Cost& cost, const Workload& w, const Ledger& blocks, double d, double V,
            double matmul_params, double extra_autocast, double cache_elements,
            double checkpoint_recompute) {
  MemoryBreakdown& m = cost.memory;
  const double P = static_cast<double>(cost.params.total);
  const double tokens = blocks.tokens;
  m.weights = P * static_cast<double>(w.param_bytes);
  m.gradients = P * static_cast<double>(w.param_bytes);
  m.optimizer = P * static_cast<double>(w.optimizer_state_bytes);
  m.autocast_copies = blocks.autocast ? matmul_params * blocks.lp + extra_autocast : 0;
  m.activations = blocks.bytes();
  m.checkpoint_recompute = checkpoint_recompute;
  // Logits and loss. Full logits: log_softmax keeps its float32 output [N, V] and nll_loss
  // a contiguous copy of the targets; the peak is log_softmax's backward, which holds that
  // output, the incoming gradient and its result (3 x [N, V] float32). Chunked
  // (train/loss.h): the forward forms d_hidden [N, d] and d_weight [V, d] (float32) and
  // holds one chunk's logits (matmul output, float32 copy, exp'd gradient, its cast);
  // backward scales both gradients into new tensors.
  Ledger loss(w);
  if (w.loss_chunk_rows <= 0) {
    loss.tensor(V, 4);
    loss.tensor(1, 8);
    m.logits_loss_saved = loss.bytes();
    Ledger peak(w);
    peak.tensor(V, 4, 3);
    peak.tensor(1, 8);
    m.logits_loss = peak.bytes();
  } else {
    loss.tensor(d, blocks.resid);  // d_hidden
    loss.fixed(V * d * 4);         // d_weight
    m.logits_loss_saved = loss.bytes();
    // -1: the trainer's default chunk (train/loss.h, cross_entropy_chunk_rows).
    const double chunk_rows = w.loss_chunk_rows > 0
                                  ? static_cast<double>(w.loss_chunk_rows)
                                  : std::max(1.0, std::floor(256.0 * 1024 * 1024 / (4.0 * V)));
    const double rows = std::min<double>(chunk_rows, tokens);
    const double chunk = rows * V * (2 * blocks.lp + 8) +
                         (blocks.autocast ? tokens * d * blocks.lp + V * d * blocks.lp : 0);
    const double scaled = tokens * d * 4 + V * d * 4 * 2;
    m.logits_loss = m.logits_loss_saved + std::max(chunk, scaled);
  }
  // Peak of a step that starts with the optimizer's state allocated: at the start of
  // backward every saved tensor, the autocast copies and the loss's peak are alive; the
  // gradients are too unless zero_grad freed them (then they grow while activations are
  // freed, and the end of backward holds all of them).
  const double start_of_backward =
      m.activations + m.autocast_copies + std::max(m.logits_loss, blocks.backward_buffers);
  const double fixed = m.weights + m.optimizer;
  m.train_peak = w.grads_freed_between_steps
                     ? fixed + std::max(start_of_backward, m.gradients) + checkpoint_recompute
                     : fixed + m.gradients + start_of_backward + checkpoint_recompute;
  // The end of backward: every gradient, and the embedding table's dense gradient arriving
  // (then added to .grad). Tied, the head's gradient (a transposed [V, d]) waits in the
  // engine's buffer and the sum of the two is a third table: 3 tables with kept gradients
  // (measured on the CPU), 2 when AccumulateGrad takes the sum as the new .grad.
  const double table = V * d * blocks.resid;
  const double end_of_backward =
      fixed + m.gradients +
      (w.grads_freed_between_steps ? (blocks.tied_head ? 2 : 0) : (blocks.tied_head ? 3 : 1)) *
          table;
  m.train_peak = std::max(m.train_peak, end_of_backward);
  // The optimizer step holds weights, gradients, moments and the foreach path's denominators
  // (one tensor per parameter; the fused CUDA kernel has none, counted anyway: it binds only
  // for models whose activations are small next to their weights).
  m.train_peak = std::max(m.train_peak, fixed + m.gradients + m.weights);
  m.inference_weights = P * static_cast<double>(w.activation_bytes);
  m.inference_caches = cache_elements * static_cast<double>(w.activation_bytes);

  cost.memory_activation_bytes = m.activations + m.logits_loss_saved;
  cost.memory_train_bytes = m.train_peak;
  cost.memory_inference_bytes = m.inference_weights + m.inference_caches;
}

}  // namespace dreamer::models::memory

namespace dreamer::models::memory {

void block_attention_half(Ledger& l, const BlockShape& s) {
  l.tensor(s.d, l.resid);  // the block input (n1's)
  norm_internals(l, s.norm, s.d);
  linear_inputs(l, s.d, 3);  // q, k, v read n1's output
  sequence_attention(l, s.heads, s.kv_heads, s.head_dim, s.rope);
  if (s.sandwich) {
    l.tensor(s.d, l.resid);  // h + attn (n2's input)
    norm_internals(l, s.norm, s.d);
  }
  l.tensor(s.d, l.resid);  // n3's input
}

void block_mlp_half(Ledger& l, const BlockShape& s) {
  norm_internals(l, s.norm, s.d);
  linear_inputs(l, s.d, s.activation == Activation::kSwiGLU ? 2 : 1);
  ffn_hidden(l, s.activation, s.ffn_hidden);
  if (s.sandwich) {
    l.tensor(s.d, l.resid);  // h + mlp (n4's input)
    norm_internals(l, s.norm, s.d);
  }
}

double block_bytes(const Workload& w, const BlockShape& s) {
  Ledger l(w);
  block_attention_half(l, s);
  block_mlp_half(l, s);
  return l.bytes();
}

}  // namespace dreamer::models::memory
