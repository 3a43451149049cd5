#pragma once
// The numbers of a report, before any formatting: per arm the value of each task at the last
// checkpoint (mean over seeds), seed-averaged learning curves, tokens-to-accuracy ratios
// against the reference arm, accuracy by recurrence depth, and expert-diversity means.
// docs/RESULTS.md states every rule used here.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "results/experiment_data.h"
#include "results/tokens_to_accuracy.h"

namespace dreamer::results {

struct SeedStat {
  double mean = 0;
  // Sample standard deviation over seeds (n - 1) when more than one seed has a value; else
  // the eval's standard error (none for metrics without one).
  std::optional<double> spread;
  int seeds = 0;  // seeds that have a value
};

struct ArmSummary {
  std::string arm, family;
  std::vector<std::string> run_ids;
  std::optional<double> params, active_params, flops_per_token, memory_bytes;  // first seed's
  int64_t default_depth = 1;
  // task -> value at each seed's last checkpoint (most tokens) at its default depth.
  std::map<std::string, SeedStat> final_value;
  // Mean of final_value over the higher-is-better tasks; none unless every such task has one.
  std::optional<double> average;
  // task -> (tokens, mean over seeds) at the default depth, at the token counts every
  // evaluated seed has.
  std::map<std::string, Curve> curve;
  bool recurrent = false;  // some run was evaluated at more than one depth
  // task -> depth -> mean over seeds, at each seed's last checkpoint of that task.
  std::map<std::string, std::map<int64_t, double>> by_depth;
  // task -> ratio against the reference (non-reference arms); none: n/a (no reference, or a
  // curve with fewer than two checkpoints).
  std::map<std::string, std::optional<TokensRatio>> vs_reference;
};

// Mean over seeds and tasks of expert_metrics at each run's last checkpoint and default depth.
struct DiversitySummary {
  std::string arm, site;
  int64_t depth = 0;  // 0: pooled over depths
  std::map<std::string, double> metrics;
};

struct ExperimentAnalysis {
  std::string name;
  std::optional<std::string> reference_arm;
  bool reference_has_runs = false;
  std::vector<ExperimentTask> tasks;
  std::vector<ArmSummary> arms;  // the reference first, then by name
  std::vector<DiversitySummary> diversity;
  std::vector<RunRecord> unfinished;            // status != finished
  std::vector<std::string> runs_without_evals;  // no score in any of the tasks' metrics
  int64_t evals_with_unknown_tokens = 0;        // checkpoint missing from `checkpoints`
  bool any_evals = false;
};

ExperimentAnalysis analyse(const ExperimentData& data);

const ArmSummary* find_arm(const ExperimentAnalysis& analysis, const std::string& arm);

}  // namespace dreamer::results
