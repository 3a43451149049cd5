#pragma once
// "Did each run learn?": per run and task, the value at its first and last checkpoint (default
// depth) against the task's majority-answer rate, so a report never compares arms that all sit
// at chance. docs/RESULTS.md states the rule.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "results/experiment_data.h"

namespace dreamer::results {

class ReadOnlyDatabase;

struct LearningCheck {
  std::string arm, run_id, task;
  int64_t seed = 0, depth = 1;
  double first = 0, last = 0;
  std::optional<int64_t> first_tokens, last_tokens;
  std::optional<double> last_stderr;
  std::optional<double> majority;  // the most frequent reference's share of the items
  // last - first > 3 stderr and, where the majority rate is known, last - majority > 3
  // stderr (stderr of the last checkpoint's value); none when there is one checkpoint or no
  // stderr (then nothing can be said).
  std::optional<bool> learned;
};

// task -> share of the most frequent reference answer among one evaluation's stored samples
// (`details.reference`, generation tasks); tasks without stored references are absent.
std::map<std::string, double> majority_rates(const ReadOnlyDatabase& db,
                                             const ExperimentData& data);

// One check per run and higher-is-better task with at least one eval at the run's default depth.
std::vector<LearningCheck> check_learning(const ExperimentData& data,
                                          const std::map<std::string, double>& majority);

}  // namespace dreamer::results
