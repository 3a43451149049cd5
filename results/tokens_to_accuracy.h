#pragma once
// Tokens-to-accuracy: how many training tokens an arm needs to reach the accuracy the
// reference arm ends with (the paper's "2-8x fewer training tokens for the same accuracy").
// Pure functions over (tokens, value) curves; docs/RESULTS.md gives the definition.
#include <optional>
#include <vector>

#include "results/bootstrap.h"

namespace dreamer::results {

struct CurvePoint {
  double tokens = 0;
  double value = 0;
};
using Curve = std::vector<CurvePoint>;  // sorted by tokens

// The tokens at which the curve first reaches `target` (>= target, or <= target when lower is
// better); the first point's tokens if it already does; none if the curve never does (or is
// empty). Between two checkpoints the value is interpolated linearly in log(tokens), since
// checkpoints are spaced geometrically (linearly in tokens when a point has no tokens).
std::optional<double> tokens_to_reach(const Curve& curve, double target,
                                      bool higher_is_better = true);

struct TokensRatio {
  double target = 0;            // the reference's final value
  double reference_tokens = 0;  // where the reference first reaches it
  bool reached = false;         // whether the arm reaches it within its curve
  // reached: tokens the arm needs. Not reached: the arm's last tokens (it needs more).
  double arm_tokens = 0;
  // reference_tokens / arm_tokens. > 1: the arm needs fewer tokens. Not reached: an upper
  // bound (the true ratio is below it).
  double ratio = 0;
  // 95% interval over bootstrap replicates of both curves (ratio_interval); none when there
  // are no replicates.
  std::optional<Interval> interval;
  double reached_share = 0;  // of the replicates, those in which the arm reached the target
};

// Ratio of `arm` against `reference`, with target = the reference's final value; none when
// either curve is empty. Leaves `interval` empty.
std::optional<TokensRatio> tokens_ratio(const Curve& reference, const Curve& arm,
                                        bool higher_is_better = true);

struct RatioInterval {
  Interval interval;
  double reached_share = 0;
};

// The ratio recomputed on each pair of replicate curves (reference[i], arm[i]; the target is
// each reference replicate's own final value). A replicate in which the arm does not reach the
// target only bounds its ratio from above, so it counts as 0 for the lower percentile and as
// that bound for the upper one: the interval holds under either reading. None for no
// replicates.
std::optional<RatioInterval> ratio_interval(const std::vector<Curve>& reference,
                                            const std::vector<Curve>& arm, bool higher_is_better,
                                            IntervalMethod method);

}  // namespace dreamer::results
