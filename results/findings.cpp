#include "results/findings.h"

#include "results/units.h"

namespace dreamer::results {

namespace {

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::string task_label(const ExperimentTask& task) {
  return task.task + " (" + task.metric + (task.higher_is_better ? "" : ", lower is better") + ")";
}

bool better(double a, double b, bool higher_is_better) {
  return higher_is_better ? a > b : a < b;
}

std::string average_finding(const ExperimentAnalysis& a) {
  const ArmSummary* best = nullptr;
  for (const auto& arm : a.arms)
    if (arm.average && (!best || *arm.average > *best->average)) best = &arm;
  if (!best)
    return "No arm has a value for every higher-is-better task, so no average is compared.";
  std::string line = "Best average over the higher-is-better tasks: " + best->arm + " (" +
                     format_score(*best->average) + ")";
  const ArmSummary* reference = a.reference_has_runs ? &a.arms.front() : nullptr;
  if (reference && reference != best) {
    line += reference->average
                ? " vs reference " + reference->arm + " (" + format_score(*reference->average) + ")"
                : "; the reference " + reference->arm + " has no average (tasks missing)";
  } else if (reference) {
    line += ", which is the reference";
  }
  std::vector<std::string> others;
  for (const auto& arm : a.arms)
    if (&arm != best && &arm != reference && arm.average)
      others.push_back(arm.arm + " " + format_score(*arm.average));
  if (!others.empty()) line += "; others: " + join(others, ", ");
  return line + ".";
}

std::string per_task_best(const ExperimentAnalysis& a) {
  std::vector<std::string> parts;
  for (const auto& task : a.tasks) {
    const ArmSummary* best = nullptr;
    for (const auto& arm : a.arms) {
      auto it = arm.final_value.find(task.task);
      if (it == arm.final_value.end()) continue;
      if (!best ||
          better(it->second.mean, best->final_value.at(task.task).mean, task.higher_is_better))
        best = &arm;
    }
    if (best)
      parts.push_back(task_label(task) + ": " + best->arm + " (" +
                      format_score(best->final_value.at(task.task).mean) + ")");
  }
  return parts.empty() ? "" : "Best arm per task: " + join(parts, "; ") + ".";
}

std::string ratio_finding(const ExperimentAnalysis& a, const ArmSummary& arm) {
  const std::string& reference = a.arms.front().arm;
  std::vector<std::string> parts;
  int reached = 0, compared = 0;
  for (const auto& task : a.tasks) {
    auto it = arm.vs_reference.find(task.task);
    if (it == arm.vs_reference.end() || !it->second) {
      parts.push_back(task.task + " n/a");
      continue;
    }
    ++compared;
    reached += it->second->reached;
    parts.push_back(task.task + " " + describe_ratio(*it->second));
  }
  if (compared == 0)
    return arm.arm + " vs " + reference +
           ": no tokens-to-accuracy comparison (fewer than two evaluated checkpoints).";
  return arm.arm + " reached " + reference + "'s final value on " + std::to_string(reached) +
         " of " + std::to_string(compared) + " compared tasks: " + join(parts, "; ") + ".";
}

std::string depth_finding(const ExperimentTask& task, const ArmSummary& arm,
                          const std::map<int64_t, double>& by_depth) {
  const auto& [low_depth, low_value] = *by_depth.begin();
  const auto& [high_depth, high_value] = *by_depth.rbegin();
  auto best = by_depth.begin();
  for (auto it = by_depth.begin(); it != by_depth.end(); ++it)
    if (better(it->second, best->second, task.higher_is_better)) best = it;
  return arm.arm + ", " + task_label(task) + ": " + format_score(low_value) + " at depth " +
         std::to_string(low_depth) + ", " + format_score(high_value) + " at depth " +
         std::to_string(high_depth) + "; best at depth " + std::to_string(best->first) + " (" +
         format_score(best->second) + ").";
}

}  // namespace

std::string describe_ratio(const TokensRatio& r) {
  if (!r.reached) return "not reached (< " + format_ratio(r.ratio) + ")";
  if (format_ratio(r.ratio) == format_ratio(1)) return "the same tokens (1.00x)";
  if (r.ratio > 1) return format_ratio(r.ratio) + " fewer tokens";
  return format_ratio(r.ratio) + " (" + format_ratio(1 / r.ratio) + " more tokens)";
}

std::vector<std::string> findings(const ExperimentAnalysis& a) {
  std::vector<std::string> out;
  if (a.arms.empty()) return {"No runs are stored for this experiment yet."};
  if (!a.any_evals) {
    out.push_back("Nothing has been evaluated yet: no scores in the tasks' metrics for any run.");
  } else {
    out.push_back(average_finding(a));
    if (auto line = per_task_best(a); !line.empty()) out.push_back(line);
    if (!a.reference_arm)
      out.push_back("No reference arm is set, so there are no tokens-to-accuracy ratios.");
    else if (!a.reference_has_runs)
      out.push_back("The reference arm " + *a.reference_arm + " has no runs, so there are no " +
                    "tokens-to-accuracy ratios.");
    else
      for (const auto& arm : a.arms)
        if (arm.arm != a.arms.front().arm) out.push_back(ratio_finding(a, arm));
    for (const auto& arm : a.arms)
      for (const auto& task : a.tasks)
        if (auto it = arm.by_depth.find(task.task);
            it != arm.by_depth.end() && it->second.size() > 1)
          out.push_back(depth_finding(task, arm, it->second));
  }
  if (!a.unfinished.empty()) {
    std::vector<std::string> runs;
    for (const auto& r : a.unfinished)
      runs.push_back(r.run_id + " (" + r.status + ", " +
                     human_count(static_cast<double>(r.tokens_trained)) + " tokens trained)");
    out.push_back("Not finished, so their numbers are partial: " + join(runs, ", ") + ".");
  }
  if (a.any_evals && !a.runs_without_evals.empty())
    out.push_back("No evaluations stored for: " + join(a.runs_without_evals, ", ") + ".");
  return out;
}

}  // namespace dreamer::results
