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

// What one run contributes for one task (pointers into the experiment's eval rows).
struct RunTaskValues {
  int64_t seed = 0;
  const EvalRecord* last_at_default = nullptr;    // last checkpoint at the default depth
  std::map<double, const EvalRecord*> curve;      // tokens -> row at the default depth
  std::map<int64_t, const EvalRecord*> by_depth;  // at the last checkpoint of any depth
};

RunTaskValues run_task_values(const RunRecord& run, const std::vector<const EvalRecord*>& rows) {
  RunTaskValues v;
  v.seed = run.seed;
  std::optional<CheckpointRef> last_any;
  for (const auto* e : rows) {
    if (!last_any || earlier_checkpoint(*last_any, e->checkpoint)) last_any = e->checkpoint;
    if (e->depth != run.default_depth) continue;
    if (!v.last_at_default || earlier_checkpoint(v.last_at_default->checkpoint, e->checkpoint))
      v.last_at_default = e;
    if (e->checkpoint.tokens) v.curve[static_cast<double>(*e->checkpoint.tokens)] = e;
  }
  for (const auto* e : rows)
    if (last_any && e->checkpoint.name == last_any->name) v.by_depth[e->depth] = e;
  return v;
}

// The token counts every seed has (a seed's missing point would otherwise make the average
// jump), in order.
std::vector<double> common_tokens(const std::vector<RunTaskValues>& runs) {
  std::vector<double> tokens;
  std::vector<const RunTaskValues*> with_curve;
  for (const auto& r : runs)
    if (!r.curve.empty()) with_curve.push_back(&r);
  if (with_curve.empty()) return tokens;
  for (const auto& [t, row] : with_curve.front()->curve)
    if (std::all_of(with_curve.begin(), with_curve.end(),
                    [&, t = t](const RunTaskValues* r) { return r->curve.count(t) > 0; }))
      tokens.push_back(t);
  return tokens;
}

Curve average_curve(const std::vector<RunTaskValues>& runs, const std::vector<double>& tokens) {
  Curve out;
  for (double t : tokens) {
    std::vector<double> values;
    for (const auto& r : runs)
      if (auto it = r.curve.find(t); it != r.curve.end()) values.push_back(it->second->value);
    out.push_back({t, mean(values)});
  }
  return out;
}

// Bootstrap replicates of the seed-mean curve: each seed is a unit whose checkpoints share one
// draw of items (the same documents at every checkpoint). A seed whose checkpoints were not
// scored on the same items is drawn from the stderrs instead.
struct CurveReplicates {
  std::vector<Curve> curves;
  IntervalMethod method = IntervalMethod::kBootstrap;
};
std::optional<CurveReplicates> replicate_curve(const std::vector<RunTaskValues>& runs,
                                               const std::vector<double>& tokens, uint64_t seed) {
  std::vector<Unit> units;
  for (const auto& r : runs) {
    if (r.curve.empty()) continue;
    Unit unit;
    bool shared = true;
    for (double t : tokens) {
      const EvalRecord* row = r.curve.at(t);
      shared =
          shared && !row->items.empty() && same_items(row->items, r.curve.at(tokens[0])->items);
      unit.push_back(measurement_of(*row));
    }
    if (!shared)
      for (auto& m : unit) m.items.clear();
    units.push_back(std::move(unit));
  }
  const auto replicates = resample(units, kBootstrapResamples, seed);
  if (!replicates) return std::nullopt;
  CurveReplicates out;
  out.method = replicates->from_items ? IntervalMethod::kBootstrap : IntervalMethod::kNormal;
  for (const auto& values : replicates->values) {
    Curve c;
    for (size_t k = 0; k < tokens.size(); ++k) c.push_back({tokens[k], values[k]});
    out.curves.push_back(std::move(c));
  }
  return out;
}

std::vector<SeedRow> final_rows(const std::vector<RunTaskValues>& runs) {
  std::vector<SeedRow> rows;
  for (const auto& r : runs)
    if (r.last_at_default) rows.push_back({r.seed, r.last_at_default});
  return rows;
}

std::vector<SeedRow> depth_rows(const std::vector<RunTaskValues>& runs, int64_t depth) {
  std::vector<SeedRow> rows;
  for (const auto& r : runs)
    if (auto it = r.by_depth.find(depth); it != r.by_depth.end())
      rows.push_back({r.seed, it->second});
  return rows;
}

