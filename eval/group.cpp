#include "eval/group.h"

#include <cmath>
#include <map>

namespace dreamer::eval {

std::string macro_metric_name(const std::string& metric) {
  const auto comma = metric.find(',');
  if (comma == std::string::npos) return metric + "_macro";
  return metric.substr(0, comma) + "_macro" + metric.substr(comma);
}

std::optional<double> pooled_sample_stderr(const std::vector<double>& stderrs,
                                           const std::vector<int64_t>& sizes) {
  double numerator = 0, total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    numerator +=
        static_cast<double>(sizes[i] - 1) * stderrs[i] * stderrs[i] * static_cast<double>(sizes[i]);
    total += static_cast<double>(sizes[i]);
  }
  const double dof = total - static_cast<double>(sizes.size());
  if (sizes.empty() || dof <= 0) return std::nullopt;
  return std::sqrt(numerator / dof / total);
}

TaskResult aggregate_group(const GroupSpec& group, const std::vector<TaskResult>& subtasks) {
  TaskResult result;
  result.task = group.name;
  nlohmann::json names = nlohmann::json::array();
  for (const auto& t : subtasks) names.push_back(t.task);
  result.settings = {{"group", group.name},
                     {"version", group.version},
                     {"tasks", names},
                     {"aggregate", group.aggregate},
                     {"notes", group.notes}};
  struct Parts {
    std::vector<double> values, stderrs;
    std::vector<int64_t> sizes;
    bool all_stderr = true;
  };
  std::map<std::pair<int64_t, std::string>, Parts> by_depth_metric;
  for (const auto& t : subtasks)
    for (const auto& s : t.scores) {
      bool aggregated = false;
      for (const auto& m : group.aggregate)
        aggregated |= s.metric == m || s.metric.rfind(m + ",", 0) == 0;
      if (!aggregated) continue;
      auto& p = by_depth_metric[{s.depth, s.metric}];
      p.values.push_back(s.value);
      p.sizes.push_back(s.n);
      p.stderrs.push_back(s.stderr_.value_or(0.0));
      p.all_stderr &= s.stderr_.has_value();
    }
  for (const auto& [key, p] : by_depth_metric) {
    if (p.values.size() != subtasks.size()) continue;  // a subtask lacks it: no group score
    double weighted = 0, plain = 0;
    int64_t n = 0;
    for (size_t i = 0; i < p.values.size(); ++i) {
      weighted += p.values[i] * static_cast<double>(p.sizes[i]);
      plain += p.values[i];
      n += p.sizes[i];
    }
    const auto stderr_ = p.all_stderr ? pooled_sample_stderr(p.stderrs, p.sizes) : std::nullopt;
    result.scores.push_back({key.first, key.second, weighted / static_cast<double>(n), n, stderr_});
    result.scores.push_back({key.first, macro_metric_name(key.second),
                             plain / static_cast<double>(p.values.size()), n, stderr_});
  }
  return result;
}

}  // namespace dreamer::eval
