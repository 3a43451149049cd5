#include "baselines/common.h"

#include <cmath>

#include "util/errors.h"

namespace dreamer::baselines {

int64_t default_ffn_hidden(int64_t d_model, models::Activation activation) {
  if (activation != models::Activation::kSwiGLU) return 4 * d_model;
  return (8 * d_model / 3 + 63) / 64 * 64;
}

void LMEnds::build(models::LanguageModel& model, const Backbone& b, int64_t max_positions,
                   bool head_bias, const std::string& norm_name) {
  using models::ParameterRole;
  embedding = model.register_module("embedding", torch::nn::Embedding(b.vocab_size, b.d_model));
  model.declare_roles("embedding", *embedding, ParameterRole::kEmbedding);
  if (max_positions > 0) {
    position_embedding =
        model.register_module("position_embedding", torch::nn::Embedding(max_positions, b.d_model));
    model.declare_roles("position_embedding", *position_embedding, ParameterRole::kEmbedding);
  }
  norm_out = model.register_module(norm_name, models::Norm(b.d_model, b.norm, b.norm_eps));
  if (!b.tie_embeddings) {
    lm_head = model.register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(b.d_model, b.vocab_size).bias(head_bias)));
    model.declare_roles("lm_head", *lm_head, ParameterRole::kHead);
  }
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

void init_gpt2_style(models::LanguageModel& model, double std, int64_t residual_writes) {
  using models::ParameterRole;
  torch::NoGradGuard no_grad;
  const double out_std =
      std / std::sqrt(static_cast<double>(std::max<int64_t>(residual_writes, 1)));
  const models::ParameterRoles roles = models::collect_parameter_roles(model);
  for (auto& item : model.named_parameters()) {
    auto& p = item.value();
    const ParameterRole role = models::role_of(roles, item.key());
    if (role == ParameterRole::kNorm || role == ParameterRole::kRouter) continue;  // as built
    if (p.dim() < 2) {
      p.zero_();  // biases
      continue;
    }
    p.normal_(0.0, role == ParameterRole::kResidualOutput ? out_std : std);
  }
}

}  // namespace dreamer::baselines
