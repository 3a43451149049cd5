#pragma once
// A benchmark declared in a JSON task file (eval/tasks/*.json), with lm-eval-harness
// semantics: a new JSONL benchmark needs only a task file. docs/EVAL.md documents every field.
// Parsing is strict: unknown keys are errors naming their JSON path.
#include <nlohmann/json.hpp>

#include <optional>
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

enum class ShotSampler {
  kFirstN,  // lm-eval "first_n": the first n documents of the pool
  kRandom,  // lm-eval "default": random.Random(seed).sample(pool, n) per document, one
            // generator advanced across the documents in order
};

// Where a document's few-shot examples come from (lm-eval fewshot_config). The pool is, in
// order of precedence: `exemplars` (fixed list, lm-eval `samples`), the file `path` (lm-eval
// fewshot_split), or the evaluated data itself, with the document being scored left out of
// its own shots (lm-eval's rule when the fewshot split is the test split).
struct ShotSpec {
  int64_t n = 0;
  ShotSampler sampler = ShotSampler::kFirstN;
  int64_t seed = 1234;  // lm-eval's default fewshot_random_seed
  std::string path;
  std::vector<nlohmann::json> exemplars;
  std::string target;       // template of a shot's answer; empty: the task's `target`
  std::string unavailable;  // set: there is no pool offline (this text says why); n must be 0
};

struct ChoiceSpec {
  std::string field;              // document field holding the choices
  std::string regex;              // if set: field is a string, choices are group 1 of each match
                                  // (the whole match when the regex has no group)
  std::vector<std::string> list;  // fixed choices (MMLU's "A".."D") instead of a field
  int64_t slice_from = 0;         // drop this many leading characters of each choice
  std::string rstrip;             // then strip these characters from its end (Python rstrip)
  // If set and the field's string is a Python list literal of strings ("['a ) 1', 'b ) 2']"),
  // its elements are first joined with this separator (MathQA's 16 list-form items).
  std::string python_list_join;
};

struct GoldSpec {
  std::string field;             // the correct choice: an index, or a value looked up in `map`
  std::vector<std::string> map;  // e.g. ["a","b","c","d","e"] for MathQA's letter
};

struct GenerationSpec {
  std::vector<std::string> until;  // stop strings (the end-of-text token always stops)
  int64_t max_new_tokens = 256;    // tokens of the model's tokenizer (lm-eval max_gen_toks)
  // lm-eval generation_kwargs do_sample / temperature / top_p / top_k; off: greedy. `seed`
  // seeds every (document, repeat) stream (eval/sampling.h).
  bool do_sample = false;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;    // 0: no top-k cut
  int64_t seed = 1234;  // lm-eval's default torch seed
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
  int64_t repeats = 1;              // generate_until: responses per document (lm-eval repeats)
  std::string gen_prefix;           // template: text after the question that the answer continues
                                    // (lm-eval gen_prefix; in shots too, before their answers)
  std::vector<FilterSpec> filters;  // generate_until: one exact-match score per filter
  MatchSpec match;
  // multiple_choice metrics: "acc", "acc_norm" (per character, lm-eval), "acc_bytes".
  std::vector<std::string> metrics = {"acc", "acc_norm"};
  std::vector<std::string> notes;  // where the task cannot equal lm-eval, and why
  int64_t max_length = 1024;       // loglikelihood_rolling: tokens per window

  static TaskSpec from_json(const nlohmann::json& j, const std::string& path = "$");
  nlohmann::json to_json() const;  // stored with every result
};

// Where task names are looked up: `extra` (if set), $DREAMER_TASKS_DIR, ./eval/tasks, and the
// source tree this program was built from.
std::vector<std::string> task_search_dirs(const std::string& extra = "");

// A group of tasks scored together (lm-eval group): every subtask's rows, plus the group's
// rows for each aggregated metric: `M` = the size-weighted mean (lm-eval weight_by_size) and
// `M_macro` = the unweighted mean of the subtasks, both with lm-eval's pooled stderr.
struct GroupSpec {
  std::string name;
  int64_t version = 1;
  std::vector<std::string> tasks;
  std::vector<std::string> aggregate;  // metrics to aggregate, e.g. ["acc"]
  std::vector<std::string> notes;
  static GroupSpec from_json(const nlohmann::json& j, const std::string& path = "$");
};

// The JSON of a task or group file with its `include` chain resolved: the included file
// (relative to the including one) is the base, the including file's keys are merged over it
// (RFC 7386 merge patch: objects merge key by key, everything else replaces).
nlohmann::json read_task_json(const std::string& file);

// The file a task or group name resolves to (NAME.json in each of `search_dirs`, first hit),
// or the path itself when it ends in .json. Throws InputError listing the places it looked.
std::string find_task_file(const std::string& name_or_path,
                           const std::vector<std::string>& search_dirs);

// Finds a task by name or by file path. A group file is an InputError (see load_tasks).
TaskSpec load_task(const std::string& name_or_path, const std::vector<std::string>& search_dirs);

// A task, or a group with its subtasks in order (their names resolve in the same dirs).
struct TaskSelection {
  std::optional<GroupSpec> group;
  std::vector<TaskSpec> tasks;
};
TaskSelection load_tasks(const std::string& name_or_path,
                         const std::vector<std::string>& search_dirs);

}  // namespace dreamer::eval
