#include "baselines/common.h"

#include <cmath>

#include "util/errors.h"

namespace dreamer::baselines {

void Backbone::read(JsonReader& r) {
  r.get("vocab_size", vocab_size);
  r.get("d_model", d_model);
  r.get("n_heads", n_heads);
  r.get("n_kv_heads", n_kv_heads);
  r.get("head_dim", head_dim);
  r.get("rope_base", rope_base);
  r.get_enum("norm", norm, models::norm_kind_names());
  r.get("norm_eps", norm_eps);
  r.get("tie_embeddings", tie_embeddings);
  r.get("init_std", init_std);
}

void Backbone::write(nlohmann::json& j) const {
  j["vocab_size"] = vocab_size;
  j["d_model"] = d_model;
  j["n_heads"] = n_heads;
  j["n_kv_heads"] = n_kv_heads;
  j["head_dim"] = head_dim;
  j["rope_base"] = rope_base;
  j["norm"] = enum_name(norm, models::norm_kind_names());
  j["norm_eps"] = norm_eps;
  j["tie_embeddings"] = tie_embeddings;
  j["init_std"] = init_std;
}

void Backbone::validate(const std::string& p, bool rope) const {
  auto at = [&](const std::string& field) { return p + "." + field; };
  require(vocab_size > 0, at("vocab_size"), "must be positive, got " + std::to_string(vocab_size));
  require(d_model > 0, at("d_model"), "must be positive, got " + std::to_string(d_model));
  models::validate_head_layout(p, d_model, n_heads, n_kv_heads, head_dim, rope);
  require(norm_eps > 0, at("norm_eps"), "must be positive");
  require(init_std > 0, at("init_std"), "must be positive");
}

models::SequenceAttentionOptions Backbone::attention(bool rope, bool bias, bool qk_bias) const {
  models::SequenceAttentionOptions o;
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

int64_t default_ffn_hidden(int64_t d_model, models::Activation activation) {
  if (activation != models::Activation::kSwiGLU) return 4 * d_model;
  return (8 * d_model / 3 + 63) / 64 * 64;
}

void LMEnds::build(torch::nn::Module& model, const Backbone& b, int64_t max_positions,
                   bool head_bias, const std::string& norm_name) {
  embedding = model.register_module("embedding", torch::nn::Embedding(b.vocab_size, b.d_model));
  if (max_positions > 0)
    position_embedding =
        model.register_module("position_embedding", torch::nn::Embedding(max_positions, b.d_model));
  norm_out = model.register_module(norm_name, models::Norm(b.d_model, b.norm, b.norm_eps));
  if (!b.tie_embeddings)
    lm_head = model.register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(b.d_model, b.vocab_size).bias(head_bias)));
}

torch::Tensor LMEnds::embed(const torch::Tensor& tokens, int64_t start) {
  auto x = embedding(tokens);
  if (position_embedding) {
    const int64_t t = tokens.size(1), max = position_embedding->weight.size(0);
    TORCH_CHECK(start + t <= max, "sequence of ", start + t,
                " tokens exceeds the learned positions (max_seq_len ", max, ")");
    x = x + position_embedding(torch::arange(start, start + t, tokens.device()));
  }
  return x;
}

models::HeadWeights LMEnds::head() const {
  if (!lm_head) return {embedding->weight, torch::Tensor()};
  return {lm_head->weight, lm_head->options.bias() ? lm_head->bias : torch::Tensor()};
}

int64_t prepare_state(InferenceState* state, int64_t n_caches, int64_t recurrences) {
  if (!state) return 0;
  if (state->sequence.empty() && state->position == 0) {
    state->allocate(static_cast<size_t>(n_caches));
    state->recurrences = recurrences;
  }
  TORCH_CHECK(static_cast<int64_t>(state->sequence.size()) == n_caches, "decoding state holds ",
              state->sequence.size(), " caches, this call needs ", n_caches);
  return state->position;
}

void finish_state(InferenceState* state, const torch::Tensor& tokens) {
  if (state) state->position += tokens.size(1);
}

void read_schedule(JsonReader r, models::RecurrenceSchedule& s) {
  r.get_enum("sampling", s.sampling, models::recurrence_sampling_names());
  r.get("mean", s.mean);
  r.get("backprop_depth", s.backprop_depth);
  r.get("sigma", s.sigma);
  r.get("max", s.max);
  r.finish();
}

nlohmann::json schedule_json(const models::RecurrenceSchedule& s) {
  return {{"sampling", enum_name(s.sampling, models::recurrence_sampling_names())},
          {"mean", s.mean},
          {"backprop_depth", s.backprop_depth},
          {"sigma", s.sigma},
          {"max", s.max}};
}

void validate_schedule(const models::RecurrenceSchedule& s, const std::string& p) {
  require(s.mean >= 1, p + ".mean", "must be at least 1, got " + std::to_string(s.mean));
  require(s.max >= s.mean, p + ".max", "must be >= mean (" + std::to_string(s.mean) + ")");
  require(s.backprop_depth >= 0, p + ".backprop_depth", "must be >= 0");
  require(s.sigma > 0, p + ".sigma", "must be positive");
}

void init_gpt2_style(torch::nn::Module& model, double std, int64_t residual_writes) {
  torch::NoGradGuard no_grad;
  const double out_std =
      std / std::sqrt(static_cast<double>(std::max<int64_t>(residual_writes, 1)));
  for (auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    auto& p = item.value();
    const bool is_norm = name.find("norm") != std::string::npos;
    if (is_norm || name.find("router.") != std::string::npos) continue;  // as constructed
    if (p.dim() < 2) {
      p.zero_();  // biases
      continue;
    }
    const bool is_output =
        name.find(".o.weight") != std::string::npos || name.find("down") != std::string::npos;
    p.normal_(0.0, is_output ? out_std : std);
  }
}

}  // namespace dreamer::baselines
