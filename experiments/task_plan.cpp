// eval.tasks entries of an experiment file -> planned tasks and groups (experiments/runner.h).
#include <algorithm>

#include "eval/group.h"
#include "eval/metrics.h"
#include "experiments/runner.h"
#include "util/errors.h"

namespace dreamer::experiments {

namespace {

// The stored names a group emits: every subtask metric it aggregates, plain and macro, as
// aggregate_group names them (all subtasks must emit one for the group to have it).
std::vector<std::string> group_metrics(const eval::GroupSpec& group,
                                       const std::vector<PlannedTask>& tasks,
                                       const std::vector<size_t>& subtasks) {
  std::vector<std::string> out;
  for (const auto& name : eval::task_metrics(tasks[subtasks.front()].spec)) {
    bool aggregated = false;
    for (const auto& m : group.aggregate) aggregated |= name == m || name.rfind(m + ",", 0) == 0;
    for (size_t s : subtasks) {
      const auto others = eval::task_metrics(tasks[s].spec);
      aggregated &= std::find(others.begin(), others.end(), name) != others.end();
    }
    if (!aggregated) continue;
    out.push_back(name);
    out.push_back(eval::macro_metric_name(name));
  }
  return out;
}

}  // namespace

void plan_eval_entry(const nlohmann::json& entry, const std::string& metric, int64_t limit,
                     const std::vector<std::string>& task_dirs, const std::string& where,
                     std::vector<PlannedTask>& tasks, std::vector<PlannedGroup>& groups) {
  const std::string at = entry.is_string() ? where : where + ".task";
  eval::TaskSelection selection;
  if (entry.is_string()) {
    try {
      selection = eval::load_tasks(entry.get<std::string>(), task_dirs);
    } catch (const InputError& e) {
      // The lookup speaks of --task; here the name came from the experiment file.
      throw InputError(at, e.where() == "--task" ? e.message() : e.what());
    }
  } else {
    selection.tasks.push_back(eval::TaskSpec::from_json(entry, at));
  }
  auto check_new = [&](const std::string& name) {
    for (const auto& t : tasks)
      require(t.spec.name != name, at, "task \"" + name + "\" is listed twice");
    for (const auto& g : groups)
      require(g.spec.name != name, at, "group \"" + name + "\" is listed twice");
  };
  if (!selection.group) {
    PlannedTask task;
    task.spec = std::move(selection.tasks.front());
    task.metric = metric.empty() ? eval::default_metric(task.spec) : metric;
    eval::check_metric(task.spec, task.metric, where + ".metric");
    task.higher_is_better = eval::higher_is_better(task.metric);
    task.limit = limit;
    check_new(task.spec.name);
    tasks.push_back(std::move(task));
    return;
  }
  PlannedGroup group;
  group.spec = *selection.group;
  check_new(group.spec.name);
  for (auto& spec : selection.tasks) {
    check_new(spec.name);
    PlannedTask task;
    task.spec = std::move(spec);
    task.metric = eval::default_metric(task.spec);
    task.higher_is_better = eval::higher_is_better(task.metric);
    task.limit = limit;
    task.in_group = true;
    group.subtasks.push_back(tasks.size());
    tasks.push_back(std::move(task));
  }
  const auto names = group_metrics(group.spec, tasks, group.subtasks);
  require(!names.empty(), at,
          "group \"" + group.spec.name + "\" aggregates no metric that all its tasks emit");
  // Default: the group's mean of its first task's default score when aggregated, else the first.
  const auto first_default = tasks[group.subtasks.front()].metric;
  group.metric =
      metric.empty()
          ? (std::find(names.begin(), names.end(), first_default) != names.end() ? first_default
                                                                                 : names.front())
          : metric;
  if (std::find(names.begin(), names.end(), group.metric) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw InputError(where + ".metric", "group " + group.spec.name + " has no score \"" +
                                            group.metric + "\"; it has: " + list);
  }
  group.higher_is_better = eval::higher_is_better(group.metric);
  groups.push_back(std::move(group));
}

}  // namespace dreamer::experiments
