#pragma once
// The config pieces several families share, each declared once (models/config_fields.h): the
// decoder-only LM backbone, the recurrence schedule, the dense FFN and the keys of a routed
// expert pool. One concept has one JSON name in every family (docs/DESIGN.md, "Config names").
#include <cstdint>
#include <string>

#include "models/blocks/experts.h"
#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/blocks/recurrence.h"
#include "models/blocks/sequence_attention.h"
#include "models/config_fields.h"

namespace dreamer::models {

// One-line docs of the keys that MoEUT declares by itself with the same meaning as Backbone's.
namespace doc {
inline constexpr const char* kVocabSize = "tokens in the vocabulary";
inline constexpr const char* kDModel = "residual stream width";
inline constexpr const char* kNHeads = "query heads of sequence attention";
inline constexpr const char* kHeadDim = "width of one attention head; 0 = d_model / n_heads";
inline constexpr const char* kRopeBase = "RoPE base";
inline constexpr const char* kNormEps = "norm epsilon";
}  // namespace doc

// Hyperparameters of a decoder-only LM that every family but MoEUT has (flat in its JSON).
struct Backbone {
  int64_t vocab_size = 256;
  int64_t d_model = 256;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 0;  // 0 = n_heads
  int64_t head_dim = 0;    // 0 = d_model / n_heads
  double rope_base = 10000.0;
  NormKind norm = NormKind::kRMSNorm;
  double norm_eps = 1e-5;
  bool tie_embeddings = false;
  double init_std = 0.02;

  // init_std must be positive; fields(true) also accepts 0 (Huginn: the init scheme's own σ).
  static const ConfigFields<Backbone>& fields(bool init_std_zero_is_scheme = false);
  // The checks across fields (head layout); the field checks run with the family's fields().
  void validate_layout(const std::string& path, bool rope) const;
  int64_t kv_heads() const { return n_kv_heads ? n_kv_heads : n_heads; }
  int64_t seq_head_dim() const { return head_dim ? head_dim : d_model / n_heads; }
  SequenceAttentionOptions attention(bool rope, bool bias = false, bool qk_bias = false) const;
  // Token table, untied LM head and `positions` learned position rows.
  int64_t embedding_parameters(int64_t positions = 0) const;
};

// The recurrence schedule of every recurrent family ("recurrence": {...}).
const ConfigFields<RecurrenceSchedule>& recurrence_fields();
// Field checks and max >= mean; `path` is the schedule object's path.
void validate_schedule(const RecurrenceSchedule& s, const std::string& path);

// "ffn": {"hidden", "activation"}: the dense FFN of a config struct T.
template <typename T>
ConfigFields<T> dense_ffn_fields(int64_t T::*hidden, Activation T::*activation) {
  ConfigFields<T> f;
  f.field("hidden", hidden, "dense FFN width; 0 = 4 d (SwiGLU: 8/3 d rounded up to 64)",
          zero_or_positive<int64_t>());
  f.choice("activation", activation, activation_names(), "dense FFN activation");
  return f;
}

// The keys every routed expert pool has (ffn_experts, attention_experts): n_experts and k;
// expert_dim where the experts are FFNs (expert_dim = nullptr: not declared).
template <typename T>
void add_pool_keys(ConfigFields<T>& f, int64_t T::*n_experts, int64_t T::*k,
                   int64_t T::*expert_dim = nullptr, Check<int64_t> expert_dim_check = {},
                   const std::string& expert_dim_doc = "hidden width of one expert") {
  f.field("n_experts", n_experts, "experts in the pool", positive<int64_t>());
  f.field("k", k, "experts each token selects (top-k, <= n_experts)", positive<int64_t>());
  if (expert_dim) f.field("expert_dim", expert_dim, expert_dim_doc, std::move(expert_dim_check));
}

// The router keys the MoE transformer and Dreamer share.
template <typename T>
void add_router_keys(ConfigFields<T>& f, GateKind T::*gate, bool T::*renormalize,
                     bool T::*balancing_bias, double T::*bias_update_rate,
                     BiasPlacement T::*bias_placement) {
  f.choice("gate", gate, gate_kind_names(), "gate of the selected experts");
  f.field("renormalize", renormalize, "selected gates are scaled to sum to 1");
  f.field("balancing_bias", balancing_bias, "loss-free balancing bias (DeepSeek-V3)");
  f.field("bias_update_rate", bias_update_rate, "step of the balancing-bias update", at_least(0.0));
  f.choice("bias_placement", bias_placement, bias_placement_names(),
           "the bias enters the top-k on the logits or on the scores");
}

// k <= n_experts (k >= 1 is a field check); `pool` is the pool object's path.
void validate_top_k(const std::string& pool, int64_t n_experts, int64_t k);

}  // namespace dreamer::models
