#pragma once
// Tokens-to-accuracy: how many training tokens an arm needs to reach the accuracy the
// reference arm ends with (the paper's "2-8x fewer training tokens for the same accuracy").
// Pure functions over (tokens, value) curves; docs/RESULTS.md gives the definition.
#include <optional>
#include <vector>

namespace dreamer::results {

struct CurvePoint {
  double tokens = 0;
  double value = 0;
};
using Curve = std::vector<CurvePoint>;  // sorted by tokens

// The tokens at which the linearly interpolated curve first reaches `target` (>= target, or
// <= target when lower is better); the first point's tokens if it already does; none if the
// curve never does (or is empty).
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
};

// Ratio of `arm` against `reference`, with target = the reference's final value; none when
// either curve is empty.
std::optional<TokensRatio> tokens_ratio(const Curve& reference, const Curve& arm,
                                        bool higher_is_better = true);

}  // namespace dreamer::results
