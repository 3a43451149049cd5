#pragma once
// Sparse experts written as attention (Dreamer's "expert attention"), and the routers that
// the MoE baselines share with it.
//
// Router: a query from the (normalised) state meets learnable expert keys; the logits pick
// the top-k experts (on logits + balancing bias, or on scores + bias: bias_placement) and give
// the gates (without the bias).
// ExpertFFN: the experts themselves, dispatched droplessly (tokens sorted by expert, one
// matmul per expert).
#include <torch/torch.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "models/blocks/ffn.h"

namespace dreamer::models {

enum class GateKind { kSigmoid, kSoftmax };
enum class RouterQuery { kLinear, kIdentity };
enum class DepthEncoding { kNone, kLearnedOffset, kRope };
// Where the balancing bias enters the top-k: added to the logits (top-k of logits + b), or to
// the gate scores (top-k of sigmoid/softmax(logits) + b: DeepSeek-V3 eq. 16, torchtitan
// TokenChoiceTopKRouter). The orders differ because sigmoid compresses large logits: a bias
// that moves two scores past each other may not move the logits past each other.
enum class BiasPlacement { kLogits, kScores };

inline const std::vector<std::pair<std::string, GateKind>>& gate_kind_names() {
  static const std::vector<std::pair<std::string, GateKind>> kNames = {
      {"sigmoid", GateKind::kSigmoid}, {"softmax", GateKind::kSoftmax}};
  return kNames;
}
inline const std::vector<std::pair<std::string, RouterQuery>>& router_query_names() {
  static const std::vector<std::pair<std::string, RouterQuery>> kNames = {
      {"linear", RouterQuery::kLinear}, {"identity", RouterQuery::kIdentity}};
  return kNames;
}
inline const std::vector<std::pair<std::string, BiasPlacement>>& bias_placement_names() {
  static const std::vector<std::pair<std::string, BiasPlacement>> kNames = {
      {"logits", BiasPlacement::kLogits}, {"scores", BiasPlacement::kScores}};
  return kNames;
}
inline const std::vector<std::pair<std::string, DepthEncoding>>& depth_encoding_names() {
  static const std::vector<std::pair<std::string, DepthEncoding>> kNames = {
      {"none", DepthEncoding::kNone},
      {"learned_offset", DepthEncoding::kLearnedOffset},
      {"rope", DepthEncoding::kRope}};
  return kNames;
}

struct RouterOptions {
  int64_t d_model = 0;
  int64_t n_experts = 0;
  int64_t k = 1;
  GateKind gate = GateKind::kSigmoid;
  bool renormalize = true;         // gates sum to 1 over the selected experts
  bool balancing_bias = true;      // loss-free balancing bias used for selection only
  double bias_update_rate = 1e-3;  // gamma of the sign rule
  BiasPlacement bias_placement = BiasPlacement::kLogits;
  RouterQuery query = RouterQuery::kLinear;
  int64_t router_dim = 0;  // query/key dimension (identity query: d_model)
  DepthEncoding depth_encoding = DepthEncoding::kNone;
  int64_t max_depth = 0;  // rows of the learned per-depth offset (depths 0..max)
  double rope_base = 10000.0;
};

struct RouterOutput {
  torch::Tensor logits;  // [N, E], at least float32
  torch::Tensor scores;  // [N, E] sigmoid or softmax of the logits (for auxiliary losses)
  torch::Tensor ids;     // [N, k] int64
  torch::Tensor gates;   // [N, k] float32
};

struct RouterImpl : torch::nn::Module, RoleDeclarer {
  explicit RouterImpl(const RouterOptions& options);
  // x [N, d_model]; depth = 1-based recurrence index (or layer), total = number of depths.
  RouterOutput forward(const torch::Tensor& x, int64_t depth = 0, int64_t total = 0);
  // Balancing-bias update (DeepSeek-V3 / torchtitan sign rule) from the load counted since
  // the last call; called outside autograd after each optimizer step.
  void update_bias();

