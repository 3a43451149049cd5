#include "experiments/reevaluate.h"

#include <iomanip>
#include <iostream>
#include <sstream>

#include "data/tokenizer.h"
#include "eval/documents.h"
#include "eval/group.h"
#include "eval/runner.h"
#include "experiments/fingerprint.h"
#include "results/store.h"
#include "train/checkpoint.h"
#include "util/device.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::experiments {

namespace {

using json = nlohmann::json;

struct StoredCheckpoint {
  std::string name, path;
  int64_t step = 0;
};

struct Target {
  const PlannedRun* run = nullptr;
  std::vector<StoredCheckpoint> checkpoints;
};

std::string describe(const json& value) {
  return value.is_null() ? "(missing)" : value.dump();
}

std::vector<StoredCheckpoint> stored_checkpoints(results::ResultStore& store,
                                                 const std::string& run_id) {
  std::vector<StoredCheckpoint> out;
  results::Statement s(store.db(),
                       "SELECT name, path, step FROM checkpoints WHERE run_id = ?1 ORDER BY step");
  s.bind(1, run_id);
  while (s.step()) out.push_back({s.column_text(0), s.column_text(1), s.column_int(2)});
  return out;
}

bool experiment_stored(results::ResultStore& store, const std::string& name) {
  results::Statement s(store.db(), "SELECT COUNT(*) FROM experiments WHERE name = ?1");
  s.bind(1, name);
  s.step();
  return s.column_int(0) > 0;
}

// Every check, reading only; the runs and checkpoints to evaluate.
std::vector<Target> preflight(const ExperimentPlan& plan, const std::vector<PlannedTask>& tasks,
                              const std::vector<PlannedGroup>& groups,
                              const ReevaluateOptions& options, results::ResultStore& store,
                              const data::Tokenizer& tokenizer) {
  const auto& spec = plan.spec;
  require(experiment_stored(store, spec.name), options.db,
          "has no experiment \"" + spec.name + "\" (from " + spec.file +
              "): run it first with dreamer run " + spec.file + " --db " + options.db);
  for (const auto& arm : options.arms) {
    bool known = false;
    std::string names;
    for (const auto& run : plan.runs) {
      known = known || run.arm == arm;
      if (names.find(run.arm) == std::string::npos) names += (names.empty() ? "" : ", ") + run.arm;
    }
    require(known, "--arm",
            "\"" + arm + "\" is not an arm of " + spec.file + " (arms: " + names + ")");
  }
  // The experiment's own tasks are the runner's to evaluate: rows here would replace them.
  auto own = [&](const std::string& name) {
    for (const auto& t : plan.tasks)
      if (t.spec.name == name) return true;
    for (const auto& g : plan.groups)
      if (g.spec.name == name) return true;
    return false;
  };
  for (const auto& t : tasks)
    require(!own(t.spec.name), "--task",
            "\"" + t.spec.name + "\" is one of " + spec.file +
                "'s own eval.tasks; dreamer run evaluates it (--resume --allow-changes eval)");
  for (const auto& g : groups)
    require(!own(g.spec.name), "--task",
            "\"" + g.spec.name + "\" is one of " + spec.file + "'s own eval.tasks");

  std::vector<Target> targets;
  for (const auto& run : plan.runs) {
    if (!options.arms.empty() &&
        std::find(options.arms.begin(), options.arms.end(), run.arm) == options.arms.end())
      continue;
    const auto stored = store.read_run(run.run_id);
    require(stored.has_value(), run.run_id,
            "is not in " + options.db + " (the experiment there has other arms or seeds?)");
    require(stored->status == "finished", run.run_id,
            "is " + stored->status + " (" + std::to_string(stored->steps_trained) + "/" +
                std::to_string(run.total_steps) +
                " steps), not finished: finish it with dreamer run --resume, or leave it out with "
                "--arm");
    require(!stored->fingerprint_json.empty(), run.run_id,
            "was stored without a fingerprint (an older dreamer): cannot tell whether " +
                spec.file + " still describes it");
    // The stored fingerprint is what the run trained on; the code version may differ (the
    // eval code version is stored with each new row).
    auto current = run_fingerprint(plan, run, tokenizer, "");
    auto before = json::parse(stored->fingerprint_json);
    current.erase("code_version");
    before.erase("code_version");
    for (const auto& c : fingerprint_changes(before, current))
      require(change_allowed(c.path, options.allow_changes), run.run_id,
              c.path + " differs from the run's stored fingerprint (" + describe(c.before) +
                  " then, " + describe(c.after) + " now): " + spec.file +
                  " (or its data) changed since the run, so its checkpoints are not what the file "
                  "describes; --allow-changes " +
                  c.path.substr(2) + " accepts the difference");
    Target target{&run, stored_checkpoints(store, run.run_id)};
    require(!target.checkpoints.empty(), run.run_id, "has no stored checkpoints");
    if (options.last_only) target.checkpoints = {target.checkpoints.back()};
    for (const auto& ck : target.checkpoints)
      require(fs::is_directory(ck.path), ck.path,
              "checkpoint " + ck.name + " of " + run.run_id +
                  " is missing (moved, or deleted after evaluation?); --last-only evaluates only "
                  "each run's last checkpoint");
    targets.push_back(std::move(target));
  }
  require(!targets.empty(), spec.file, "no runs selected");
  return targets;
}

}  // namespace

