#pragma once
// The eval runner: one task, one model, a list of recurrence depths -> scores with standard
// errors, optional per-sample outputs, expert usage and diversity metrics, and the settings
// that produced them (stored with every result).
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "data/tokenizer.h"
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
  bool keep_samples = false;
  bool diversity = true;
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
  std::string output;      // generated text, or the chosen option for multiple choice
  nlohmann::json details;  // extracted answers, reference, per-choice log-likelihoods, ...
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
};

TaskResult run_task(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                    const TaskSpec& task, const TaskData& data, const RunOptions& options);

}  // namespace dreamer::eval
