#pragma once
// `dreamer eval --experiment`: a new task (or group) scored at the stored checkpoints of a
// finished experiment's runs, stored under those runs' ids and checkpoint names exactly as the
// runner stores its own evaluations, and added to the experiment's report tasks, so the scores
// join `dreamer report` and `dreamer query` beside the experiment's own.
#include <string>
#include <vector>

#include "eval/documents.h"
#include "eval/runner.h"
#include "experiments/runner.h"

namespace dreamer::experiments {

struct ReevaluateOptions {
  std::string db = "results.db";
  std::vector<std::string> arms;  // only these arms (empty: all)
  std::vector<int64_t> depths;    // recurrent arms; empty: the depths the runs were evaluated at
  std::string data_root;          // default: eval::default_data_root()
  bool samples = false;           // keep samples even if the experiment did not
  bool last_only = false;         // only each run's last checkpoint
  std::vector<std::string> allow_changes;  // fingerprint fields that may differ from the run's
  int64_t batch_size = 0;                  // 0: the experiment's eval.batch_size
  int64_t max_length = 0;                  // > 0: left-truncate prompts (the runner never does)
  eval::DataOptions data;                  // shot overrides (--num-fewshot, --fewshot-seed); the
                                           // limit is each planned task's
  bool progress = true;
};

struct ReevaluatedCheckpoint {
  std::string run_id, checkpoint;
  std::vector<eval::TaskResult> results;  // the tasks in order, then the group's row
};

// Checks everything before writing anything (InputErrors naming the database, run, field or
// directory): the experiment is in the database, the arms exist, every selected run finished,
// its stored fingerprint equals the one `plan` gives now (the experiment file and its data are
// what the run trained on; the code version may differ), every checkpoint directory exists,
// and the new tasks are not already the experiment's own. `tasks` / `groups` come from
// plan_eval_entry.
std::vector<ReevaluatedCheckpoint> evaluate_experiment(const ExperimentPlan& plan,
                                                       const std::vector<PlannedTask>& tasks,
                                                       const std::vector<PlannedGroup>& groups,
                                                       const ReevaluateOptions& options);

}  // namespace dreamer::experiments
