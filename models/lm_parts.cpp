#include "models/lm_parts.h"

#include <algorithm>
#include <cmath>

namespace dreamer::models {

int64_t default_ffn_hidden(int64_t d_model, Activation activation) {
  if (activation != Activation::kSwiGLU) return 4 * d_model;
  return (8 * d_model / 3 + 63) / 64 * 64;
}

void LMEnds::build_embedding(LanguageModel& model, const Backbone& b, int64_t max_positions) {
  embedding = model.register_module("embedding", torch::nn::Embedding(b.vocab_size, b.d_model));
  model.declare_roles("embedding", *embedding, ParameterRole::kEmbedding);
  if (max_positions > 0) {
    position_embedding =
        model.register_module("position_embedding", torch::nn::Embedding(max_positions, b.d_model));
    model.declare_roles("position_embedding", *position_embedding, ParameterRole::kEmbedding);
  }
}

void LMEnds::build_head(LanguageModel& model, const Backbone& b, bool head_bias,
                        const std::string& norm_name) {
  norm_out = model.register_module(norm_name, Norm(b.d_model, b.norm, b.norm_eps));
  if (!b.tie_embeddings) {
    lm_head = model.register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(b.d_model, b.vocab_size).bias(head_bias)));
    model.declare_roles("lm_head", *lm_head, ParameterRole::kHead);
  }
}

void LMEnds::build(LanguageModel& model, const Backbone& b, int64_t max_positions, bool head_bias,
                   const std::string& norm_name) {
  build_embedding(model, b, max_positions);
  build_head(model, b, head_bias, norm_name);
}

torch::Tensor LMEnds::embed(const torch::Tensor& tokens, int64_t start,
                            const InferenceState* state) {
  auto x = embedding(tokens);
  if (position_embedding && state && state->is_static())
    return x + position_embedding(state->slot);  // [1, d]: one token, the position on the device
  if (position_embedding) {
    const int64_t t = tokens.size(1), max = position_embedding->weight.size(0);
    TORCH_CHECK(start + t <= max, "sequence of ", start + t,
                " tokens exceeds the learned positions (max_seq_len ", max, ")");
    x = x + position_embedding(torch::arange(start, start + t, tokens.device()));
  }
  return x;
}

HeadWeights LMEnds::head() const {
  if (!lm_head) return {embedding->weight, torch::Tensor()};
  return {lm_head->weight, lm_head->options.bias() ? lm_head->bias : torch::Tensor()};
}

void init_gpt2_style(LanguageModel& model, double std, int64_t residual_writes) {
  torch::NoGradGuard no_grad;
  const double out_std =
      std / std::sqrt(static_cast<double>(std::max<int64_t>(residual_writes, 1)));
  const ParameterRoles roles = collect_parameter_roles(model);
  for (auto& item : model.named_parameters()) {
    auto& p = item.value();
    const ParameterRole role = role_of(roles, item.key());
    if (role == ParameterRole::kNorm || role == ParameterRole::kRouter) continue;  // as built
    if (p.dim() < 2) {
      p.zero_();  // biases
      continue;
    }
    p.normal_(0.0, role == ParameterRole::kResidualOutput ? out_std : std);
  }
}

int64_t prepare_state(InferenceState* state, int64_t n_sequence, int64_t recurrences,
                      int64_t n_depth) {
  if (!state) return 0;
  if (state->sequence.empty() && state->position == 0) {
    state->allocate(static_cast<size_t>(n_sequence), static_cast<size_t>(n_depth));
    state->recurrences = recurrences;
  }
  TORCH_CHECK(static_cast<int64_t>(state->sequence.size()) == n_sequence, "decoding state holds ",
              state->sequence.size(), " caches, this call needs ", n_sequence);
  // Static decoding: this step's token is valid as well (written before attention reads).
  if (state->is_static()) torch::le_out(state->valid, state->key_index, state->slot);
  return state->position;
}

void finish_state(InferenceState* state, const torch::Tensor& tokens) {
  if (!state) return;
  state->position += tokens.size(1);
  if (state->is_static()) state->slot.add_(tokens.size(1));  // on the device: graph replays too
}

}  // namespace dreamer::models
