#pragma once
// Log-likelihood scoring (lm-eval `loglikelihood` and `loglikelihood_rolling`).
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "eval/batching.h"
#include "models/model.h"

namespace dreamer::eval {

struct TokenRequest {
  std::vector<int64_t> context;       // non-empty
  std::vector<int64_t> continuation;  // non-empty; scored given the context
};

struct LoglikelihoodResult {
  double logprob = 0;     // sum of log p(continuation token | everything before), natural log
  bool is_greedy = true;  // every continuation token is the argmax
  int64_t n_tokens = 0;
};

// Scores token requests; the model sees (context + continuation)[:-1].
std::vector<LoglikelihoodResult> score_tokens(models::LanguageModel& model,
                                              const std::vector<TokenRequest>& requests,
                                              const ScoringOptions& options);

// Text requests with lm-eval's encoding: trailing spaces of the context move to the
// continuation, the continuation's tokens are those of encode(context + continuation) after
// encode(context); an empty context is the end-of-text token.
TokenRequest encode_pair(const data::Tokenizer& tokenizer, std::string context,
                         std::string continuation);

// lm-eval get_rolling_token_windows with context_len 1: disjoint windows of max_length
// predicted tokens, the first preceded by the end-of-text token, the others by the tokens
// before them (up to max_length inputs in all).
std::vector<TokenRequest> rolling_windows(const std::vector<int64_t>& tokens, int64_t prefix_token,
                                          int64_t max_length);

}  // namespace dreamer::eval
