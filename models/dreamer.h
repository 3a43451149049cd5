#pragma once
// The Dreamer family (Knupp et al. 2026, arXiv 2601.21582): ONE depth-recurrent layer that
// mixes sequence attention (SA), depth attention (DA) and sparse expert attention (EA),
// applied R times. Every choice the paper leaves open is an option below; docs/DESIGN.md
// gives each default with its evidence.
#include <torch/torch.h>

#include "models/blocks/depth_attention.h"
#include "models/blocks/experts.h"
#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/blocks/recurrence.h"
#include "models/blocks/sequence_attention.h"
#include "models/cost.h"
#include "models/family.h"
#include "models/lm_parts.h"
#include "models/model.h"
#include "models/shared_config.h"

namespace dreamer::models {

enum class NormPlacement { kPre, kPeri };
// How the attentions of one depth step combine (docs/DESIGN.md, "Mixing"):
// parallel: SA and DA read one normalised state and their outputs are summed into the
// residual; separate: sequential pre-norm sub-layers SA -> DA -> EA; joint_sa_da: one softmax
// over sequence and depth keys.
enum class MixMode { kSeparate, kJointSequenceDepth, kParallel };
// Where EA (or the dense FFN) sits in parallel mode: branch = one more parallel branch from the
// same normalised state; after = a sequential pre-norm sub-layer after the summed branches.
enum class ParallelExpert { kBranch, kAfter };
// none: the embedding enters at depth 1 only; add: it is added to the state entering every
// depth r >= 2 (depth 1 starts from it anyway), so it reaches the steps that carry gradients.
enum class InputInjection { kNone, kAdd };

// The backbone keys (vocabulary, width, heads, norm, embeddings, init) are the baselines'
// (models/shared_config.h); DreamerConfig::fields() declares the rest.
struct DreamerConfig : Backbone {
  NormPlacement norm_placement = NormPlacement::kPre;
  MixMode mix_mode = MixMode::kParallel;
  ParallelExpert parallel_expert = ParallelExpert::kBranch;  // mix_mode = parallel only
  InputInjection input_injection = InputInjection::kNone;

  struct Ffn {           // the dense FFN, used when expert attention is off
    int64_t hidden = 0;  // 0 = 4 * d_model (8/3 * d_model rounded to 64 for SwiGLU)
    Activation activation = Activation::kSwiGLU;
  } ffn;

  struct DepthAttn {
    bool enabled = true;
    int64_t n_heads = 0;   // 0 = n_heads
    int64_t head_dim = 0;  // 0 = the sequence attention's head_dim
    DepthScope scope = DepthScope::kSameToken;
    DepthRope rope = DepthRope::kForwardReverse;
    bool include_depth0 = true;
    bool zero_init_output = true;
  } depth_attention;

  struct ExpertAttn {  // JSON "ffn_experts": EA sits where the FFN sits
    bool enabled = true;
    int64_t n_experts = 64;
    int64_t k = 4;
    int64_t expert_dim = 128;
    Activation activation = Activation::kReLU;
    RouterQuery query = RouterQuery::kLinear;
    int64_t router_dim = 0;  // 0 = d_model
    DepthEncoding depth_encoding = DepthEncoding::kLearnedOffset;
    GateKind gate = GateKind::kSigmoid;
    bool renormalize = true;
    bool balancing_bias = true;
    double bias_update_rate = 1e-3;
    // The only source, an AI summary [SUMMARY-H], selects on TopK(sigmoid(x), x + b, k): the
    // bias on the logits. The paper itself says nothing more; `scores` is DeepSeek-V3's rule.
    BiasPlacement bias_placement = BiasPlacement::kLogits;
  } expert_attention;

  RecurrenceSchedule recurrence;