std::vector<ReevaluatedCheckpoint> evaluate_experiment(const ExperimentPlan& plan,
                                                       const std::vector<PlannedTask>& tasks,
                                                       const std::vector<PlannedGroup>& groups,
                                                       const ReevaluateOptions& options) {
  const auto& spec = plan.spec;
  require(fs::exists(options.db), options.db,
          "no such results database (the one dreamer run " + spec.file + " wrote)");
  require(!tasks.empty(), "--task", "no task to evaluate");
  const auto tokenizer = data::make_tokenizer(spec.data.tokenizer, spec.file + ":$.data.tokenizer");
  results::ResultStore store(options.db);
  const auto targets = preflight(plan, tasks, groups, options, store, *tokenizer);

  const std::string data_root =
      options.data_root.empty() ? eval::default_data_root() : options.data_root;
  std::vector<eval::TaskData> task_data;
  for (const auto& t : tasks) {
    auto data_options = options.data;
    data_options.limit = t.limit;
    task_data.push_back(
        eval::load_task_data(t.spec, data_root, eval::builtin_synthetic_sources(), data_options));
  }

  // The checks passed: the new tasks join the experiment's report.
  for (const auto& t : tasks)
    if (!t.in_group)
      store.add_experiment_task(spec.name, {t.spec.name, t.metric, t.higher_is_better});
  for (const auto& g : groups)
    store.add_experiment_task(spec.name, {g.spec.name, g.metric, g.higher_is_better});

  std::vector<ReevaluatedCheckpoint> done;
  for (const auto& target : targets) {
    const auto& run = *target.run;
    const auto device = resolve_device(run.train.device, spec.file + ":$.train.device");
    eval::RunOptions eopt;
    eopt.depths = run.eval_depths;
    if (run.recurrent && !options.depths.empty()) eopt.depths = options.depths;
    eopt.batch_size = options.batch_size > 0 ? options.batch_size : spec.eval.batch_size;
    eopt.keep_samples = spec.eval.samples || options.samples;
    eopt.max_length = options.max_length;
    for (const auto& ck : target.checkpoints) {
      auto loaded = train::load_checkpoint(ck.path);
      loaded.model->to(device);
      ReevaluatedCheckpoint out{run.run_id, ck.name, {}};
      for (size_t t = 0; t < tasks.size(); ++t) {
        out.results.push_back(
            eval::run_task(*loaded.model, *tokenizer, tasks[t].spec, task_data[t], eopt));
        store.write(run.run_id, ck.name, out.results.back());
      }
      for (const auto& g : groups) {
        std::vector<eval::TaskResult> parts;
        for (size_t t : g.subtasks) parts.push_back(out.results[t]);
        out.results.push_back(eval::aggregate_group(g.spec, parts));
        store.write(run.run_id, ck.name, out.results.back());
      }
      if (options.progress) {
        std::ostringstream line;
        line << run.run_id << " " << ck.name << ":";
        auto show = [&](const eval::TaskResult& r, const std::string& metric) {
          for (const auto& sc : r.scores)
            if (sc.metric == metric && sc.depth == (run.recurrent ? run.default_depth : sc.depth))
              line << " " << r.task << " " << std::fixed << std::setprecision(3) << sc.value;
        };
        for (size_t t = 0; t < tasks.size(); ++t)
          if (!tasks[t].in_group) show(out.results[t], tasks[t].metric);
        for (size_t g = 0; g < groups.size(); ++g)
          show(out.results[tasks.size() + g], groups[g].metric);
        std::cout << line.str() << "\n";
      }
      done.push_back(std::move(out));
    }
  }
  return done;
}

}  // namespace dreamer::experiments
