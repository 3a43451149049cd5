#pragma once
// The training-memory model: what a training step of this code keeps alive, op by op. Each
// family's cost formula (in its own file: models/dreamer.cpp, baselines/<family>.cpp) walks its
// forward pass and adds, through the pieces below, the tensors autograd saves for backward;
// finish() then adds weights, gradients, AdamW's moments, autocast's weight copies and the
// logits/loss buffers, and predicts the step's peak. docs/MATCHING.md ("Memory model") lists the
// saved tensors of every op; tests/models/memory_model_test.cpp holds each family to the bytes the
// CPU allocator measures.
//
// Dtypes: the residual stream is float32 (fp32 master weights: the embedding is float32 and a
// float32 + bf16 sum is float32); matmul outputs are in the activation dtype (`lp`, bf16
// under autocast); norm statistics, softmax probabilities and logits are float32.
#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/cost.h"

namespace dreamer::models::memory {

class Ledger {
 public:
  explicit Ledger(const Workload& w);

  // A tensor of `per_token` elements for each of the batch's tokens, `elem` bytes each,
  // `count` times (every tensor rounded up to the allocator's granularity).
  void tensor(double per_token, double elem, double count = 1);
  // A tensor of `bytes` independent of the token count (masks, buffers), `count` times.
  void fixed(double bytes, double count = 1);
  double bytes() const { return bytes_; }

  const Workload& w;
  double tokens;  // batch x seq_len
  double lp;      // matmul output bytes (activation dtype)
  double resid;   // residual-stream bytes (the master weights' dtype)
  bool autocast;  // lp < resid: each linear casts (and keeps) its own copy of a float32 input
  // Gradient buffers that backward holds while the saved tensors of the last blocks are still
  // alive: a layer applied at several depths has its parameters' gradient summed in the
  // engine's buffer until every application is done, and an expert layer's backward stacks
  // its per-expert weight gradients into one full-size tensor per call (bytes).
  double backward_buffers = 0;
  bool tied_head = false;  // the LM head is the embedding table (two gradients to sum)

 private:
  double round(double b) const;
  double bytes_ = 0;
};

// The input a group of `n` linears reads, `width` elements per token of a float32 tensor made
// for them (a norm's output): saved once in float32, or as n separate low-precision copies
// under autocast (its cast cache holds parameters only). `exists`: the tensor is counted
// elsewhere already (the residual itself under peri-norm): only autocast's copies are new.
void linear_inputs(Ledger& l, double width, double n, bool exists = false);
// What a norm keeps besides its input and output. RMSNorm (x * rsqrt(mean(x^2) + eps)) * w,
// composed of ATen ops: pow and the first mul keep x (the input), rsqrt keeps its result
// [N, 1], the weight mul keeps x * r [N, d]; LibTorch 1.13 measurably keeps one more [N, d]
// (tests/models/memory_model_test.cpp, "RMSNorm"). LayerNorm: native_layer_norm keeps mean
// and rstd.
void norm_internals(Ledger& l, NormKind kind, double d);
// Causal self-attention of models/blocks/sequence_attention.cpp after its input projections:
// q and k keep their rotated tensor (RoPE multiplies by cos/sin, which need no gradient, so
// autograd keeps cos/sin, not the projection); v its projection. Fused (SDPA): q, k, v, the output
// and float32 log-sum-exp [B, H, T]; the reference path (LibTorch 1.13): the float32 probabilities
// [B, H, T, T] (and a low-precision copy under autocast), repeated k/v for grouped heads and the
// boolean mask [T, T]. Both: the output reshaped for o. Per call.
void sequence_attention(Ledger& l, double heads, double kv_heads, double head_dim, bool rope);
// Dense FFN hidden state(s) (models/blocks/ffn.cpp): SwiGLU keeps gate and up (swiglu's node)
// and the product (3 h; 4 h with silu(gate) before Workload::fused_swiglu); ReLU its result
// (h); GELU and SiLU input and result (2 h).
void ffn_hidden(Ledger& l, Activation activation, double hidden);
// The router of models/blocks/experts.cpp on a float32 input of width d: query projection
// (when linear), the depth offset's sum, float32 logits, the sigmoid/softmax scores, ids,
// gathered (and renormalised) gates.
struct RouterShape {
  double d = 0, dk = 0, experts = 0, k = 0;
  bool linear_query = false, depth_offset = false, depth_rope = false, renormalize = true;
  bool input_exists = false;  // the router reads a tensor counted elsewhere
};
void router(Ledger& l, const RouterShape& s);
// ExpertFFN's sort-based dispatch: slot indices, the gathered rows, each slot's hidden
// state(s), the expert outputs gathered back and weighted. Under autocast the per-expert loop
// casts every expert's weight slices per call (they are views, not cached leaves): returned
// as autocast weight bytes of this call (0 with the grouped path, whose cast is cached once).
double experts(Ledger& l, double d, double expert_dim, double n_experts, double k,
               Activation activation, bool gated);

// Fills cost.memory and the Cost memory fields from the blocks' ledger. `matmul_params`: the
// parameters autocast casts once (linear weights, the LM head); `extra_autocast`: per-call
// weight copies (expert slices, transposed views); `head_bias`: the LM head has a bias;
// `cache_elements`: KV and depth-cache elements while decoding a batch at seq_len.
void finish(Cost& cost, const Workload& w, const Ledger& blocks, double d_model, double vocab,
            double matmul_params, double extra_autocast, double cache_elements,
            double checkpoint_recompute = 0);

// The final norm, the LM head's input and the loss's own saved tensors (added to `blocks`:
// the final state, norm internals, head input).
void lm_head_inputs(Ledger& l, NormKind kind, double d);

}  // namespace dreamer::models::memory

namespace dreamer::models::memory {

// One TransformerBlock (models/blocks/transformer_block.h) with its input: pre-norm keeps the
// input h (the first norm's), n1's internals, q/k/v's input, attention, the residual sum (n3's
// input), n3's internals, the MLP's input and hidden state(s); sandwich adds n2's and n4's
// inputs and internals. `ffn_hidden` 0: the MLP half is the caller's (MoE).
struct BlockShape {
  double d = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn_hidden = 0;
  Activation activation = Activation::kSwiGLU;
  NormKind norm = NormKind::kRMSNorm;
  bool sandwich = false, rope = true;
};
void block_attention_half(Ledger& l, const BlockShape& s);  // through n3's input
void block_mlp_half(Ledger& l, const BlockShape& s);        // n3 onwards (dense MLP)
// The bytes one block keeps, on its own ledger (checkpointing's recompute, per-block terms).
double block_bytes(const Workload& w, const BlockShape& s);

}  // namespace dreamer::models::memory
