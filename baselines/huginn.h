#pragma once
// Huginn-style recurrent depth (Geiping et al. 2025, arXiv 2502.05171; seal-rg/recurrent-
// pretraining recpre/raven_modeling_minimal.py, RavenForCausalLM). With the defaults it computes
// what the reference computes (tests/baselines/huginn_reference_test.cpp holds it to the
// official code's logits):
//   e = sqrt(d) * embed(tokens);  e = prelude(e)
//   s = s0;  repeat r times: s = core(adapter(cat[s, e]))
//   s = ln_f(s);  s = coda(s);  logits = head(ln_f(s))      (one ln_f, used twice)
// Blocks are sandwich-normed (SandwichBlock). Init is the reference's Takase scheme.
//
// Initial state s0 ("random", Huginn's like-init): truncated normal (±3σ) noise times the
// embedding scale. During training it comes from torch's global generator; at evaluation it
// is drawn from a generator seeded by the token's absolute position, so evaluation is
// reproducible and cached decoding equals the full forward (a token's initial state does not
// depend on how the sequence was chunked). "zero" starts from zeros (deterministic
// everywhere). forward_from_state() takes s0 from the caller (the reference's input_states).
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
// Weight init (recpre/init.py names). Takase ("spike no more", the reference's _init_func):
// truncated normal ±3σ, σ = sqrt(2 / (5 d)) for q, k, v, the MLP gate, the adapter, the
// embedding and an untied head; σ / sqrt(2 L) for the attention and MLP output projections
// and the SwiGLU up projection (init_glu gives fc's second half the out_proj σ);
// L = n_prelude + n_core * mean + n_coda; embeddings (and the random state) scaled by sqrt(d).
// GPT-2: N(0, σ = 0.02), output projections σ / sqrt(2 L), no embedding scale (the harness's
// earlier Huginn, kept as an ablation).
enum class HuginnInit { kTakase, kGpt2 };

struct HuginnConfig {
  // The reference's defaults (RavenConfig): tied head, RMSNorm eps 1e-6, RoPE base 50000;
  // init_std 0 = the init scheme's own σ (init_std()).
  Backbone backbone = reference_backbone();
  int64_t n_prelude = 1;
  int64_t n_core = 2;
  int64_t n_coda = 1;
  int64_t ffn_hidden = 0;  // JSON "ffn.hidden"; 0 = default_ffn_hidden
  models::Activation activation = models::Activation::kSwiGLU;  // "ffn.activation"
  bool sandwich = true;
  bool qk_bias = true;
  Injection injection = Injection::kLinear;
  StateInit state_init = StateInit::kRandom;
  double state_init_std = 0;              // 0 = sqrt(2 / (5 d)) (Huginn's Takase-style init std)
  HuginnInit init = HuginnInit::kTakase;  // backbone.init_std 0 = the scheme's σ
  models::RecurrenceSchedule recurrence{models::RecurrenceSampling::kPoissonLognormal, 4, 2, 0.5,
                                        32};

  static Backbone reference_backbone();
  static const ConfigFields<HuginnConfig>& fields();
  static HuginnConfig from_json(const nlohmann::json& params, const std::string& path);
  nlohmann::json to_json() const;
  void validate(const std::string& path) const;
  ParameterCounts parameter_counts() const;
  models::TransformerBlockOptions block() const;
  double state_std() const;
  double init_std() const;         // backbone.init_std, or the scheme's default when 0
  double embedding_scale() const;  // sqrt(d) for takase (the reference's emb_scale), else 1
  double effective_depth() const;  // L = n_prelude + n_core * recurrence.mean + n_coda
};

class Huginn : public models::LanguageModel {
 public:
  explicit Huginn(const models::ModelConfig& config);
  ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                      const ForwardOptions& options = {}) override;
  models::HeadWeights head() const override { return ends.head(); }
  // forward() from a given initial recurrent state s0 [B, T, d] (the reference's
  // input_states); unused with injection "none".
  ModelOutput forward_from_state(const torch::Tensor& tokens, const torch::Tensor& initial_state,
                                 InferenceState* state = nullptr,
                                 const ForwardOptions& options = {});
  // The s0 forward() uses for embeddings e [B, T, d] whose first token sits at `start`.
  torch::Tensor initial_state(const torch::Tensor& e, int64_t start);
  bool is_recurrent() const override { return true; }

  const HuginnConfig& huginn_config() const { return cfg_; }
  LMEnds ends;
  torch::nn::ModuleList prelude{nullptr}, core{nullptr}, coda{nullptr};
  std::vector<models::TransformerBlock> prelude_blocks, core_blocks, coda_blocks;
  torch::nn::Linear adapter{nullptr};

 private:
  ModelOutput run(const torch::Tensor& tokens, const torch::Tensor& initial_state,
                  InferenceState* state, const ForwardOptions& options);
  void init_takase();
  HuginnConfig cfg_;
};

// Analytic cost (models/cost.h), between the module and the registration in huginn.cpp.
models::Cost huginn_cost(const HuginnConfig& config, const models::Workload& workload);

models::FamilyInfo huginn_family();

}  // namespace dreamer::baselines
