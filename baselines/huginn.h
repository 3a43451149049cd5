#pragma once
// Huginn-style recurrent depth (Geiping et al. 2025, arXiv 2502.05171; seal-rg/recurrent-
// pretraining recpre/raven_modeling_minimal.py): prelude blocks embed the tokens, a core of
// blocks is iterated r times on a latent state with the embedding injected every step, coda
// blocks and the final norm decode. Blocks are sandwich-normed (SandwichBlock) by default.
//
// Initial state ("random", Huginn's like-init): truncated normal (±3σ) noise. During training
// it comes from torch's global generator; at evaluation it is drawn from a generator seeded by
// the token's absolute position, so evaluation is reproducible and cached decoding equals the
// full forward (a token's initial state does not depend on how the sequence was chunked).
// "zero" starts from zeros (deterministic everywhere).
#include <torch/torch.h>

#include <vector>

#include "baselines/common.h"
#include "models/blocks/ffn.h"
#include "models/blocks/recurrence.h"
#include "models/blocks/transformer_block.h"

namespace dreamer::baselines {

enum class Injection {
  kLinear,  // s = adapter(cat[s, e]), adapter: Linear(2d -> d) (Huginn-0125)
  kAdd,     // s = s + e (small registry shapes, e.g. magpie-150m)
  kNone,    // no injection: the recurrence starts from e itself (state_init unused)
};
enum class StateInit { kRandom, kZero };

struct HuginnConfig {
  Backbone backbone;
  int64_t n_prelude = 1;
  int64_t n_core = 2;
  int64_t n_coda = 1;
  int64_t ffn_hidden = 0;  // 0 = default_ffn_hidden
  models::Activation activation = models::Activation::kSwiGLU;
  bool sandwich = true;
  bool qk_bias = true;
  Injection injection = Injection::kLinear;
  StateInit state_init = StateInit::kRandom;
  double state_init_std = 0;  // 0 = sqrt(2 / (5 d)) (Huginn's Takase-style init std)
  models::RecurrenceSchedule recurrence{models::RecurrenceSampling::kPoissonLognormal, 4, 2, 0.5, 32};

  static HuginnConfig from_json(const nlohmann::json& params, const std::string& path);
  nlohmann::json to_json() const;
  void validate(const std::string& path) const;
  ParameterCounts parameter_counts() const;
  models::TransformerBlockOptions block() const;
  double state_std() const;
};

class Huginn : public models::LanguageModel {
 public:
  explicit Huginn(const models::ModelConfig& config);
  ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                      const ForwardOptions& options = {}) override;
  bool is_recurrent() const override { return true; }

  const HuginnConfig& huginn_config() const { return cfg_; }
  LMEnds ends;
  torch::nn::ModuleList prelude{nullptr}, core{nullptr}, coda{nullptr};
  std::vector<models::TransformerBlock> prelude_blocks, core_blocks, coda_blocks;
  torch::nn::Linear adapter{nullptr};

 private:
  torch::Tensor initial_state(const torch::Tensor& e, int64_t start);
  HuginnConfig cfg_;
};

// Analytic cost (models/cost.h), in baselines/huginn_cost.cpp.
models::Cost huginn_cost(const HuginnConfig& config, const models::Workload& workload);

models::FamilyInfo huginn_family();

}  // namespace dreamer::baselines
