#pragma once
// Models with known outputs for the scoring tests (header-only; each is tiny).
#include <torch/torch.h>

#include <string>

#include "models/model.h"

namespace dreamer::testing {

// Every position predicts the same distribution: logit `boost` for `liked` bytes, 0 otherwise,
// over the byte tokenizer's 257 ids. Log-probabilities are then known in closed form.
class UnigramModel : public models::LanguageModel {
 public:
  UnigramModel(std::string liked, double boost)
      : LanguageModel(models::ModelConfig{"fake_unigram", {}}),
        liked_(std::move(liked)),
        boost_(boost) {}
  models::ModelOutput forward(const torch::Tensor& tokens, models::InferenceState* state,
                              const models::ForwardOptions& options) override {
    auto row = torch::zeros({257});
    for (unsigned char c : liked_) row[c] = boost_;
    models::ModelOutput out;
    out.logits = row.expand({tokens.size(0), tokens.size(1), 257}).clone();
    out.aux_loss = torch::zeros({});
    out.recurrences = 1;
    if (state) state->position += tokens.size(1);
    return out;
  }
  // log p(c) for a liked / other byte.
  double logp(bool liked) const {
    const double n_liked = static_cast<double>(liked_.size());
    const double z = n_liked * std::exp(boost_) + (257.0 - n_liked);
    return (liked ? boost_ : 0.0) - std::log(z);
  }

 private:
  std::string liked_;
  double boost_;
};

// Generates a fixed script after a prompt of known length: the logits at absolute position p
// favour script[p - prompt_length + 1]. Works with and without an InferenceState.
class ScriptedModel : public models::LanguageModel {
 public:
  ScriptedModel(int64_t prompt_length, std::string script)
      : LanguageModel(models::ModelConfig{"fake_scripted", {}}),
        prompt_length_(prompt_length),
        script_(std::move(script)) {}
  models::ModelOutput forward(const torch::Tensor& tokens, models::InferenceState* state,
                              const models::ForwardOptions& options) override {
    const int64_t start = state ? state->position : 0;
    const int64_t b = tokens.size(0), t = tokens.size(1);
    auto logits = torch::zeros({b, t, 257});
    for (int64_t i = 0; i < t; ++i) {
      const int64_t k = start + i - prompt_length_ + 1;
      const int64_t next = (k >= 0 && k < static_cast<int64_t>(script_.size()))
                               ? static_cast<unsigned char>(script_[k])
                               : 256;  // end of text after the script
      logits.select(1, i).select(1, next).fill_(10.0);
    }
    models::ModelOutput out;
    out.logits = logits;
    out.aux_loss = torch::zeros({});
    out.recurrences = 1;
    if (state) state->position += t;
    return out;
  }

 private:
  int64_t prompt_length_;
  std::string script_;
};

}  // namespace dreamer::testing
