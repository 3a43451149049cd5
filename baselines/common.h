#pragma once
#include "util/errors.h"
// Pieces every baseline family shares: the common LM hyperparameters (flattened into each
// family's JSON), the embedding / final-norm / LM-head ends, decoding-state bookkeeping and
// GPT-2-style initialisation.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/blocks/recurrence.h"
#include "models/blocks/sequence_attention.h"
#include "models/config_fields.h"
#include "models/family.h"
#include "models/model.h"
#include "models/shared_config.h"
#include "util/json_reader.h"

namespace dreamer::baselines {

using models::ForwardOptions;
using models::InferenceState;
using models::KVCache;
using models::ModelOutput;
using models::NormKind;
using models::ParameterCounts;

// The shared hyperparameters (vocabulary, width, heads, norm, embeddings, init), declared once
// in models/shared_config.h.
using models::Backbone;
using models::ConfigFields;

// Dense FFN width default: 4 d, or Llama's 8/3 d rounded up to 64 for SwiGLU.
int64_t default_ffn_hidden(int64_t d_model, models::Activation activation);

// Embedding, optional learned positions, final norm and LM head, registered directly on the
// model ("embedding", "position_embedding", "lm_head") with their roles.
struct LMEnds {
  void build(models::LanguageModel& model, const Backbone& b, int64_t max_positions,
             bool head_bias = false, const std::string& norm_name = "norm_out");
  torch::Tensor embed(const torch::Tensor& tokens, int64_t start);  // [B, T] -> [B, T, d]
  models::HeadWeights head() const;  // the untied head, or the token table when tied

  torch::nn::Embedding embedding{nullptr}, position_embedding{nullptr};
  models::Norm norm_out{nullptr};
  torch::nn::Linear lm_head{nullptr};
};

// Sizes a fresh decoding state (n_caches sequence caches) or checks a used one; returns the
// absolute position of the first new token.
int64_t prepare_state(InferenceState* state, int64_t n_caches, int64_t recurrences = 0);
inline KVCache* cache_at(InferenceState* state, int64_t i) {
  return state ? &state->sequence[static_cast<size_t>(i)] : nullptr;
}
void finish_state(InferenceState* state, const torch::Tensor& tokens);

// Recurrences of this call: the one planner every recurrent family uses
// (models/blocks/recurrence.h); the schedule's JSON is models::recurrence_fields().
using models::plan_recurrences;
using models::recurrence_fields;
using models::validate_schedule;

// GPT-2 / nanoGPT init, by parameter role (models/roles.h): matrices and embeddings N(0, std);
// residual outputs (attention o, MLP down) N(0, std / sqrt(residual_writes)); biases zero;
// norms and routers as built.
void init_gpt2_style(models::LanguageModel& model, double std, int64_t residual_writes);

// A FamilyInfo whose resolve/build/count go through Config::from_json.
template <typename Config, typename Model>
models::FamilyInfo make_family(std::string name, std::string description, std::string source) {
  models::FamilyInfo info;
  info.name = std::move(name);
  info.description = std::move(description);
  info.source = std::move(source);
  info.resolve = [](const nlohmann::json& params, const std::string& path) {
    return Config::from_json(params, path).to_json();
  };
  info.build = [](const models::ModelConfig& config) -> models::LanguageModelPtr {
    return std::make_shared<Model>(config);
  };
  info.count = [](const models::ModelConfig& config) {
    return Config::from_json(config.params, "$").parameter_counts();
  };
  return info;
}

}  // namespace dreamer::baselines
