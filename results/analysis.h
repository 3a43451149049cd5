#pragma once
// The numbers of a report, before any formatting: per arm the value of each task at the last
// checkpoint (mean over seeds, with its 95% interval), seed-averaged learning curves,
// tokens-to-accuracy ratios and paired comparisons against the reference arm, accuracy by
// recurrence depth, and expert-diversity means. docs/RESULTS.md states every rule used here.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "results/comparison.h"
#include "results/experiment_data.h"
#include "results/tokens_to_accuracy.h"

namespace dreamer::results {

struct ArmSummary {
  std::string arm, family;
  std::vector<std::string> run_ids;
  std::optional<double> params, active_params, flops_per_token, memory_bytes;  // first seed's
  int64_t default_depth = 1;
  // task -> value at each seed's last checkpoint (most tokens) at its default depth.
  std::map<std::string, SeedStat> final_value;
  // Mean of final_value over the higher-is-better tasks; none unless every such task has one.
  std::optional<double> average;
  // Its interval: every seed resampled with all its tasks; none unless the tasks were scored
  // on the same seeds (and have items or stderrs).
  std::optional<Interval> average_interval;
  // task -> (tokens, mean over seeds) at the default depth, at the token counts every
  // evaluated seed has.
  std::map<std::string, Curve> curve;
  bool recurrent = false;  // some run was evaluated at more than one depth
  // task -> depth -> mean over seeds, at each seed's last checkpoint of that task.
  std::map<std::string, std::map<int64_t, SeedStat>> by_depth;
  // task -> the largest evaluated depth (a) against the smallest (b), same runs and checkpoint;
  // only tasks evaluated at two or more depths.
  std::map<std::string, Comparison> depth_change;
  // task -> ratio against the reference (non-reference arms); none: n/a (no reference, or a
  // curve with fewer than two checkpoints).
  std::map<std::string, std::optional<TokensRatio>> vs_reference;
  // task -> this arm (a) against the reference (b), each run at its default depth and last
  // checkpoint (non-reference arms, tasks both have).
  std::map<std::string, Comparison> against_reference;
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
