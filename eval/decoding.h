#pragma once
// Batched greedy decoding with KV caches (one InferenceState per batch), stop strings and a
// token budget. Batches hold prompts of equal token length (eval/batching.h), so no padding.
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "eval/batching.h"
#include "models/model.h"

namespace dreamer::eval {

struct GenerationOptions {
  std::vector<std::string> until;  // stop strings; the output is cut before the first one
  int64_t max_new_tokens = 256;
  bool stop_at_eos = true;
};

// The continuation of each prompt, cut at the first stop string or end-of-text token.
std::vector<std::string> greedy_generate(models::LanguageModel& model,
                                         const data::Tokenizer& tokenizer,
                                         const std::vector<std::string>& prompts,
                                         const GenerationOptions& generation,
                                         const ScoringOptions& scoring);

// Cuts `text` before the earliest occurrence of any stop string; true if one was found.
bool cut_at_stop(std::string& text, const std::vector<std::string>& until);

}  // namespace dreamer::eval
