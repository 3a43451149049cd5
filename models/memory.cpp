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

namespace {
// The [N, d] float32 tensors RMSNorm keeps besides rstd, its input and its output.
double rms_norm_kept_tensors(const Workload& w) {
  if (w.torch_version < 200) return 2;             // 1.13's composite (measured on the CPU)
  if (w.cuda && w.torch_version >= 209) return 0;  // _fused_rms_norm: input, rstd, weight
  return 1;  // composite (at::rms_norm on the 2.11 CPU, measured): x * r for the weight mul
}
}  // namespace

void norm_internals(Ledger& l, NormKind kind, double d) {
  if (kind == NormKind::kRMSNorm) {
    l.tensor(1, 4);                              // rsqrt's result (rstd)
    l.tensor(d, 4, rms_norm_kept_tensors(l.w));  // x * r (composite), see above
  } else {
    l.tensor(1, 4, 2);  // mean, rstd
  }
}

void sequence_attention(Ledger& l, double h, double hkv, double dh, bool rope) {
  const double T = static_cast<double>(l.w.seq_len);
  const double rot = 1;         // the rotated copy (RoPE's multiplies by cos/sin keep only cos/sin)
  l.tensor(h * dh, l.lp, rot);  // q
  const SdpaKernel kernel = l.w.sdpa_kernel;
  if (l.w.fused_attention && kernel != SdpaKernel::kMath) {
    l.tensor(hkv * dh, l.lp, rot);  // k
    l.tensor(hkv * dh, l.lp);       // v
    l.tensor(h * dh, l.lp);         // SDPA's output
    // Log-sum-exp [B, H, T] f32; the mem-efficient kernel pads T to a multiple of 32.
    l.tensor(kernel == SdpaKernel::kEfficient ? h * std::ceil(T / 32) * 32 / T : h, 4);
    // The mem-efficient and CPU flash kernels write their output [B, T, H, Dh]: the reshape
    // for o is a view. Flash (and cuDNN) lay it out as q is ([B, H, T, Dh] after RoPE): o's
    // input is a copy.
    if (kernel == SdpaKernel::kEfficient || kernel == SdpaKernel::kCpuFlash) return;
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
    case Activation::kSwiGLU:  // gate and up (swiglu's node), the gated product (the next linear)
      l.tensor(hidden, l.lp, l.w.fused_swiglu ? 3 : 4);
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
  l.tensor(k, 8, 2);  // position, order (kept by the slot gathers for their backward)
  const bool grouped = l.autocast && l.w.grouped_experts;
  const double reads = gated ? 2 : 1;  // up (and gate) matmuls read the gathered rows
  if (grouped)
    l.tensor(k * d, l.lp);  // rows cast once to bf16
  else if (l.autocast)
    l.tensor(k * d, l.lp, reads);  // each matmul casts its slice
  else
    l.tensor(k * d, l.resid);  // the gathered rows
  ffn_hidden(l, a, k * de);
  if (grouped) {
    // fold_gates: the hidden state scaled by its slot's gate is the down projection's input;
    // the outputs gathered back are only summed (nothing kept).
    l.tensor(k * de, l.lp);
    return 0;
  }
  l.tensor(k * d, l.lp);  // expert outputs gathered back to slot order (the weighted product)
  if (!l.autocast) return 0;
  return E * d * de * (gated ? 3 : 2) * l.lp;  // the loop's per-expert weight slices, cast
}

void lm_head_inputs(Ledger& l, NormKind kind, double d) {
  l.tensor(d, l.resid);  // the final state (the final norm's input)
  norm_internals(l, kind, d);
  // The chunked loss keeps its gradients, not its input (train/loss.h).
  if (l.w.loss_chunk_rows == 0) linear_inputs(l, d, 1);
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
  const bool chunked = w.loss_chunk_rows != 0;
  // The chunked loss casts the head's weight itself (not autocast's cached copy): a transient
  // of its forward, counted there.
  m.autocast_copies =
      blocks.autocast ? (matmul_params - (chunked ? V * d : 0)) * blocks.lp + extra_autocast : 0;
  m.activations = blocks.bytes();
  m.checkpoint_recompute = checkpoint_recompute;
  // Logits and loss. Full logits: log_softmax keeps its float32 output [N, V] and nll_loss
  // a contiguous copy of the targets; the peak is log_softmax's backward, which holds that
  // output, the incoming gradient and its result (3 x [N, V] float32). Chunked
  // (train/loss.h): the forward keeps d_hidden [N, d] and d_weight [V, d] (float32); one
  // chunk of `rows` holds its logits (matmul output in the activation dtype; under autocast
  // their float32 copy and the gradient's low-precision cast too) and the exp'd gradient
  // (float32), with one weight-gradient product [V, d] (or the smaller [rows, d] one), and
  // under autocast the bf16 casts of the hidden states and of the head's weight; backward
  // scales both gradients into new tensors.
  Ledger loss(w);
  if (!chunked) {
    loss.tensor(V, 4);
    loss.tensor(1, 8);
    m.logits_loss_saved = loss.bytes();
    Ledger peak(w);
    peak.tensor(V, 4, 3);
    peak.tensor(1, 8);
    m.logits_loss = peak.bytes();
  } else {
    loss.tensor(d, 4);      // d_hidden
    loss.fixed(V * d * 4);  // d_weight
    m.logits_loss_saved = loss.bytes();
    // -1: the trainer's default chunk (train/loss.h, cross_entropy_chunk_rows).
    const double chunk_rows = w.loss_chunk_rows > 0
                                  ? static_cast<double>(w.loss_chunk_rows)
                                  : std::max(1.0, std::floor(256.0 * 1024 * 1024 / (4.0 * V)));
    const double rows = std::min<double>(chunk_rows, tokens);
    Ledger chunk(w);
    chunk.fixed(rows * V * blocks.lp);  // logits
    chunk.fixed(rows * V * 4);          // the exp'd gradient
    if (blocks.autocast) {
      chunk.fixed(rows * V * 4);          // the logits' float32 copy
      chunk.fixed(rows * V * blocks.lp);  // the gradient's cast
      chunk.tensor(d, blocks.lp);         // the hidden states' cast
      chunk.fixed(V * d * blocks.lp);     // the head weight's cast
    }
    chunk.fixed(std::max(V, rows) * d * blocks.lp);  // d_weight's (or d_hidden's) product
    Ledger scaled(w);
    scaled.tensor(d, 4);
    scaled.fixed(V * d * 4);
    m.logits_loss = m.logits_loss_saved + std::max(chunk.bytes(), scaled.bytes());
  }
  // Peak of a step that starts with the optimizer's state allocated: at the start of
  // backward every saved tensor, the autocast copies and the loss's peak are alive; the
  // gradients are too unless zero_grad freed them (then they grow while activations are
  // freed, and the end of backward holds all of them).
  const double start_of_backward =
      m.activations + m.autocast_copies + std::max(m.logits_loss, blocks.backward_buffers);
  const double fixed = m.weights + m.optimizer + static_cast<double>(w.runtime_workspace_bytes);
  // Under checkpointing a block's forward is recomputed inside backward, after the loss has
  // freed its transient (its kept gradients become the head's .grad): the recompute meets the
  // saved block inputs and the growing gradients, not the loss's peak. Charging it on top of
  // the start of backward over-predicted every checkpointed CUDA peak by 1-14% (measured on an
  // H200, bench/gpu/memory_measured_h200_torch2.11.jsonl).
  const double during_recompute =
      m.activations + m.autocast_copies + blocks.backward_buffers + checkpoint_recompute;
  if (checkpoint_recompute > 0) {
    m.train_peak = w.grads_freed_between_steps
                       ? fixed + std::max(start_of_backward, m.gradients + during_recompute)
                       : fixed + m.gradients + std::max(start_of_backward, during_recompute);
  } else {
    m.train_peak = w.grads_freed_between_steps ? fixed + std::max(start_of_backward, m.gradients)
                                               : fixed + m.gradients + start_of_backward;
  }
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
  // (one tensor per parameter; the fused CUDA kernel has none).
  m.train_peak = std::max(m.train_peak, fixed + m.gradients + (w.fused_optimizer ? 0 : m.weights));
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