  static const ConfigFields<DreamerConfig>& fields();
  static DreamerConfig from_json(const nlohmann::json& params, const std::string& path);
  nlohmann::json to_json() const;
  void validate(const std::string& path) const;  // throws InputError naming the field
  ParameterCounts parameter_counts() const;      // analytic, equals the built module's
  // Resolved values of the "0 = derived" fields (kv_heads(), seq_head_dim(): Backbone's).
  int64_t ffn_hidden() const;
  int64_t da_heads() const { return depth_attention.n_heads ? depth_attention.n_heads : n_heads; }
  int64_t da_head_dim() const {
    return depth_attention.head_dim ? depth_attention.head_dim : seq_head_dim();
  }
  // The separate DA module is built (on in separate and parallel modes; joint_sa_da reuses SA).
  bool builds_depth_attention() const {
    return depth_attention.enabled && mix_mode != MixMode::kJointSequenceDepth;
  }
  // EA (or the dense FFN) reads the attention branches' shared norm instead of its own.
  bool expert_is_branch() const {
    return mix_mode == MixMode::kParallel && parallel_expert == ParallelExpert::kBranch;
  }
};

// The shared depth-recurrent layer.
struct DreamerLayerImpl : torch::nn::Module {
  explicit DreamerLayerImpl(const DreamerConfig& config);

  struct Context {
    int64_t depth = 0;  // 1-based
    int64_t total = 0;  // R
    int64_t start = 0;  // absolute position of the first token
    KVCache* sequence_cache = nullptr;
    DepthMemory* memory = nullptr;   // DA (separate and parallel modes)
    KVCache* depth_cache = nullptr;  // DA all-tokens scope while decoding
    std::vector<std::pair<torch::Tensor, torch::Tensor>>* joint_depth_kv = nullptr;  // joint
    RoutingTrace* trace = nullptr;
  };
  torch::Tensor forward(torch::Tensor h, Context& ctx);
  // The norm whose output depth attention stores as keys (also for level 0, the embedding).
  Norm& depth_norm() { return norm_mix ? norm_mix : norm_da; }

  DreamerConfig config;
  // norm_mix: the one norm every parallel branch reads (parallel mode; then norm_sa and
  // norm_da are not built, nor norm_ffn when EA is a branch).
  Norm norm_mix{nullptr}, norm_sa{nullptr}, norm_da{nullptr}, norm_ffn{nullptr};
  SequenceAttention attention{nullptr};
  DepthAttention depth_attention{nullptr};
  FeedForward ffn{nullptr};
  Router router{nullptr};
  ExpertFFN experts{nullptr};

 private:
  torch::Tensor parallel_step(const torch::Tensor& h, Context& ctx);
  torch::Tensor joint_attention(const torch::Tensor& h, Context& ctx);
  // EA, or the dense FFN when EA is off, on the normalised state x (the residual h feeds the
  // experts with peri norm placement).
  torch::Tensor channel_mix(const torch::Tensor& h, const torch::Tensor& x, Context& ctx);
  torch::Tensor expert_attention(const torch::Tensor& h, const torch::Tensor& x, Context& ctx);
};
TORCH_MODULE(DreamerLayer);

class DreamerModel : public LanguageModel {
 public:
  explicit DreamerModel(const ModelConfig& config);
  ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                      const ForwardOptions& options = {}) override;
  HeadWeights head() const override;
  void after_optimizer_step() override;
  bool is_recurrent() const override { return true; }
  // Static decoding (models/static_decode.h) where one-token steps keep no state beyond the
  // sequence caches: not joint sequence-depth attention (its earlier-depth keys) and not DA over
  // all tokens (a depth cache); DA over the same token's levels is rebuilt inside each step.
  bool supports_static_decode() const override;
  // And, with EA, only on the grouped expert path (the loop reads expert counts on the host).
  bool decode_step_capturable(const torch::Device& device) const override;

  const DreamerConfig& dreamer_config() const { return cfg_; }
  LMEnds ends;  // embedding, final norm, LM head (models/lm_parts.h)
  DreamerLayer layer{nullptr};

 private:
  DreamerConfig cfg_;
};

// Analytic cost (models/cost.h), between the model and the registration in dreamer.cpp.
Cost dreamer_cost(const DreamerConfig& config, const Workload& workload);

FamilyInfo dreamer_family();

}  // namespace dreamer::models
