#pragma once
// Loading a task's documents: JSONL files under the data root, an optional field filter, a
// synthetic source, and each scored document's few-shot examples (lm-eval's samplers).
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "eval/synthetic_source.h"
#include "eval/task_spec.h"

namespace dreamer::eval {

struct TaskData {
  // The shots of the first scored document; every document's when doc_shots is empty.
  std::vector<nlohmann::json> shots;
  std::vector<nlohmann::json> docs;                    // scored documents, in file order
  std::vector<std::vector<nlohmann::json>> doc_shots;  // per scored document (may be empty)
  std::vector<int64_t> doc_ids;         // lm-eval doc_id: index among the task's documents
  std::vector<std::string> doc_hashes;  // lm-eval doc_hash per document (may be empty)
  nlohmann::json shot_settings = nlohmann::json::object();  // what drew the shots (stored)

  const std::vector<nlohmann::json>& shots_of(size_t i) const {
    return doc_shots.empty() ? shots : doc_shots[i];
  }
  int64_t doc_id(size_t i) const { return doc_ids.empty() ? static_cast<int64_t>(i) : doc_ids[i]; }
};

struct DataOptions {
  int64_t limit = 0;                    // > 0: the first `limit` documents only
  std::optional<int64_t> num_fewshot;   // overrides shots.n (lm-eval --num_fewshot)
  std::optional<int64_t> fewshot_seed;  // overrides shots.seed (lm-eval --seed's fourth value)
};

// One JSON object a line; blank lines are skipped. Errors name file:line. With `raw_lines`,
// each object's line text is kept too (key order, for lm-eval's doc_hash).
std::vector<nlohmann::json> read_jsonl(const std::string& file,
                                       std::vector<std::string>* raw_lines = nullptr);

TaskData load_task_data(const TaskSpec& task, const std::string& data_root,
                        const SyntheticSources& sources, const DataOptions& options);
// `limit` > 0 keeps the first `limit` scored documents.
TaskData load_task_data(const TaskSpec& task, const std::string& data_root,
                        const SyntheticSources& sources, int64_t limit = 0);

// lm-eval's doc_hash: sha256 of json.dumps(doc, indent=2, ensure_ascii=False), the document's
// keys in their original order (give the JSONL line text).
std::string lmeval_doc_hash(const std::string& json_text);

// The data root: DREAMER_DATA_DIR if set, else ../shared/data (the project's sibling folder).
std::string default_data_root();

}  // namespace dreamer::eval
