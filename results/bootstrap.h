#pragma once
// The statistics behind every interval and test in the report: a deterministic bootstrap over
// seeds and eval items, normal intervals from stored standard errors, percentile intervals and
// McNemar's exact test. Pure functions over numbers; docs/RESULTS.md ("Statistics") states
// every rule used here.
#include <cstdint>
#include <optional>
#include <vector>

namespace dreamer::results {

// Fixed, so that a report is the same every time it is written from the same database.
inline constexpr int kBootstrapResamples = 2000;
inline constexpr uint64_t kBootstrapSeed = 20261201;
inline constexpr double kConfidence = 0.95;
inline constexpr double kNormalQuantile = 1.959963984540054;  // Phi^-1(0.975)

// A small, fully specified generator (SplitMix64), so intervals do not depend on the standard
// library's distributions, which differ between implementations.
class Resampler {
 public:
  explicit Resampler(uint64_t seed) : state_(seed) {}
  uint64_t next();
  size_t below(size_t n);  // uniform in [0, n)
  double uniform();        // in (0, 1)
  double normal();         // standard normal (Box-Muller)

 private:
  uint64_t state_;
};

enum class IntervalMethod {
  kBootstrap,  // percentile interval of bootstrap replicates over per-item outcomes
  kNormal,     // estimate +- 1.96 standard errors from eval_results.stderr (no per-item data)
};

struct Interval {
  double low = 0, high = 0;
  IntervalMethod method = IntervalMethod::kBootstrap;
  bool contains(double x) const { return low <= x && x <= high; }
};

// The p-quantile of sorted values, interpolating linearly between order statistics (R's and
// NumPy's default, "type 7"). Requires a non-empty input.
double quantile(const std::vector<double>& sorted, double p);

// The central kConfidence percentile interval of `replicates` (sorted here).
Interval percentile_interval(std::vector<double> replicates);

Interval normal_interval(double estimate, double standard_error);

// One measurement of a resampling unit: a score with its per-item outcomes when they were
// stored. Measurements of a unit with the same `item_set` were taken on the same items, in
// the same order, and are resampled with the same draw (paired).
struct Measurement {
  double value = 0;
  std::optional<double> stderr_;
  std::vector<double> items;  // empty: not stored
  size_t item_set = 0;
  // Per-item weights (the value is sum(w * item) / sum(w), e.g. bits per byte over documents
  // of different lengths); empty: a plain mean.
  std::vector<double> weights = {};
};

// A resampling unit: one seed (or one pair of matched seeds). Every unit of one call has the
// same number of measurements with the same item sets.
using Unit = std::vector<Measurement>;

struct Replicates {
  // [replicate][measurement]: the mean over resampled units of each measurement.
  std::vector<std::vector<double>> values;
  bool from_items = true;  // false when some measurement was drawn from its stderr instead
};

// Hierarchical bootstrap: each replicate draws units with replacement, then, within each drawn
// unit, one draw of item indices with replacement per item set, and averages every
// measurement's resampled item mean (weighted, when it has weights) over the drawn units. A
// measurement without items is drawn as value + stderr * z instead (a parametric stand-in;
// from_items is then false). None when `units` is empty or some measurement has neither items nor a
// stderr.
std::optional<Replicates> resample(const std::vector<Unit>& units,
                                   int resamples = kBootstrapResamples,
                                   uint64_t seed = kBootstrapSeed);

// The interval of the mean over units of one measurement: the percentile interval of the
// hierarchical bootstrap when every unit has items; otherwise the normal interval around the
// mean with standard error sqrt(sum of stderr^2) / units (item noise only). None when neither
// is possible.
std::optional<Interval> mean_interval(const std::vector<Unit>& units, size_t measurement = 0);

// McNemar's exact test: two-sided binomial p-value of `b` vs `c` discordant pairs under
// p = 1/2, min(1, 2 * P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2); 1 when b + c = 0.
double mcnemar_exact_p(int64_t b, int64_t c);

}  // namespace dreamer::results