  RouterOptions options;
  torch::nn::Linear query{nullptr};
  torch::Tensor expert_keys;     // [E, router_dim]
  torch::Tensor depth_offset;    // [max_depth + 1, router_dim] (learned_offset only)
  torch::Tensor selection_bias;  // buffer [E]
  torch::Tensor expert_load;     // buffer [E]: selections counted since the last update
};
TORCH_MODULE(Router);

// Dropless sort-based dispatch (megablocks' histogram -> sort -> gather, in plain ATen):
// y_n = sum_j gates[n,j] * expert(ids[n,j], x_n) for x [N, din], ids/gates [N, k]. `expert`
// maps (e, rows [M, din]) to [M, dout]; experts that received no rows are never called.
// Undefined gates mean weight 1. Returns [N, dout]. Reads the per-expert row counts on the host
// (one synchronisation per call on a GPU): ExpertFFN's grouped path avoids it.
using ExpertFn = std::function<torch::Tensor(int64_t e, const torch::Tensor& rows)>;
torch::Tensor dispatch_to_experts(const torch::Tensor& x, const torch::Tensor& ids,
                                  const torch::Tensor& gates, int64_t n_experts,
                                  const ExpertFn& expert);

// The routing slots (token n's j-th choice is slot n*k + j) sorted by expert, all on the
// device of `ids`: no host synchronisation. Rows move between token, slot and sorted order
// through slot_permutation.h, whose backward gathers (no index_add).
struct ExpertSlots {
  torch::Tensor order;          // [N*k] slot at each sorted position
  torch::Tensor token_of_slot;  // [N*k] token of each sorted position
  torch::Tensor ends;           // [E] int64: sorted positions [ends[e-1], ends[e]) go to expert e
  torch::Tensor position;       // [N*k] sorted position of each slot (inverse of order)
};
ExpertSlots sort_slots(const torch::Tensor& ids, int64_t n_experts);
// y_n = sum_j gates[n,j] * y_sorted[position[n*k+j]] for y_sorted [N*k, dout]; [N, dout].
torch::Tensor combine_slots(const torch::Tensor& y_sorted, const ExpertSlots& slots,
                            const torch::Tensor& gates, int64_t n_tokens, int64_t k);

struct ExpertFFNImpl : torch::nn::Module, RoleDeclarer {
  ExpertFFNImpl(int64_t n_experts, int64_t d_model, int64_t expert_dim, Activation activation);
  // x [N, d]; ids, gates [N, k]. y_n = sum_j gates[n,j] * expert_{ids[n,j]}(x_n). The grouped
  // path where grouped_available(x) (and use_grouped), else the loop.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& ids,
                        const torch::Tensor& gates);
  // One matmul per expert that received rows (the fallback; reads counts on the host). The
  // weights are split once per call, so the backward writes one gradient per weight tensor,
  // not one full-size gradient per expert.
  torch::Tensor forward_loop(const torch::Tensor& x, const torch::Tensor& ids,
                             const torch::Tensor& gates);
  // Three at::_grouped_mm calls (up, gate, down) over the expert-sorted rows with device-side
  // offsets: no host synchronisation, no per-expert weight slices. Throws where unavailable.
  torch::Tensor forward_grouped(const torch::Tensor& x, const torch::Tensor& ids,
                                const torch::Tensor& gates);
  // LibTorch >= 2.9 with CUDA, x on a GPU, bf16 compute (autocast or bf16 x), widths that
  // are multiples of 8 (16-byte rows), fewer than 1024 experts.
  bool grouped_available(const torch::Tensor& x) const;
  // Whether forward takes the grouped path for a float32 residual stream on `device` under the
  // current autocast setting: then it reads nothing on the host, so a decode step through it
  // can be captured as a CUDA graph (LanguageModel::decode_step_capturable).
  bool grouped_on(const torch::Device& device) const;
  // One expert applied to rows of x (used by reference computations).
  torch::Tensor apply_expert(int64_t e, const torch::Tensor& x);

  int64_t n_experts, d_model, expert_dim;
  Activation activation;
  bool use_grouped = true;  // false: always the loop (tests, benchmarks)
  // Grouped path only: scale each slot's hidden row by its gate before the down projection
  // (down(g h) = g down(h)), so combining is a plain sum of k rows, where the weighted sum
  // multiplies the wider [N*k, d] outputs. false keeps the weighted sum (bench-experts times both).
  bool fold_gates = true;
  torch::Tensor w_up;    // [E, d, de]
  torch::Tensor w_gate;  // [E, d, de] (SwiGLU only)
  torch::Tensor w_down;  // [E, de, d]
};
TORCH_MODULE(ExpertFFN);

// Whether this build has at::_grouped_mm (LibTorch >= 2.9 built with CUDA).
bool grouped_experts_compiled();

}  // namespace dreamer::models
