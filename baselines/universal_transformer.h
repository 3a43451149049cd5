#pragma once
// Universal Transformer (Dehghani et al. 2019): ONE shared pre-norm block applied R times
// (R = `recurrences`, overridable per call), optionally with ACT halting (Graves 2016; the
// UT's tensor2tensor act_basic): each step a sigmoid halting unit reads the state, positions
// accumulate halting probability until it passes `threshold`, the output is the halting-
// weighted mix of the step states, and the ponder cost mean(N + remainder) enters aux_loss.
//
// Unlike the tensor2tensor loop, all R steps always run (a batch-wide early exit would make a
// token's output depend on other tokens and break cached decoding), and positions still
// running at step R halt there with their remainder, so the weights always sum to 1.
// No per-step timing signal is added (RoPE carries positions).
#include <torch/torch.h>

#include "baselines/common.h"
#include "models/blocks/ffn.h"
#include "models/blocks/transformer_block.h"

namespace dreamer::baselines {

struct UniversalTransformerConfig {
  Backbone backbone;
  int64_t recurrences = 4;  // JSON "recurrence.mean"
  int64_t ffn_hidden = 0;   // JSON "ffn.hidden"; 0 = default_ffn_hidden
  models::Activation activation = models::Activation::kSwiGLU;  // "ffn.activation"
  struct Act {
    bool enabled = false;
    double threshold = 0.99;         // 1 - epsilon
    double ponder_cost = 0.01;       // weight of mean(N + R) in aux_loss
    double halting_bias_init = 1.0;  // tensor2tensor's act_halting_bias_init
  } act;

  static const ConfigFields<UniversalTransformerConfig>& fields();
  static UniversalTransformerConfig from_json(const nlohmann::json& params,
                                              const std::string& path);
  nlohmann::json to_json() const;
  void validate(const std::string& path) const;
  ParameterCounts parameter_counts() const;
  models::TransformerBlockOptions block() const;
};

class UniversalTransformer : public models::LanguageModel {
 public:
  explicit UniversalTransformer(const models::ModelConfig& config);
  ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                      const ForwardOptions& options = {}) override;
  models::HeadWeights head() const override { return ends.head(); }
  bool is_recurrent() const override { return true; }

  LMEnds ends;
  models::TransformerBlock layer{nullptr};
  torch::nn::Linear halting{nullptr};  // ACT only: d -> 1

 private:
  UniversalTransformerConfig cfg_;
};

// Analytic cost (models/cost.h), between the module and the registration in
// universal_transformer.cpp.
models::Cost universal_transformer_cost(const UniversalTransformerConfig& config,
                                        const models::Workload& workload);

models::FamilyInfo universal_transformer_family();

}  // namespace dreamer::baselines
