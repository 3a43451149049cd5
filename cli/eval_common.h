#pragma once
// Pieces `dreamer eval` and `dreamer score` share.
#include "eval/runner.h"
#include "eval/task_spec.h"

namespace dreamer::cli {

// Prints a result's scores and warnings (n_docs 0: a group row, no document line).
void print_scores(const eval::TaskResult& result, size_t n_docs, size_t n_shots);
// --max-new-tokens (0: keep the task's); an error for tasks that do not generate.
void apply_task_overrides(eval::TaskSpec& spec, int64_t max_new_tokens);

}  // namespace dreamer::cli
