#pragma once
// From an experiment spec to results: plan (match every arm, expand seeds, size the training
// and eval schedule, estimate compute), then run (train each run, evaluate at its checkpoints,
// store everything in the results database).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eval/task_spec.h"
#include "experiments/experiment_spec.h"
#include "experiments/shard.h"
#include "matching/solver.h"

namespace dreamer::data {
class PackedStream;  // data/packed_stream.h
class Tokenizer;
}  // namespace dreamer::data
namespace dreamer::train {
class ProcessGroup;     // train/distributed.h
struct TrainerOptions;  // train/trainer.h
}  // namespace dreamer::train

namespace dreamer::experiments {

struct PlannedTask {
  eval::TaskSpec spec;
  std::string metric;  // the report's score for this task
  bool higher_is_better = true;
  int64_t limit = 0;
  bool in_group = false;  // a group's subtask: stored, but the report shows the group
};

// A group named in eval.tasks (lm-eval group, e.g. "mmlu_math"): its subtasks are planned
// tasks; the group's rows (eval/group.h) are stored after them at every checkpoint.
struct PlannedGroup {
  eval::GroupSpec spec;
  std::vector<size_t> subtasks;  // indices into ExperimentPlan::tasks
  std::string metric;            // the report's score for the group
  bool higher_is_better = true;
};

// Resolves one eval.tasks entry: a task name, a group name, a task file or an inline spec
// (`entry`), appending its tasks (and group) to `tasks` / `groups`; errors name `where` (the
// entry's JSON path) and say what was expected. `metric` empty: the default; `limit` applies
// to each subtask of a group.
void plan_eval_entry(const nlohmann::json& entry, const std::string& metric, int64_t limit,
                     const std::vector<std::string>& task_dirs, const std::string& where,
                     std::vector<PlannedTask>& tasks, std::vector<PlannedGroup>& groups);

struct PlannedRun {
  std::string run_id, arm;
  int64_t seed = 0;
  matching::Match match;  // the sized config and its cost
  train::TrainSettings train;
  int64_t tokens_per_step = 0, total_steps = 0;
  std::vector<int64_t> eval_steps;
  bool recurrent = false;
  int64_t default_depth = 1;         // recurrences at evaluation when none are asked for
  std::vector<int64_t> eval_depths;  // empty for non-recurrent arms
  double train_flops = 0;            // flops_train_per_token * tokens
};

struct ExperimentPlan {
  ExperimentSpec spec;
  std::vector<PlannedRun> runs;
  std::vector<PlannedTask> tasks;
  std::vector<PlannedGroup> groups;
};

// Matches every arm (an arm outside its tolerance is an InputError naming it), builds each model
// once to read its default depth and check its vocabulary against the tokenizer.
ExperimentPlan plan_experiment(const ExperimentSpec& spec,
                               const std::vector<std::string>& task_dirs);

// dreamer plan's timing of a run: a few steps of train::Trainer::train_step on `device`, the
// model initialised under the run's seed, on uniformly random token ids below min(256, the
// model's vocabulary) (the timing needs no data files), in [workload.batch, seq_len+1]
// micro-batches, under the run's activation checkpointing.
struct Calibration {
  double tokens_per_s = 0;     // of the `steps` timed steps, after one untimed warm-up step
  std::vector<double> losses;  // each step's cross-entropy, the warm-up's first
};
Calibration calibrate(const ExperimentPlan& plan, const PlannedRun& run, const std::string& device,
                      int steps = 2);
// The settings calibrate() trains under: the run's own (optimizer, schedule, clipping,
// precision), on `device` (a bf16 run in fp32 where that has no bf16 autocast), for the
// warm-up and the `steps` timed steps, one micro-batch a step (accumulation repeats the
// micro-batch at about the same rate).
train::TrainSettings calibration_settings(const ExperimentPlan& plan, const PlannedRun& run,
                                          const std::string& device, int steps);

// The run's training data: the spec's shards (the same order for every seed) or its document
// mixture drawn under the run's seed, in windows of workload.seq_len.
data::PackedStream training_stream(const ExperimentSpec& spec,
                                   std::shared_ptr<const data::Tokenizer> tokenizer, int64_t seed);
// What every rank and the calibration train a run with: workload.batch rows a micro-batch, the
// workload's activation checkpointing, the plan's checkpoint steps and the FLOPs for MFU.
train::TrainerOptions trainer_options(const ExperimentSpec& spec, const PlannedRun& run);

struct RunnerOptions {
  std::string db = "results.db";
  std::string out_dir = "runs";  // checkpoints: out_dir/<experiment>/<arm>/seed<k>/step-NNNNNN
  bool resume = false;           // continue from each run's newest checkpoint; skip finished runs
  bool force = false;  // start runs that exist afresh (rows replaced at the first checkpoint)
  std::vector<std::string> allow_changes;  // with resume: fingerprint fields that may differ
  std::vector<std::string> arms;           // only these arms (empty: all)
  std::string data_root;  // for benchmark task files (default: eval::default_data_root())
  bool progress = true;
  std::optional<int64_t>
      stop_after_step;  // --max-steps: pause each run at this step (checkpointed)
  bool keep_checkpoints =
      true;  // false: delete checkpoint directories once evaluated (not the last)
  double lease_stale_after_s = 120;  // a lease whose heartbeat is older than this may be taken over
  Shard shard;  // --shard i/n: only this slice of the plan's runs (experiments/shard.h)
  // Data-parallel training of every run over this group's ranks (train/distributed.h): rank 0
  // does everything one process does; the others only train along (experiments/follower.h).
  std::shared_ptr<train::ProcessGroup> group;
};

// How a run_experiment call ended (an InputError is thrown for what stops it otherwise).
struct RunSummary {
  int interrupted_by = 0;             // SIGINT or SIGTERM stopped it (the run is `interrupted`)
  std::vector<std::string> diverged;  // "run_id: loss is nan at step 5"
  std::vector<std::string> paused;    // run ids stopped at --max-steps
};

// Trains and evaluates every (selected) run; results go to options.db as they happen. The run
// lifecycle (fingerprints, refusals, leases, statuses) is in docs/EXPERIMENTS.md.
RunSummary run_experiment(const ExperimentPlan& plan, const RunnerOptions& options);

std::string run_directory(const RunnerOptions& options, const PlannedRun& run,
                          const std::string& experiment);

}  // namespace dreamer::experiments
