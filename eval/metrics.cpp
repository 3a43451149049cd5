#include "eval/metrics.h"

#include <algorithm>
#include <cmath>

#include "util/errors.h"

namespace dreamer::eval {

double mean(const std::vector<double>& values) {
  if (values.empty()) return std::nan("");
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

std::optional<double> mean_stderr(const std::vector<double>& values) {
  const size_t n = values.size();
  if (n < 2) return std::nullopt;
  const double mu = mean(values);
  double ss = 0;
  for (double v : values) ss += (v - mu) * (v - mu);
  return std::sqrt(ss / static_cast<double>(n - 1)) / std::sqrt(static_cast<double>(n));
}

const std::vector<MetricKind>& metric_kinds() {
  using D = Direction;
  using T = OutputType;
  static const std::vector<MetricKind> kKinds = {
      {"exact_match", T::kGenerateUntil, D::kHigherIsBetter, true},
      {"acc", T::kMultipleChoice, D::kHigherIsBetter, false},
      {"acc_norm", T::kMultipleChoice, D::kHigherIsBetter, false},
      {"perplexity", T::kLoglikelihoodRolling, D::kLowerIsBetter, false},
      {"byte_perplexity", T::kLoglikelihoodRolling, D::kLowerIsBetter, false},
      {"bits_per_byte", T::kLoglikelihoodRolling, D::kLowerIsBetter, false},
      {"word_perplexity", T::kLoglikelihoodRolling, D::kLowerIsBetter, false},
  };
  return kKinds;
}

std::vector<std::string> task_metrics(const TaskSpec& task) {
  std::vector<std::string> names;
  for (const auto& kind : metric_kinds()) {
    if (kind.output_type != task.output_type) continue;
    if (!kind.per_filter) {
      names.push_back(kind.name);
      continue;
    }
    for (const auto& filter : task.filters) names.push_back(kind.name + "," + filter.name);
  }
  return names;
}

std::string default_metric(const TaskSpec& task) {
  if (task.output_type == OutputType::kLoglikelihoodRolling) return "bits_per_byte";
  const auto names = task_metrics(task);
  return names.empty() ? "exact_match,whole" : names.front();
}

std::optional<Direction> metric_direction(const std::string& metric) {
  for (const auto& kind : metric_kinds()) {
    const bool match = kind.per_filter ? metric.rfind(kind.name + ",", 0) == 0 &&
                                             metric.size() > kind.name.size() + 1
                                       : metric == kind.name;
    if (match) return kind.direction;
  }
  return std::nullopt;
}

bool higher_is_better(const std::string& metric, bool fallback) {
  const auto direction = metric_direction(metric);
  return direction ? *direction == Direction::kHigherIsBetter : fallback;
}

void check_metric(const TaskSpec& task, const std::string& metric, const std::string& where) {
  const auto names = task_metrics(task);
  if (std::find(names.begin(), names.end(), metric) != names.end()) return;
  std::string valid;
  for (const auto& n : names) valid += (valid.empty() ? "" : ", ") + n;
  throw InputError(where, "task \"" + task.name + "\" has no metric \"" + metric +
                              "\" (its metrics: " + valid + ")");
}

}  // namespace dreamer::eval
