#pragma once
// Dense decoder-only transformer: Llama / nanochat style by default (RMSNorm pre-norm, RoPE,
// SwiGLU, GQA, untied head); LayerNorm with biases, linear biases, a GELU MLP, learned
// absolute positions and a tied head express GPT-2 (nanoGPT model.py).
#include <torch/torch.h>

#include <vector>

#include "baselines/common.h"
#include "models/blocks/ffn.h"
#include "models/blocks/transformer_block.h"

namespace dreamer::baselines {

enum class PositionEncoding { kRope, kLearned };

struct DenseTransformerConfig {
  Backbone backbone;
  int64_t n_layers = 4;
  int64_t ffn_hidden = 0;  // JSON "ffn.hidden"; 0 = default_ffn_hidden
  models::Activation activation = models::Activation::kSwiGLU;  // "ffn.activation"
  bool bias = false;  // biases on every linear layer (GPT-2)
  PositionEncoding position_encoding = PositionEncoding::kRope;
  int64_t max_seq_len = 1024;  // rows of the learned position table (learned only)

  static const ConfigFields<DenseTransformerConfig>& fields();
  static DenseTransformerConfig from_json(const nlohmann::json& params, const std::string& path);
  nlohmann::json to_json() const;
  void validate(const std::string& path) const;
  ParameterCounts parameter_counts() const;
  models::TransformerBlockOptions block() const;
  int64_t positions() const {
    return position_encoding == PositionEncoding::kLearned ? max_seq_len : 0;
  }
};

class DenseTransformer : public models::LanguageModel {
 public:
  explicit DenseTransformer(const models::ModelConfig& config);
  ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                      const ForwardOptions& options = {}) override;
  models::HeadWeights head() const override { return ends.head(); }
  bool supports_static_decode() const override { return true; }

  const DenseTransformerConfig& dense_config() const { return cfg_; }
  LMEnds ends;
  torch::nn::ModuleList layers{nullptr};
  std::vector<models::TransformerBlock> blocks;  // typed views of `layers`

 private:
  DenseTransformerConfig cfg_;
};

// Analytic cost (models/cost.h), between the module and the registration in dense_transformer.cpp.
models::Cost dense_transformer_cost(const DenseTransformerConfig& config,
                                    const models::Workload& workload);

models::FamilyInfo dense_transformer_family();

}  // namespace dreamer::baselines
