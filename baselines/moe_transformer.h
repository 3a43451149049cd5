#pragma once
// MoE transformer: the dense pre-norm block with its MLP replaced by a token-choice top-k
// mixture of experts.
//   - softmax gates + Switch auxiliary load-balancing loss (Fedus et al. 2021), coefficient
//     aux_loss_coef, in ModelOutput::aux_loss;
//   - sigmoid gates + loss-free balancing bias (DeepSeek-V3; torchtitan TokenChoiceTopKRouter's
//     expert_bias, updated by after_optimizer_step()), added to the scores or to the logits
//     (bias_placement);
//   - optional always-on shared experts and fine-grained experts (DeepSeekMoE), i.e. small
//     expert_dim with many experts.
#include <torch/torch.h>

#include <vector>

#include "baselines/common.h"
#include "models/blocks/experts.h"
#include "models/blocks/ffn.h"
#include "models/blocks/transformer_block.h"

namespace dreamer::baselines {

struct MoEOptions {
  int64_t n_experts = 8;
  int64_t k = 2;
  int64_t expert_dim = 0;  // 0 = default_ffn_hidden(d_model, activation)
  models::Activation activation = models::Activation::kSwiGLU;
  models::GateKind gate = models::GateKind::kSoftmax;
  bool renormalize = false;     // gates of the selected experts sum to 1
  bool balancing_bias = false;  // loss-free bias balancing
  double bias_update_rate = 1e-3;
  // DeepSeek-V3 and torchtitan add the bias to the sigmoid scores (preset deepseek_sigmoid_bias);
  // the default stays `logits` so checkpoints saved before this option keep their routing.
  models::BiasPlacement bias_placement = models::BiasPlacement::kLogits;
  double aux_loss_coef = 0.01;   // Switch loss weight (0 = off)
  int64_t n_shared_experts = 0;  // dense experts every token goes through
};

struct MoETransformerConfig {
  Backbone backbone;
  int64_t n_layers = 4;
  MoEOptions moe;  // JSON "ffn_experts"

  static const ConfigFields<MoETransformerConfig>& fields();
  static MoETransformerConfig from_json(const nlohmann::json& params, const std::string& path);
  nlohmann::json to_json() const;
  void validate(const std::string& path) const;
  ParameterCounts parameter_counts() const;
  int64_t expert_dim() const;
  models::TransformerBlockOptions block() const;  // attention half only
};

// Switch loss, E * sum_e f_e * P_e: f_e = fraction of the N*k routing slots that chose e,
// P_e = mean routing probability of e (sigmoid scores are normalised per token first).
torch::Tensor switch_aux_loss(const models::RouterOutput& routed, int64_t n_experts);

struct MoELayerImpl : torch::nn::Module {
  explicit MoELayerImpl(const MoETransformerConfig& config);
  // Returns the new residual; adds this layer's Switch loss (unweighted) to *aux when training.
  torch::Tensor forward(const torch::Tensor& h, int64_t start, KVCache* cache, torch::Tensor* aux,
                        models::RoutingRecord* record);
  torch::Tensor moe(const torch::Tensor& x, torch::Tensor* aux, models::RoutingRecord* record);

  MoEOptions options;
  models::TransformerBlock block{nullptr};
  models::Router router{nullptr};
  models::ExpertFFN experts{nullptr};
  models::FeedForward shared{nullptr};
};
TORCH_MODULE(MoELayer);

class MoETransformer : public models::LanguageModel {
 public:
  explicit MoETransformer(const models::ModelConfig& config);
  ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                      const ForwardOptions& options = {}) override;
  models::HeadWeights head() const override { return ends.head(); }
  bool supports_static_decode() const override { return true; }
  // Only the grouped expert path (bf16 on CUDA) is free of host reads: the loop reads the
  // per-expert counts on the host.
  bool decode_step_capturable(const torch::Device& device) const override;
  void after_optimizer_step() override;

  LMEnds ends;
  torch::nn::ModuleList layers{nullptr};
  std::vector<MoELayer> moe_layers;

 private:
  MoETransformerConfig cfg_;
};

// Analytic cost (models/cost.h), between the module and the registration in moe_transformer.cpp.
models::Cost moe_transformer_cost(const MoETransformerConfig& config,
                                  const models::Workload& workload);

models::FamilyInfo moe_transformer_family();

}  // namespace dreamer::baselines
