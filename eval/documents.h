#pragma once
// Loading a task's documents: JSONL files under the data root, an optional field filter, a
// synthetic source, and the split into few-shot examples and scored documents.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/synthetic_source.h"
#include "eval/task_spec.h"

namespace dreamer::eval {

struct TaskData {
  std::vector<nlohmann::json> shots;  // few-shot examples, never scored
  std::vector<nlohmann::json> docs;   // scored documents, in file order
};

// One JSON object a line; blank lines are skipped. Errors name file:line.
std::vector<nlohmann::json> read_jsonl(const std::string& file);

// `limit` > 0 keeps the first `limit` scored documents.
TaskData load_task_data(const TaskSpec& task, const std::string& data_root,
                        const SyntheticSources& sources, int64_t limit = 0);

// The data root: DREAMER_DATA_DIR if set, else ../shared/data (the project's sibling folder).
std::string default_data_root();

}  // namespace dreamer::eval
