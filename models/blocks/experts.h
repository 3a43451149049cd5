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
  bool renormalize = true;          // gates sum to 1 over the selected experts
  bool balancing_bias = true;       // loss-free balancing bias used for selection only
  double bias_update_rate = 1e-3;   // gamma of the sign rule
  BiasPlacement bias_placement = BiasPlacement::kLogits;
  RouterQuery query = RouterQuery::kLinear;
  int64_t router_dim = 0;           // query/key dimension (identity query: d_model)
  DepthEncoding depth_encoding = DepthEncoding::kNone;
  int64_t max_depth = 0;            // rows of the learned per-depth offset (depths 0..max)
  double rope_base = 10000.0;
};

struct RouterOutput {
  torch::Tensor logits;  // [N, E], at least float32
  torch::Tensor scores;  // [N, E] sigmoid or softmax of the logits (for auxiliary losses)
  torch::Tensor ids;     // [N, k] int64
  torch::Tensor gates;   // [N, k] float32
};

struct RouterImpl : torch::nn::Module {
  explicit RouterImpl(const RouterOptions& options);
  // x [N, d_model]; depth = 1-based recurrence index (or layer), total = number of depths.
  RouterOutput forward(const torch::Tensor& x, int64_t depth = 0, int64_t total = 0);
  // Balancing-bias update (DeepSeek-V3 / torchtitan sign rule) from the load counted since
  // the last call; called outside autograd after each optimizer step.
  void update_bias();

  RouterOptions options;
  torch::nn::Linear query{nullptr};
  torch::Tensor expert_keys;    // [E, router_dim]
  torch::Tensor depth_offset;   // [max_depth + 1, router_dim] (learned_offset only)
  torch::Tensor selection_bias; // buffer [E]
  torch::Tensor expert_load;    // buffer [E]: selections counted since the last update
};
TORCH_MODULE(Router);

// Dropless sort-based dispatch (megablocks' histogram -> sort -> gather, in plain ATen):
// y_n = sum_j gates[n,j] * expert(ids[n,j], x_n) for x [N, din], ids/gates [N, k]. `expert`
// maps (e, rows [M, din]) to [M, dout]; experts that received no rows are never called.
// Undefined gates mean weight 1. Returns [N, dout].
using ExpertFn = std::function<torch::Tensor(int64_t e, const torch::Tensor& rows)>;
torch::Tensor dispatch_to_experts(const torch::Tensor& x, const torch::Tensor& ids,
                                  const torch::Tensor& gates, int64_t n_experts,
                                  const ExpertFn& expert);

struct ExpertFFNImpl : torch::nn::Module {
  ExpertFFNImpl(int64_t n_experts, int64_t d_model, int64_t expert_dim, Activation activation);
  // x [N, d]; ids, gates [N, k]. y_n = sum_j gates[n,j] * expert_{ids[n,j]}(x_n).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& ids,
                        const torch::Tensor& gates);
  // One expert applied to rows of x (used by forward and by reference computations).
  torch::Tensor apply_expert(int64_t e, const torch::Tensor& x);

  int64_t n_experts, expert_dim;
  Activation activation;
  torch::Tensor w_up;    // [E, d, de]
  torch::Tensor w_gate;  // [E, d, de] (SwiGLU only)
  torch::Tensor w_down;  // [E, de, d]
};
TORCH_MODULE(ExpertFFN);

}  // namespace dreamer::models
