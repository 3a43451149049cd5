#pragma once
// Batched greedy decoding with KV caches (one InferenceState per batch), stop strings and a
// token budget. Batches hold prompts of equal token length (eval/batching.h), so no padding.
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "eval/batching.h"
#include "eval/sampling.h"
#include "models/model.h"

namespace dreamer::eval {

struct GenerationOptions {
  std::vector<std::string> until;  // stop strings; the output is cut before the first one
  int64_t max_new_tokens = 256;
  bool stop_at_eos = true;
  // > 0: prompts keep only their last max_length - max_new_tokens tokens (lm-eval's left
  // truncation of generation contexts).
  int64_t max_length = 0;
  // do_sample: each next token is drawn (eval/sampling.h) from prompt i's stream, seeded with
  // stream_seeds[i] (one per prompt); otherwise greedy.
  SamplingOptions sampling;
  std::vector<uint64_t> stream_seeds;
};

struct Generation {
  std::string text;
  int64_t new_tokens = 0;             // tokens generated (before cutting at a stop string)
  bool hit_max_new_tokens = false;    // stopped by the budget, not by a stop string or EOT
  int64_t prompt_tokens_dropped = 0;  // left truncation of the prompt
};

// Each prompt's continuation, with how it ended.
std::vector<Generation> greedy_generate_detailed(models::LanguageModel& model,
                                                 const data::Tokenizer& tokenizer,
                                                 const std::vector<std::string>& prompts,
                                                 const GenerationOptions& generation,
                                                 const ScoringOptions& scoring);

// The continuation of each prompt, cut at the first stop string or end-of-text token.
std::vector<std::string> greedy_generate(models::LanguageModel& model,
                                         const data::Tokenizer& tokenizer,
                                         const std::vector<std::string>& prompts,
                                         const GenerationOptions& generation,
                                         const ScoringOptions& scoring);

// Cuts `text` before the earliest occurrence of any stop string; true if one was found.
bool cut_at_stop(std::string& text, const std::vector<std::string>& until);

}  // namespace dreamer::eval
