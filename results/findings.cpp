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

// "0.700 [0.610, 0.790]", or the value alone when it has no interval.
std::string with_interval(double value, const std::optional<Interval>& interval) {
  return format_score(value) + (interval ? " " + format_interval(*interval) : "");
}

std::string with_interval(const SeedStat& s) {
  return with_interval(s.mean, s.interval);
}

// "n=100" for one seed, "n=100 items x 2 seeds" for several.
std::string size_of(int64_t items, int seeds) {
  return seeds > 1 ? "n=" + std::to_string(items) + " items x " + std::to_string(seeds) + " seeds"
                   : "n=" + std::to_string(items);
}

bool any_normal_interval(const ExperimentAnalysis& a) {
  auto normal = [](const std::optional<Interval>& i) {
    return i && i->method == IntervalMethod::kNormal;
  };
  for (const auto& arm : a.arms) {
    if (normal(arm.average_interval)) return true;
    for (const auto& [task, s] : arm.final_value)
      if (normal(s.interval)) return true;
    for (const auto& [task, r] : arm.vs_reference)
      if (r && normal(r->interval)) return true;
  }
  return false;
}

std::string average_finding(const ExperimentAnalysis& a) {
  const ArmSummary* best = nullptr;
  for (const auto& arm : a.arms)
    if (arm.average && (!best || *arm.average > *best->average)) best = &arm;
  if (!best)
    return "No arm has a value for every higher-is-better task, so no average is compared.";
  std::string line = "Highest average over the higher-is-better tasks: " + best->arm + " (" +
                     with_interval(*best->average, best->average_interval) + ")";
  const ArmSummary* reference = a.reference_has_runs ? &a.arms.front() : nullptr;
  if (reference && reference != best) {
    if (!reference->average) {
      line += "; the reference " + reference->arm + " has no average (tasks missing)";
    } else {
      line += " vs reference " + reference->arm + " (" +
              with_interval(*reference->average, reference->average_interval) + ")";
      const auto &x = best->average_interval, &y = reference->average_interval;
      if (!x || !y)
        line += ", no interval for both, so no difference is claimed";
      else if (x->low > y->high || y->low > x->high)
        line += ", the 95% intervals do not overlap: " + best->arm + " is higher";
      else
        line += ", the 95% intervals overlap: no difference detected at this size";
    }
  } else if (reference) {
    line += ", which is the reference";
  }
  std::vector<std::string> others;
  for (const auto& arm : a.arms)
    if (&arm != best && &arm != reference && arm.average)
      others.push_back(arm.arm + " " + with_interval(*arm.average, arm.average_interval));
  if (!others.empty()) line += "; others: " + join(others, ", ");
  return line + ".";
}

// Without a reference there is nothing to test against: the highest point estimate per task.
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
                      with_interval(best->final_value.at(task.task)) + ")");
  }
  return parts.empty()
             ? ""
             : "Highest value per task (no reference to test against): " + join(parts, "; ") + ".";
}

std::string comparison_finding(const ExperimentAnalysis& a, const ArmSummary& arm,
                               const ExperimentTask& task) {
  const std::string& reference = a.arms.front().arm;
  auto it = arm.against_reference.find(task.task);
  if (it == arm.against_reference.end()) return "";
  const Comparison& c = it->second;
  return task_label(task) + ": " + arm.arm + " " + with_interval(c.a) + " vs " + reference + " " +
         with_interval(c.b) + ": " + describe_comparison(c, arm.arm, reference, task) + ".";
}

std::string ratio_finding(const ExperimentAnalysis& a, const ArmSummary& arm) {
  const std::string& reference = a.arms.front().arm;
  std::vector<std::string> parts;
  int compared = 0;
  for (const auto& task : a.tasks) {
    auto it = arm.vs_reference.find(task.task);
    if (it == arm.vs_reference.end() || !it->second) {
      parts.push_back(task.task + " n/a");
      continue;
    }
    ++compared;
    parts.push_back(task.task + " " + describe_ratio(*it->second));
  }
  if (compared == 0)
    return arm.arm + " vs " + reference +
           ": no tokens-to-accuracy comparison (fewer than two evaluated checkpoints).";
  return "Training tokens " + arm.arm + " needs to reach " + reference +
         "'s final value, relative to " + reference + ": " + join(parts, "; ") + ".";
}

