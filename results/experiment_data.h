#pragma once
// Reads one experiment's rows out of a results database (schema version >= 2, see
// results/store.cpp): its tasks, runs, eval scores with the tokens of their checkpoint, and
// expert metrics; plus the plot inputs (training loss, expert counts). Only reads.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "results/item_outcomes.h"
#include "results/query.h"

namespace dreamer::results {

struct ExperimentTask {
  std::string task;
  std::string metric;  // the eval_results metric the report shows
  bool higher_is_better = true;
};

struct RunRecord {
  std::string run_id, arm;
  int64_t seed = 0;
  std::string family;
  std::optional<double> params, active_params, flops_per_token, memory_bytes;
  int64_t default_depth = 1;
  std::string status;
  int64_t tokens_trained = 0;
};

// A checkpoint as eval rows name it; tokens is none when `checkpoints` has no such row.
struct CheckpointRef {
  std::string name;
  std::optional<int64_t> tokens;
};
// "Last" means most tokens trained; a checkpoint of unknown tokens counts as earlier than any
// known one; ties go to the larger name. True when `a` is earlier than `b`.
bool earlier_checkpoint(const CheckpointRef& a, const CheckpointRef& b);

// One eval_results row of one of the experiment's tasks, in that task's report metric.
struct EvalRecord {
  std::string run_id;
  CheckpointRef checkpoint;
  std::string task;
  int64_t depth = 1;  // recurrences run
  double value = 0;
  std::optional<double> stderr_;
  int64_t n = 0;
  // Per-item outcomes in the task's metric (eval_samples, by doc_index); empty when they were
  // not stored (experiment eval.samples false) or do not cover all n items.
  std::vector<ItemOutcome> items;
};

// One expert_metrics row of a run, evaluated at the run's default depth (recurrences).
struct ExpertMetricRecord {
  std::string run_id;
  CheckpointRef checkpoint;
  std::string task, site;
  int64_t depth = 0;  // recurrence step or layer; 0: pooled
  std::string metric;
  double value = 0;
};

struct ExperimentData {
  std::string name;
  std::optional<std::string> reference_arm;
  std::vector<ExperimentTask> tasks;
  std::vector<RunRecord> runs;  // by arm, then seed
  std::vector<EvalRecord> evals;
  std::vector<ExpertMetricRecord> expert_metrics;
};

struct TrainPoint {
  std::string run_id;
  double tokens = 0, loss = 0;
};

// expert_counts of a run at its last checkpoint that has counts, at its default depth.
struct ExpertCountRecord {
  std::string run_id, task, site;
  int64_t depth = 0, expert_id = 0, count = 0;
};

// Names of every experiment, after checking the file has the version-2 tables; an InputError
// naming the file otherwise.
std::vector<std::string> experiment_names(const ReadOnlyDatabase& db);

// InputError naming the experiment when the database has no such experiment.
ExperimentData load_experiment(const ReadOnlyDatabase& db, const std::string& name);
std::vector<TrainPoint> load_train_loss(const ReadOnlyDatabase& db, const std::string& experiment);
std::vector<ExpertCountRecord> load_last_expert_counts(const ReadOnlyDatabase& db,
                                                       const ExperimentData& experiment);

}  // namespace dreamer::results
