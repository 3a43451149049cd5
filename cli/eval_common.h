#pragma once
// Pieces `dreamer eval` and `dreamer score` share.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "eval/runner.h"
#include "eval/task_spec.h"

namespace dreamer::cli {

// Prints a result's scores and warnings (n_docs 0: a group row, no document line).
void print_scores(const eval::TaskResult& result, size_t n_docs, size_t n_shots);
// Command-line settings that replace a task's generation settings (unset: keep the task's).
struct TaskOverrides {
  int64_t max_new_tokens = 0;  // 0: the task's
  double temperature = 0;      // > 0: sample at this temperature (do_sample)
  double top_p = 0;            // > 0: nucleus cut (needs sampling)
  int64_t top_k = -1;          // >= 0: top-k cut (needs sampling; 0 turns it off)
  int64_t sample_seed = -1;    // >= 0: the sampling seed (needs sampling)
  int64_t repeats = 0;         // > 0: responses per document
  std::optional<std::string> gen_prefix;
};
// Registers --max-new-tokens, --temperature, --top-p, --top-k, --sample-seed, --repeats and
// --gen-prefix on `cmd`.
void add_task_override_options(CLI::App* cmd, TaskOverrides& overrides);
// Applies them; an InputError naming the flag for a task that does not generate, or for a
// sampling setting on a task that does not sample.
void apply_task_overrides(eval::TaskSpec& spec, const TaskOverrides& overrides);

}  // namespace dreamer::cli
