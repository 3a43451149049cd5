#pragma once
// Reading generations / log-likelihoods produced elsewhere, for `dreamer score`: lm-eval
// samples_<task>_<date>.jsonl files (doc_id, resps, arguments; one line per filter, the first
// line of a doc_id is used) or plain lines {"doc_id": N, "output": "..."} (optionally
// "prompt"). Entries are placed by doc_id among the task's documents.
#include <optional>
#include <string>
#include <vector>

#include "eval/documents.h"
#include "eval/runner.h"

namespace dreamer::eval {

struct Predictions {
  std::vector<std::optional<ExternalGeneration>> generations;  // generate_until tasks
  std::vector<std::optional<ExternalChoices>> choices;         // multiple_choice tasks
  size_t lines = 0, used = 0;
};

// Errors name file:line and what was expected.
Predictions read_predictions(const std::string& file, const TaskSpec& task, const TaskData& data);

}  // namespace dreamer::eval
