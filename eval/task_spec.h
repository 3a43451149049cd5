#pragma once
// A benchmark declared in a JSON task file (eval/tasks/*.json), with lm-eval-harness
// semantics: a new JSONL benchmark needs only a task file. docs/EVAL.md documents every field.
// Parsing is strict: unknown keys are errors naming their JSON path.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/extraction.h"
#include "eval/normalize.h"

namespace dreamer::eval {

enum class OutputType {
  kGenerateUntil,         // greedy generation, filters, exact match
  kMultipleChoice,        // log-likelihood of each choice: acc, acc_norm
  kLoglikelihoodRolling,  // perplexity and bits per byte of whole documents
};

struct DataSpec {
  std::string path;              // JSONL (or text) file relative to the data root
  std::string format = "jsonl";  // "jsonl": one document a line; "text": the file is one document
  std::string where_field;       // keep only documents whose where_field is in where_in
  std::vector<std::string> where_in;
  // Instead of a file: a synthetic source (eval/synthetic_source.h) giving {prompt, answer}.
  std::string synthetic;
  int64_t synthetic_n = 100;
  int64_t synthetic_seed = 0;
  nlohmann::json synthetic_params = nlohmann::json::object();
};

struct ShotSpec {
  int64_t n = 0;
  // Few-shot examples are the first n documents of this file (lm-eval "first_n" sampler).
  // Empty: the first n documents of the evaluated data, which are then not scored.
  std::string path;
};

struct ChoiceSpec {
  std::string field;              // document field holding the choices
  std::string regex;              // if set: field is a string, choices are group 1 of each match
  std::vector<std::string> list;  // fixed choices (MMLU's "A".."D") instead of a field
};

struct GoldSpec {
  std::string field;             // the correct choice: an index, or a value looked up in `map`
  std::vector<std::string> map;  // e.g. ["a","b","c","d","e"] for MathQA's letter
};

struct GenerationSpec {
  std::vector<std::string> until;  // stop strings (the end-of-text token always stops)
  int64_t max_new_tokens = 256;
};

struct TaskSpec {
  std::string name;
  int64_t version = 1;
  OutputType output_type = OutputType::kGenerateUntil;
  DataSpec data;
  std::string description;  // prepended once before the shots
  std::string prompt;       // template (eval/template.h): the question / document text
  std::string target;       // template: the answer text of a shot, and the reference to score
  bool has_target_filter = false;
  FilterSpec target_filter;  // turns the reference into the scored answer (MATH: boxed)
  ChoiceSpec choices;
  GoldSpec gold;
  ShotSpec shots;
  std::string target_delimiter = " ";
  std::string fewshot_delimiter = "\n\n";
  GenerationSpec generation;
  std::vector<FilterSpec> filters;  // generate_until: one exact-match score per filter
  MatchSpec match;
  int64_t max_length = 1024;  // loglikelihood_rolling: tokens per window

  static TaskSpec from_json(const nlohmann::json& j, const std::string& path = "$");
  nlohmann::json to_json() const;  // stored with every result
};

// Where task names are looked up: `extra` (if set), $DREAMER_TASKS_DIR, ./eval/tasks, and the
// source tree this program was built from.
std::vector<std::string> task_search_dirs(const std::string& extra = "");

// Finds a task by name (NAME.json in each of `search_dirs`, first hit) or by file path.
// Throws InputError listing the places it looked.
TaskSpec load_task(const std::string& name_or_path, const std::vector<std::string>& search_dirs);

}  // namespace dreamer::eval
