#pragma once
// Batched greedy decoding with static KV caches (one InferenceState per batch, sized for the
// longest prompt plus the budget), stop strings checked on the new text only, and a token
// budget. A batch holds prompts of similar length; each row starts generating at its own
// length (eval/batching.h), so rows need no padding and no mask.
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "eval/batching.h"
#include "eval/sampling.h"
#include "models/model.h"

namespace dreamer::eval {

// Where generation spends its time, summed over batches (bench-eval reports it). The device is
// waited for every step anyway (the next tokens are read on the host), so the phases cost no
// extra synchronisation.
struct GenerationTimings {
  int64_t batches = 0;
  int64_t prefill_tokens = 0;  // rows x the batch's shortest prompt
  double prefill_s = 0;        // the prefill forward and its first token choice
  int64_t steps = 0;           // one-token forwards after the prefill (lockstep: all rows)
  int64_t prompt_steps = 0;    // ... of which some row was still reading its prompt
  int64_t row_steps = 0;       // steps x rows
  int64_t generated_tokens = 0;
  double step_s = 0;  // the one-token forwards, token choice and stop checks
};

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
  GenerationTimings* timings = nullptr;  // optional: phases are added to it
  // One-token steps replayed from a captured CUDA graph where the family and device allow it
  // (models/static_decode.h); off: ordinary forward calls (the same tokens, slower on a GPU).
  bool cuda_graphs = true;
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

// The token-selection step of the generation loop: [b, V] logits of each row's last position
// -> [b] int64 next tokens. Greedy (argmax); a sampler plugs in here.
torch::Tensor select_next_tokens(const torch::Tensor& last_logits);

// Finds stop strings in a growing text, searching only what changed since the previous call
// (plus the overlap a stop string can straddle), not the whole text every step.
class StopScanner {
 public:
  explicit StopScanner(std::vector<std::string> until);
  // True if `text` (the whole continuation so far) contains a stop string.
  bool found(const std::string& text);

 private:
  std::vector<std::string> until_;
  size_t longest_ = 0;
  std::string seen_;
};

// Cuts `text` before the earliest occurrence of any stop string; true if one was found.
bool cut_at_stop(std::string& text, const std::vector<std::string>& until);

}  // namespace dreamer::eval
