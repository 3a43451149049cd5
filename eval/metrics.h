#pragma once
// Aggregations of per-document scores, as lm-eval's lm_eval/api/metrics.py, and the one list of
// the scores the eval runner emits: their names per task and which direction is better. The
// runner, the experiment planner (metric names checked at load time) and the report (which arm
// is best) all read this list.
#include <optional>
#include <string>
#include <vector>

#include "eval/task_spec.h"

namespace dreamer::eval {

double mean(const std::vector<double>& values);
// Standard error of the mean: sample standard deviation (n - 1 denominator) / sqrt(n)
// (lm-eval mean_stderr). nullopt for fewer than two values.
std::optional<double> mean_stderr(const std::vector<double>& values);

enum class Direction { kHigherIsBetter, kLowerIsBetter };

// One kind of score. `name` is the metric itself, or for generate_until the prefix of
// "exact_match,<filter name>" (one score per filter of the task).
struct MetricKind {
  std::string name;
  OutputType output_type;
  Direction direction;
  bool per_filter;  // the stored name is name + "," + the filter's name
};

// Every kind of score run_task can emit, in the order it emits them for each output type.
const std::vector<MetricKind>& metric_kinds();

// The stored metric names run_task emits for `task` (after TaskSpec::from_json), in order.
std::vector<std::string> task_metrics(const TaskSpec& task);

// The score a task's results are read by when an experiment names none: the first filter's
// exact match, acc, or bits_per_byte.
std::string default_metric(const TaskSpec& task);

// Which way `metric` (a stored name, "exact_match,<filter>" included) is better; nullopt for
// a name the eval code never emits.
std::optional<Direction> metric_direction(const std::string& metric);
// metric_direction() as the report's flag; `fallback` for unknown names (e.g. rows written by
// another program).
bool higher_is_better(const std::string& metric, bool fallback = true);

// InputError at `where` unless `task` emits `metric`; the message lists the valid names.
void check_metric(const TaskSpec& task, const std::string& metric, const std::string& where);

}  // namespace dreamer::eval
