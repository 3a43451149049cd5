#pragma once
// Two sets of runs scored on one task (two arms, or one arm at two depths): the paired
// comparison on the same eval items (paired bootstrap of the difference, McNemar's exact test)
// and the verdict the findings may state. docs/RESULTS.md ("Statistics") gives the rules.
#include <cstdint>
#include <optional>
#include <vector>

#include "results/bootstrap.h"
#include "results/experiment_data.h"

namespace dreamer::results {

// One run's score on one task: its seed and the eval row (with its items, if stored).
struct SeedRow {
  int64_t seed = 0;
  const EvalRecord* row = nullptr;
};

// The measurement a run contributes to a bootstrap: its value, stderr and item outcomes.
Measurement measurement_of(const EvalRecord& row, size_t item_set = 0);

// The seed mean of `rows` and its interval (hierarchical bootstrap, else normal from stderr).
struct SeedStat {
  double mean = 0;
  int seeds = 0;                     // seeds that have a value
  int64_t items = 0;                 // documents scored (the first seed's n)
  std::optional<Interval> interval;  // none: no per-item data and no stderr
};
SeedStat seed_stat(const std::vector<SeedRow>& rows);

struct PairedComparison {
  int seeds = 0;          // seed pairs (same seed number on both sides)
  int64_t items = 0;      // items per seed pair
  double difference = 0;  // a - b in the metric, mean over seed pairs
  Interval interval;      // paired bootstrap (hierarchical: seed pairs, then items)
  // Whether every item outcome is 0 or 1 (an accuracy). Otherwise (bits per byte) there are
  // no discordant items and the p-value is the bootstrap's.
  bool binary = true;
  // Discordant items over all seed pairs: only a correct, only b correct (binary only).
  int64_t a_only = 0, b_only = 0;
  // Binary: McNemar exact on a_only vs b_only. Otherwise: two-sided bootstrap p, twice the
  // smaller share of replicate differences on either side of 0.
  double p_value = 1;
};

// None unless some seed number has a row on both sides, all such rows have items, and each
// pair was scored on the same items (doc_index and prompt).
std::optional<PairedComparison> paired_comparison(const std::vector<SeedRow>& a,
                                                  const std::vector<SeedRow>& b);

inline constexpr double kSignificance = 0.05;

struct Comparison {
  SeedStat a, b;
  std::optional<PairedComparison> paired;
  bool significant = false;
  // Significant and a better than b in the task's direction; false otherwise.
  bool a_better = false;
};

// Paired: significant when McNemar's p < 0.05 and the paired interval excludes 0. Unpaired
// (no items on the same docs): when both 95% intervals exist and do not overlap.
Comparison compare(const std::vector<SeedRow>& a, const std::vector<SeedRow>& b,
                   bool higher_is_better);

}  // namespace dreamer::results
