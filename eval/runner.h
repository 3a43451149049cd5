#pragma once
// The eval runner: one task, one model, a list of recurrence depths -> scores with standard
// errors, optional per-sample outputs, expert usage and diversity metrics, and the settings
// that produced them (stored with every result).
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "eval/decoding.h"
#include "eval/diversity.h"
#include "eval/documents.h"
#include "eval/task_spec.h"
#include "models/model.h"

namespace dreamer::eval {

struct RunOptions {
  // Recurrences to evaluate at (recurrent families); empty: the model's default. Ignored (one
  // run at depth 1) for non-recurrent families.
  std::vector<int64_t> depths;
  int64_t batch_size = 8;
  bool mixed_lengths = true;  // ScoringOptions::mixed_lengths (false only to benchmark against)
  bool keep_samples = false;
  bool diversity = true;
  // > 0: the model's context in tokens; longer inputs are left-truncated (lm-eval max_length).
  int64_t max_length = 0;
  GenerationTimings* generation_timings = nullptr;  // optional: generation's phases (bench-eval)
  bool cuda_graphs = true;                          // GenerationOptions::cuda_graphs
};

struct Score {
  int64_t depth = 0;   // recurrences actually run (1 for non-recurrent families)
  std::string metric;  // lm-eval style: "acc", "acc_norm", "exact_match,strict-match", ...
  double value = 0;
  int64_t n = 0;
  std::optional<double> stderr_;  // mean_stderr for accuracies; none for perplexities
};

struct SampleRecord {
  int64_t depth = 0;
  int64_t doc_index = 0;  // index among the scored documents
  std::string prompt;
  std::string output;  // generated text, or the chosen option for multiple choice
  // Extracted answers, reference, per-choice log-likelihoods, ..., and under "records" one
  // lm-eval samples-file record per filter (doc_id, doc, target, arguments, resps,
  // filtered_resps, filter, metrics, each metric's value, doc_hash, prompt_hash, target_hash).
  nlohmann::json details;
};

struct DepthRouting {
  int64_t depth = 0;  // recurrences of this run
  std::vector<ExpertCount> counts;
  std::vector<ExpertMetric> metrics;
};

struct TaskResult {
  std::string task;
  nlohmann::json settings;  // task spec + run options + shots actually used
  std::vector<Score> scores;
  std::vector<SampleRecord> samples;
  std::vector<DepthRouting> routing;  // one per depth, when the model has expert sites
  std::vector<std::string> warnings;  // also in settings["warnings"]
};

TaskResult run_task(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                    const TaskSpec& task, const TaskData& data, const RunOptions& options);

// Outputs produced elsewhere, by document position among data.docs.
struct ExternalGeneration {
  std::string output;
  std::vector<std::string> outputs;   // every response, when there are several (lm-eval resps[0])
  std::optional<std::string> prompt;  // the prompt they were generated from, when known
};
struct ExternalChoices {
  std::vector<double> loglikelihoods;  // one per choice
  std::vector<bool> is_greedy;
  std::optional<std::string> prompt;
};

// Scores generations / choice log-likelihoods made by another program exactly as run_task
// scores its own (depth 0: not run here). Documents without an entry are skipped; a prompt
// that differs from the one this task builds is counted in a warning.
TaskResult score_generations(const TaskSpec& task, const TaskData& data,
                             const std::vector<std::optional<ExternalGeneration>>& outputs,
                             bool keep_samples);
TaskResult score_choice_loglikelihoods(const TaskSpec& task, const TaskData& data,
                                       const std::vector<std::optional<ExternalChoices>>& lls,
                                       bool keep_samples);

// numpy.argmax: the first NaN if there is one, else the first maximum.
size_t numpy_argmax(const std::vector<double>& values);
// Characters of a UTF-8 string as Python's len() counts them (code points).
size_t python_len(const std::string& s);

}  // namespace dreamer::eval