// The interval of the average over tasks: each seed a unit holding its final row of every
// task (each task its own item set). None unless every task has a final row for the same
// seeds.
std::optional<Interval> average_interval(const std::vector<std::vector<SeedRow>>& per_task) {
  if (per_task.empty() || per_task.front().empty()) return std::nullopt;
  std::vector<Unit> units;
  for (const auto& first : per_task.front()) {
    Unit unit;
    for (size_t t = 0; t < per_task.size(); ++t) {
      auto it = std::find_if(per_task[t].begin(), per_task[t].end(),
                             [&](const SeedRow& r) { return r.seed == first.seed; });
      if (it == per_task[t].end()) return std::nullopt;
      unit.push_back(measurement_of(*it->row, t));
    }
    units.push_back(std::move(unit));
  }
  for (const auto& rows : per_task)
    if (rows.size() != units.size()) return std::nullopt;
  const auto replicates = resample(units);
  if (!replicates) return std::nullopt;
  std::vector<double> averages;
  for (const auto& values : replicates->values) averages.push_back(mean(values));
  Interval i = percentile_interval(std::move(averages));
  i.method = replicates->from_items ? IntervalMethod::kBootstrap : IntervalMethod::kNormal;
  return i;
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

  // arm -> task -> what each of its runs contributes (pointers into data.evals).
  std::map<std::string, std::map<std::string, std::vector<RunTaskValues>>> values_of_arm;
  for (const auto& arm : arm_order) {
    const auto& runs = runs_of_arm.at(arm);
    std::map<std::string, std::vector<RunTaskValues>> per_task;
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
    std::vector<std::vector<SeedRow>> averaged_rows;
    std::vector<double> averaged;
    bool complete = true;
    for (const auto& task : data.tasks) {
      std::vector<RunTaskValues> per_run;
      for (const auto* r : runs) {
        auto it = rows.find(r->run_id);
        if (it == rows.end() || !it->second.count(task.task)) continue;
        per_run.push_back(run_task_values(*r, it->second.at(task.task)));
      }
      const auto finals = final_rows(per_run);
      if (!finals.empty()) s.final_value[task.task] = seed_stat(finals);
      const auto tokens = common_tokens(per_run);
      if (!tokens.empty()) s.curve[task.task] = average_curve(per_run, tokens);
      std::set<int64_t> depths;
      for (const auto& v : per_run)
        for (const auto& [depth, row] : v.by_depth) depths.insert(depth);
      if (s.recurrent) {
        for (int64_t depth : depths)
          s.by_depth[task.task][depth] = seed_stat(depth_rows(per_run, depth));
        if (depths.size() > 1)
          s.depth_change[task.task] =
              compare(depth_rows(per_run, *depths.rbegin()), depth_rows(per_run, *depths.begin()),
                      task.higher_is_better);
      }
      per_task[task.task] = std::move(per_run);
      if (!task.higher_is_better) continue;
      if (finals.empty()) {
        complete = false;
      } else {
        averaged.push_back(s.final_value.at(task.task).mean);
        averaged_rows.push_back(finals);
      }
    }
    if (complete && !averaged.empty()) {
      s.average = mean(averaged);
      s.average_interval = average_interval(averaged_rows);
    }
    values_of_arm[arm] = std::move(per_task);
    out.arms.push_back(std::move(s));
  }

  if (out.reference_has_runs) {
    const ArmSummary reference = out.arms.front();
    const auto& reference_runs = values_of_arm.at(reference.arm);
    for (auto& arm : out.arms) {
      if (arm.arm == reference.arm) continue;
      const auto& arm_runs = values_of_arm.at(arm.arm);
      for (const auto& task : data.tasks) {
        const auto& ref_values = reference_runs.at(task.task);
        const auto& arm_values = arm_runs.at(task.task);
        const auto ref_finals = final_rows(ref_values), arm_finals = final_rows(arm_values);
        if (!ref_finals.empty() && !arm_finals.empty())
          arm.against_reference[task.task] = compare(arm_finals, ref_finals, task.higher_is_better);
        auto& ratio = arm.vs_reference[task.task];
        auto ref_curve = reference.curve.find(task.task);
        auto arm_curve = arm.curve.find(task.task);
        if (ref_curve == reference.curve.end() || arm_curve == arm.curve.end() ||
            ref_curve->second.size() < 2 || arm_curve->second.size() < 2)
          continue;
        ratio = tokens_ratio(ref_curve->second, arm_curve->second, task.higher_is_better);
        // The reference and the arm are resampled independently (their own seeds and draws).
        const auto ref_replicates =
            replicate_curve(ref_values, common_tokens(ref_values), kBootstrapSeed);
        const auto arm_replicates =
            replicate_curve(arm_values, common_tokens(arm_values), kBootstrapSeed + 1);
        if (!ratio || !ref_replicates || !arm_replicates) continue;
        const auto method = ref_replicates->method == IntervalMethod::kBootstrap
                                ? arm_replicates->method
                                : IntervalMethod::kNormal;
        if (const auto i = ratio_interval(ref_replicates->curves, arm_replicates->curves,
                                          task.higher_is_better, method)) {
          ratio->interval = i->interval;
          ratio->reached_share = i->reached_share;
        }
      }
    }
  }
  summarise_diversity(data, arm_of, out);
  return out;
}

}  // namespace dreamer::results
