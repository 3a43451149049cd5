#pragma once
// A group's scores from its subtasks' (lm-eval api/group.py aggregation): for each aggregated
// metric and depth, `M` is the size-weighted mean over the subtasks (lm-eval weight_by_size,
// which equals the mean over all their documents) and `M_macro` the unweighted mean of the
// subtask values; both carry lm-eval's pooled_sample_stderr of the subtask stderrs.
#include <optional>
#include <vector>

#include "eval/runner.h"
#include "eval/task_spec.h"

namespace dreamer::eval {

TaskResult aggregate_group(const GroupSpec& group, const std::vector<TaskResult>& subtasks);

// "exact_match,none" -> "exact_match_macro,none"; "acc" -> "acc_macro".
std::string macro_metric_name(const std::string& metric);

// lm-eval pooled_sample_stderr: sqrt(sum((n_i - 1) s_i^2 n_i) / (sum n_i - k) / sum n_i).
std::optional<double> pooled_sample_stderr(const std::vector<double>& stderrs,
                                           const std::vector<int64_t>& sizes);

}  // namespace dreamer::eval