std::string depth_finding(const ExperimentTask& task, const ArmSummary& arm,
                          const std::map<int64_t, SeedStat>& by_depth) {
  const auto& [low_depth, low] = *by_depth.begin();
  const auto& [high_depth, high] = *by_depth.rbegin();
  auto best = by_depth.begin();
  for (auto it = by_depth.begin(); it != by_depth.end(); ++it)
    if (better(it->second.mean, best->second.mean, task.higher_is_better)) best = it;
  std::string line = arm.arm + ", " + task_label(task) + ": " + with_interval(low) + " at depth " +
                     std::to_string(low_depth) + ", " + with_interval(high) + " at depth " +
                     std::to_string(high_depth) + "; highest point estimate at depth " +
                     std::to_string(best->first) + " (" + format_score(best->second.mean) + ")";
  if (auto it = arm.depth_change.find(task.task); it != arm.depth_change.end())
    line += "; depth " + std::to_string(high_depth) + " vs depth " + std::to_string(low_depth) +
            ": " +
            describe_comparison(it->second, "depth " + std::to_string(high_depth),
                                "depth " + std::to_string(low_depth), task);
  return line + ".";
}

}  // namespace

std::string describe_comparison(const Comparison& c, const std::string& a, const std::string& b,
                                const ExperimentTask& task) {
  const std::string higher = task.higher_is_better ? "higher" : "lower";
  if (c.paired) {
    const PairedComparison& p = *c.paired;
    const std::string evidence = size_of(p.items, p.seeds) + ", " + format_p_value(p.p_value) +
                                 "; difference " + format_signed_score(p.difference) + " " +
                                 format_interval(p.interval);
    if (!c.significant) return "no difference detected at this size (" + evidence + ")";
    return (c.a_better ? a : b) + " is " + higher + " (paired, " + evidence + ")";
  }
  std::string size = "n=" + std::to_string(c.a.items);
  if (c.a.seeds > 1 || c.b.seeds > 1)
    size += ", " + std::to_string(c.a.seeds) + " vs " + std::to_string(c.b.seeds) + " seeds";
  if (!c.a.interval || !c.b.interval)
    return "not compared (no per-item samples and no standard error; " + size + ")";
  if (!c.significant)
    return "no difference detected at this size (" + size +
           "; unpaired: no per-item samples on the same items, and the 95% intervals overlap)";
  return (c.a_better ? a : b) + " is " + higher + " (" + size +
         "; unpaired: the 95% intervals do not overlap)";
}

std::string describe_ratio(const TokensRatio& r) {
  const std::string point =
      r.reached ? format_ratio(r.ratio) : "not reached, < " + format_ratio(r.ratio);
  if (!r.interval) return "no claim (" + point + "; no interval: no per-item samples or stderrs)";
  const std::string interval = "95% interval " + format_interval(*r.interval, true);
  if (r.interval->low > 1) return format_ratio(r.ratio) + " fewer tokens (" + interval + ")";
  if (r.interval->high < 1) {
    if (!r.reached)
      return "needs more tokens (not reached, < " + format_ratio(r.ratio) + "; " + interval + ")";
    return format_ratio(1 / r.ratio) + " more tokens (" + format_ratio(r.ratio) + ", " + interval +
           ")";
  }
  return "no difference detected at this size (" + point + ", " + interval + " includes 1)";
}

std::vector<std::string> findings(const ExperimentAnalysis& a) {
  std::vector<std::string> out;
  if (a.arms.empty()) return {"No runs are stored for this experiment yet."};
  if (!a.any_evals) {
    out.push_back("Nothing has been evaluated yet: no scores in the tasks' metrics for any run.");
  } else {
    out.push_back(average_finding(a));
    if (!a.reference_arm) {
      if (auto line = per_task_best(a); !line.empty()) out.push_back(line);
      out.push_back(
          "No reference arm is set, so there are no comparisons or tokens-to-accuracy "
          "ratios.");
    } else if (!a.reference_has_runs) {
      if (auto line = per_task_best(a); !line.empty()) out.push_back(line);
      out.push_back("The reference arm " + *a.reference_arm + " has no runs, so there are no " +
                    "comparisons or tokens-to-accuracy ratios.");
    } else {
      for (const auto& arm : a.arms) {
        if (arm.arm == a.arms.front().arm) continue;
        for (const auto& task : a.tasks)
          if (auto line = comparison_finding(a, arm, task); !line.empty()) out.push_back(line);
        out.push_back(ratio_finding(a, arm));
      }
    }
    for (const auto& arm : a.arms)
      for (const auto& task : a.tasks)
        if (auto it = arm.by_depth.find(task.task);
            it != arm.by_depth.end() && it->second.size() > 1)
          out.push_back(depth_finding(task, arm, it->second));
    if (any_normal_interval(a))
      out.push_back(
          "Intervals marked † are normal approximations from the stored standard "
          "errors: no per-item samples were stored (set eval.samples to bootstrap over "
          "items and to compare arms on the same items).");
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
