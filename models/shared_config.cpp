#include "models/shared_config.h"

namespace dreamer::models {

namespace {

ConfigFields<Backbone> backbone_fields(bool init_std_zero_is_scheme) {
  ConfigFields<Backbone> f;
  f.field("vocab_size", &Backbone::vocab_size, doc::kVocabSize, positive<int64_t>());
  f.field("d_model", &Backbone::d_model, doc::kDModel, positive<int64_t>());
  f.field("n_heads", &Backbone::n_heads, doc::kNHeads, positive<int64_t>());
  f.field("n_kv_heads", &Backbone::n_kv_heads, "key/value heads (GQA); 0 = n_heads",
          zero_or_positive<int64_t>());
  f.field("head_dim", &Backbone::head_dim, doc::kHeadDim, zero_or_positive<int64_t>());
  f.field("rope_base", &Backbone::rope_base, doc::kRopeBase, positive<double>());
  f.choice("norm", &Backbone::norm, norm_kind_names(), "norm layer kind");
  f.field("norm_eps", &Backbone::norm_eps, doc::kNormEps, positive<double>());
  f.field("tie_embeddings", &Backbone::tie_embeddings, "LM head shares the token table");
  if (init_std_zero_is_scheme)
    f.field("init_std", &Backbone::init_std, "init std; 0 = the init scheme's own", at_least(0.0));
  else
    f.field("init_std", &Backbone::init_std, "std of the N(0, std) init", positive<double>());
  return f;
}

}  // namespace

const ConfigFields<Backbone>& Backbone::fields(bool init_std_zero_is_scheme) {
  static const ConfigFields<Backbone> kPositive = backbone_fields(false);
  static const ConfigFields<Backbone> kZeroIsScheme = backbone_fields(true);
  return init_std_zero_is_scheme ? kZeroIsScheme : kPositive;
}

void Backbone::validate_layout(const std::string& p, bool rope) const {
  validate_head_layout(p, d_model, n_heads, n_kv_heads, head_dim, rope);
}

SequenceAttentionOptions Backbone::attention(bool rope, bool bias, bool qk_bias) const {
  SequenceAttentionOptions o;
  o.d_model = d_model;
  o.n_heads = n_heads;
  o.n_kv_heads = kv_heads();
  o.head_dim = seq_head_dim();
  o.rope = rope;
  o.rope_base = rope_base;
  o.bias = bias;
  o.qk_bias = qk_bias;
  return o;
}

int64_t Backbone::embedding_parameters(int64_t positions) const {
  return vocab_size * d_model * (tie_embeddings ? 1 : 2) + positions * d_model;
}

const ConfigFields<RecurrenceSchedule>& recurrence_fields() {
  static const ConfigFields<RecurrenceSchedule> kFields = [] {
    using S = RecurrenceSchedule;
    ConfigFields<S> f;
    f.choice("sampling", &S::sampling, recurrence_sampling_names(),
             "fixed count, or Huginn's sampled count");
    f.field("mean", &S::mean, "the count, or its mean; evaluation runs the mean",
            at_least<int64_t>(1));
    f.field("backprop_depth", &S::backprop_depth, "gradients through the last k steps; 0 = all",
            at_least<int64_t>(0));
    f.field("sigma", &S::sigma, "log-normal spread of the sampled count", positive<double>());
    f.field("max", &S::max, "sampled counts are clipped to [1, max]", at_least<int64_t>(1));
    return f;
  }();
  return kFields;
}

void validate_schedule(const RecurrenceSchedule& s, const std::string& p) {
  recurrence_fields().check(s, p);
  require(s.max >= s.mean, p + ".max", "must be >= mean (" + std::to_string(s.mean) + ")");
}

void validate_top_k(const std::string& pool, int64_t n_experts, int64_t k) {
  require(k >= 1 && k <= n_experts, pool + ".k",
          "must be between 1 and n_experts (" + std::to_string(n_experts) + "), got " +
              std::to_string(k));
}

}  // namespace dreamer::models
