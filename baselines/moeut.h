#pragma once
// MoEUT (Csordás et al., NeurIPS 2024, arXiv 2405.16039; RobertCsordas/moeut moeut.py):
// G distinct layers repeated n_layers / G times (ABAB...), each = SwitchHead attention +
// σ-MoE FFN, with peri-layernorm:
//   h = h + att(q = k = ln1(h), v = h);  h = h + ffn(experts see h, router sees ln2(h))
// out_norm (LayerNorm) and a biased lm_head. Training adds the entropy regulariser on the
// time-and-layer-averaged selection distribution (entropy_reg in moeut.py) to aux_loss.
#include <torch/torch.h>

#include <vector>

#include "baselines/common.h"
#include "models/blocks/experts.h"
#include "models/blocks/norm.h"
#include "models/blocks/switch_head.h"

namespace dreamer::baselines {

struct MoEUTConfig {  // defaults: the 44M profile (profiles.py) at vocabulary 8000
  int64_t vocab_size = 8000;
  int64_t d_model = 412;
  int64_t n_layers = 16;
  int64_t group_size = 2;
  int64_t n_heads = 4;
  int64_t d_head = 82;  // "head_dim"; 0 = d_model / n_heads
  // JSON "attention_experts": {"n_experts", "k", "entropy_reg"} and "ffn_experts":
  // {"n_experts", "k", "expert_dim", "entropy_reg"} (docs/DESIGN.md, "Config names").
  int64_t att_n_experts = 8;
  int64_t att_k = 2;
  int64_t ff_n_experts = 155;
  int64_t ff_k = 12;
  int64_t ff_expert_size = 128;
  double entropy_reg = 0.01;       // FFN selection (γ)
  double att_entropy_reg = 0.001;  // attention selection (δ)
  double rope_base = 10000.0;
  double rotate_fraction = 0.5;
  double norm_eps = 1e-5;

  static const ConfigFields<MoEUTConfig>& fields();
  static MoEUTConfig from_json(const nlohmann::json& params, const std::string& path);
  nlohmann::json to_json() const;
  void validate(const std::string& path) const;
  ParameterCounts parameter_counts() const;
  // The embedding and head's shape for LMEnds: LayerNorm, untied.
  Backbone ends_backbone() const;
  models::SwitchHeadOptions attention() const;
  int64_t head_dim() const { return d_head ? d_head : d_model / n_heads; }
};

// σ-MoE FFN (SigmaMoE): sigmoid(x_sel W_sel^T) -> top-k -> sum_e s_e ReLU(x K_e) V_e,
// no renormalisation, no bias. router.expert_keys = expert_sel [E, d],
// experts.w_up = keys [E, d, 128], experts.w_down = values [E, 128, d].
struct SigmaMoEImpl : torch::nn::Module {
  SigmaMoEImpl(int64_t d_model, int64_t n_experts, int64_t expert_size, int64_t k);
  // x, x_sel [B, T, d] -> [B, T, d]; routed (if given) receives the router output.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& x_sel,
                        models::RouterOutput* routed = nullptr);
  void reset_parameters(double std_scale);  // SigmaMoE.reset_parameters

  models::Router router{nullptr};
  models::ExpertFFN experts{nullptr};
};
TORCH_MODULE(SigmaMoE);

struct MoEUTLayerImpl : torch::nn::Module {
  explicit MoEUTLayerImpl(const MoEUTConfig& config);
  models::Norm ln1{nullptr}, ln2{nullptr};
  models::SwitchHead attention{nullptr};
  SigmaMoE ffn{nullptr};
};
TORCH_MODULE(MoEUTLayer);

// -mean_b H(softmax averaged over time and the given applications): entropy_reg() of moeut.py.
// logits: one [B, T, ..., E] tensor per application of the same module.
torch::Tensor entropy_regularizer(const std::vector<torch::Tensor>& logits);

class MoEUT : public models::LanguageModel {
 public:
  explicit MoEUT(const models::ModelConfig& config);
  ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                      const ForwardOptions& options = {}) override;
  models::HeadWeights head() const override { return ends.head(); }

  const MoEUTConfig& moeut_config() const { return cfg_; }
  LMEnds ends;  // embedding; LayerNorm "out_norm" and a biased, untied lm_head
  torch::nn::ModuleList layers{nullptr};
  std::vector<MoEUTLayer> group;  // the G distinct layers

 private:
  MoEUTConfig cfg_;
};

// Analytic cost (models/cost.h), between the module and the registration in moeut.cpp.
models::Cost moeut_cost(const MoEUTConfig& config, const models::Workload& workload);

models::FamilyInfo moeut_family();

}  // namespace dreamer::baselines
