#include "results/analysis.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

namespace dreamer::results {

namespace {

double mean(const std::vector<double>& xs) {
  double sum = 0;
  for (double x : xs) sum += x;
  return sum / static_cast<double>(xs.size());
}

double sample_std(const std::vector<double>& xs) {
  const double m = mean(xs);
  double sum = 0;
  for (double x : xs) sum += (x - m) * (x - m);
  return std::sqrt(sum / static_cast<double>(xs.size() - 1));
}

// What one run contributes for one task.
struct RunTaskValues {
  std::optional<EvalRecord> last_at_default;  // last checkpoint at the default depth
  std::map<double, double> curve;             // tokens -> value at the default depth
  std::map<int64_t, double> by_depth;         // at the last checkpoint of any depth
};

RunTaskValues run_task_values(const RunRecord& run, const std::vector<const EvalRecord*>& rows) {
  RunTaskValues v;
  std::optional<CheckpointRef> last_any;
  for (const auto* e : rows) {
    if (!last_any || earlier_checkpoint(*last_any, e->checkpoint)) last_any = e->checkpoint;
    if (e->depth != run.default_depth) continue;
    if (!v.last_at_default || earlier_checkpoint(v.last_at_default->checkpoint, e->checkpoint))
      v.last_at_default = *e;
    if (e->checkpoint.tokens) v.curve[static_cast<double>(*e->checkpoint.tokens)] = e->value;
  }
  for (const auto* e : rows)
    if (last_any && e->checkpoint.name == last_any->name) v.by_depth[e->depth] = e->value;
  return v;
}

// Mean over seeds at the token counts every seed has (a seed's missing point would otherwise
// make the average jump).
Curve average_curves(const std::vector<const std::map<double, double>*>& seeds) {
  Curve out;
  if (seeds.empty()) return out;
  for (const auto& [tokens, first_value] : *seeds.front()) {
    std::vector<double> values;
    for (const auto* s : seeds)
      if (auto it = s->find(tokens); it != s->end()) values.push_back(it->second);
    if (values.size() == seeds.size()) out.push_back({tokens, mean(values)});
  }
  return out;
}

SeedStat seed_stat(const std::vector<const EvalRecord*>& finals) {
  SeedStat s;
  std::vector<double> values;
  for (const auto* e : finals) values.push_back(e->value);
  s.seeds = static_cast<int>(values.size());
  s.mean = mean(values);
  if (values.size() > 1)
    s.spread = sample_std(values);
  else
    s.spread = finals.front()->stderr_;
  return s;
}

void summarise_diversity(const ExperimentData& data,
                         const std::map<std::string, std::string>& arm_of,
                         ExperimentAnalysis& out) {
  std::map<std::string, CheckpointRef> last;  // run -> last checkpoint with expert metrics
  for (const auto& m : data.expert_metrics) {
    auto [it, inserted] = last.emplace(m.run_id, m.checkpoint);
    if (!inserted && earlier_checkpoint(it->second, m.checkpoint)) it->second = m.checkpoint;
  }
  // (arm, site, depth) -> metric -> values over seeds and tasks
  std::map<std::tuple<std::string, std::string, int64_t>,
           std::map<std::string, std::vector<double>>>
      values;
  for (const auto& m : data.expert_metrics)
    if (m.checkpoint.name == last.at(m.run_id).name)
      values[{arm_of.at(m.run_id), m.site, m.depth}][m.metric].push_back(m.value);
  for (const auto& [key, metrics] : values) {
    DiversitySummary d{std::get<0>(key), std::get<1>(key), std::get<2>(key), {}};
    for (const auto& [metric, xs] : metrics) d.metrics[metric] = mean(xs);
    out.diversity.push_back(std::move(d));
  }
}

}  // namespace

const ArmSummary* find_arm(const ExperimentAnalysis& analysis, const std::string& arm) {
  for (const auto& a : analysis.arms)
    if (a.arm == arm) return &a;
  return nullptr;
}

ExperimentAnalysis analyse(const ExperimentData& data) {
  ExperimentAnalysis out;
  out.name = data.name;
  out.reference_arm = data.reference_arm;
  out.tasks = data.tasks;
  out.any_evals = !data.evals.empty();

  std::map<std::string, std::string> arm_of;
  std::map<std::string, std::vector<const RunRecord*>> runs_of_arm;
  for (const auto& r : data.runs) {
    arm_of[r.run_id] = r.arm;
    runs_of_arm[r.arm].push_back(&r);
    if (r.status != "finished") out.unfinished.push_back(r);
  }
  // run -> task -> rows
  std::map<std::string, std::map<std::string, std::vector<const EvalRecord*>>> rows;
  for (const auto& e : data.evals) {
    rows[e.run_id][e.task].push_back(&e);
    if (!e.checkpoint.tokens) ++out.evals_with_unknown_tokens;
  }
  for (const auto& r : data.runs)
    if (!rows.count(r.run_id)) out.runs_without_evals.push_back(r.run_id);

  std::vector<std::string> arm_order;
  for (const auto& [arm, runs] : runs_of_arm) arm_order.push_back(arm);
  if (data.reference_arm && runs_of_arm.count(*data.reference_arm)) {
    out.reference_has_runs = true;
    std::stable_partition(arm_order.begin(), arm_order.end(),
                          [&](const std::string& a) { return a == *data.reference_arm; });
  }

  for (const auto& arm : arm_order) {
    const auto& runs = runs_of_arm.at(arm);
    ArmSummary s;
    s.arm = arm;
    s.family = runs.front()->family;
    s.params = runs.front()->params;
    s.active_params = runs.front()->active_params;
    s.flops_per_token = runs.front()->flops_per_token;
    s.memory_bytes = runs.front()->memory_bytes;
    s.default_depth = runs.front()->default_depth;
    for (const auto* r : runs) {
      s.run_ids.push_back(r->run_id);
      std::set<int64_t> depths;
      if (auto it = rows.find(r->run_id); it != rows.end())
        for (const auto& [task, task_rows] : it->second)
          for (const auto* e : task_rows) depths.insert(e->depth);
      s.recurrent = s.recurrent || depths.size() > 1;
    }
    for (const auto& task : data.tasks) {
      std::vector<RunTaskValues> per_run;
      for (const auto* r : runs) {
        auto it = rows.find(r->run_id);
        if (it == rows.end() || !it->second.count(task.task)) continue;
        per_run.push_back(run_task_values(*r, it->second.at(task.task)));
      }
      std::vector<const EvalRecord*> finals;
      std::vector<const std::map<double, double>*> curves;
      std::map<int64_t, std::vector<double>> depth_values;
      for (const auto& v : per_run) {
        if (v.last_at_default) finals.push_back(&*v.last_at_default);
        if (!v.curve.empty()) curves.push_back(&v.curve);
        for (const auto& [depth, value] : v.by_depth) depth_values[depth].push_back(value);
      }
      if (!finals.empty()) s.final_value[task.task] = seed_stat(finals);
      if (!curves.empty()) s.curve[task.task] = average_curves(curves);
      if (s.recurrent)
        for (const auto& [depth, values] : depth_values)
          s.by_depth[task.task][depth] = mean(values);
    }
    std::vector<double> averaged;
    bool complete = true;
    for (const auto& task : data.tasks) {
      if (!task.higher_is_better) continue;
      auto it = s.final_value.find(task.task);
      if (it == s.final_value.end())
        complete = false;
      else
        averaged.push_back(it->second.mean);
    }
    if (complete && !averaged.empty()) s.average = mean(averaged);
    out.arms.push_back(std::move(s));
  }

  if (out.reference_has_runs) {
    const ArmSummary reference = out.arms.front();
    for (auto& arm : out.arms) {
      if (arm.arm == reference.arm) continue;
      for (const auto& task : data.tasks) {
        auto& ratio = arm.vs_reference[task.task];
        auto ref_curve = reference.curve.find(task.task);
        auto arm_curve = arm.curve.find(task.task);
        if (ref_curve == reference.curve.end() || arm_curve == arm.curve.end() ||
            ref_curve->second.size() < 2 || arm_curve->second.size() < 2)
          continue;
        ratio = tokens_ratio(ref_curve->second, arm_curve->second, task.higher_is_better);
      }
    }
  }
  summarise_diversity(data, arm_of, out);
  return out;
}

}  // namespace dreamer::results
