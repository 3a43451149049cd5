#pragma once
// The parts of a language model around a family's own layers, composed by every family: the
// token (and position) embedding, the final norm and the LM head (tied or not), GPT-2-style
// init by parameter role, the dense FFN's default width, and the decoding-state bookkeeping.
#include <torch/torch.h>

#include <string>

#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/model.h"
#include "models/shared_config.h"

namespace dreamer::models {

// Dense FFN width default: 4 d, or Llama's 8/3 d rounded up to 64 for SwiGLU.
int64_t default_ffn_hidden(int64_t d_model, Activation activation);

// Embedding, optional learned positions, final norm and LM head, registered directly on the
// model ("embedding", "position_embedding", the norm's name, "lm_head") with their roles. A
// family registers its layers between build_embedding() and build_head() or after build(): the
// order of registration is the order init draws its random numbers in.
struct LMEnds {
  // The token table and, with max_positions > 0, a learned position table.
  void build_embedding(LanguageModel& model, const Backbone& b, int64_t max_positions = 0);
  // The final norm and, unless the embedding is tied, the LM head.
  void build_head(LanguageModel& model, const Backbone& b, bool head_bias = false,
                  const std::string& norm_name = "norm_out");
  // Both, in that order.
  void build(LanguageModel& model, const Backbone& b, int64_t max_positions, bool head_bias = false,
             const std::string& norm_name = "norm_out");
  // [B, T] -> [B, T, d]; a static `state` (models/static_decode.h) supplies the position.
  torch::Tensor embed(const torch::Tensor& tokens, int64_t start,
                      const InferenceState* state = nullptr);
  HeadWeights head() const;  // the untied head, or the token table when tied

  torch::nn::Embedding embedding{nullptr}, position_embedding{nullptr};
  Norm norm_out{nullptr};
  torch::nn::Linear lm_head{nullptr};
};

// GPT-2 / nanoGPT init, by parameter role (models/roles.h): matrices and embeddings N(0, std);
// residual outputs (attention o, MLP down) N(0, std / sqrt(residual_writes)); biases zero;
// norms and routers as built.
void init_gpt2_style(LanguageModel& model, double std, int64_t residual_writes);

// Sizes a fresh decoding state (n_sequence sequence caches, n_depth depth caches, the
// recurrences it is fixed to) or checks a used one; returns the absolute position of the first
// new token.
int64_t prepare_state(InferenceState* state, int64_t n_sequence, int64_t recurrences = 0,
                      int64_t n_depth = 0);
inline KVCache* cache_at(InferenceState* state, int64_t i) {
  return state ? &state->sequence[static_cast<size_t>(i)] : nullptr;
}
// Moves a used state past the tokens of this call.
void finish_state(InferenceState* state, const torch::Tensor& tokens);

}  // namespace dreamer::models
