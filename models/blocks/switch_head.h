#pragma once
// SwitchHead attention (Csordás et al. 2024, RobertCsordas/moeut moeut.py SwitchHeadCore /
// SwitchHeadRope): per head, the value and output projections are mixtures of experts chosen
// by sigmoid selection (top att_k of n_experts, no renormalisation); q and k are dense.
// n_experts = 1 is the reference's special case: dense V and O and a sigmoid output gate per
// head. RoPE turns the first rotate_fraction of each head's dims (SwitchHeadRope).
#include <torch/torch.h>

#include "models/model.h"

namespace dreamer::models {

struct SwitchHeadOptions {
  int64_t d_model = 0;
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  int64_t n_experts = 1;  // per head
  int64_t k = 2;          // experts per head and token (n_experts > 1)
  double rope_base = 10000.0;
  double rotate_fraction = 0.5;
  // Dims rotated per head: rotate_fraction * head_dim, rounded down to even. (The reference
  // uses int(fraction * d_head); for an odd result, e.g. 41 of the 44M profile's 82, its
  // RotaryPosEncoding cannot build its tables, so we rotate the largest even count.)
  int64_t rotated_dims() const;
};

// Selection logits of one call, for MoEUT's entropy regulariser and routing traces.
struct SwitchHeadSelection {
  torch::Tensor v_logits, o_logits;  // [B, T, H, E] float32 (n_experts > 1 only)
  torch::Tensor v_ids, o_ids;        // [B, T, H, k]
  torch::Tensor v_gates, o_gates;    // [B, T, H, k]
};

struct SwitchHeadImpl : torch::nn::Module, RoleDeclarer {
  explicit SwitchHeadImpl(const SwitchHeadOptions& options);
  // x_qk [B, T, d] feeds queries, keys and both selections; x_v the values (MoEUT passes the
  // raw residual: peri-norm). start = absolute position of the first token.
  torch::Tensor forward(const torch::Tensor& x_qk, const torch::Tensor& x_v, int64_t start,
                        KVCache* cache, SwitchHeadSelection* selection = nullptr);
  // The reference's init (SwitchHeadCore.reset_parameters) for std_scale = sqrt(2 / n_layers).
  void reset_parameters(double std_scale);

  SwitchHeadOptions options;
  torch::nn::Linear q{nullptr}, k{nullptr};
  torch::Tensor v;      // n_experts > 1: [H*E, d, Dh]; else [H*Dh, d]
  torch::Tensor o;      // n_experts > 1: [H*E, Dh, d]; else [d, H*Dh]
  torch::Tensor sel_v;  // [H*E, d] (n_experts > 1)
  torch::Tensor sel_o;  // [H*E, d]

 private:
  // Top-k sigmoid selection per head; ids are shifted to h*E + e (rows of v / o).
  void select(const torch::Tensor& x, const torch::Tensor& w, torch::Tensor& logits,
              torch::Tensor& ids, torch::Tensor& gates);
};
TORCH_MODULE(SwitchHead);

int64_t switch_head_parameters(const SwitchHeadOptions& options);

// Scales rows to unit norm, then rescales so rows keep the spread of their original stds
// (the reference's renorm_rows: row std / global std after normalising).
void renorm_rows(torch::Tensor& w);

}  // namespace dreamer::models
