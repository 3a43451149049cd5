#include "results/tokens_to_accuracy.h"

#include <algorithm>
#include <cmath>

namespace dreamer::results {

namespace {

// The tokens a `fraction` of the way from t0 to t1, in log(tokens) when both are positive.
double between(double t0, double t1, double fraction) {
  if (t0 > 0 && t1 > 0) return std::exp(std::log(t0) + fraction * (std::log(t1) - std::log(t0)));
  return t0 + fraction * (t1 - t0);
}

}  // namespace

std::optional<double> tokens_to_reach(const Curve& curve, double target, bool higher_is_better) {
  // Lower-is-better metrics (bits per byte) are the same question on the negated values.
  const double sign = higher_is_better ? 1.0 : -1.0;
  const double goal = sign * target;
  for (size_t i = 0; i < curve.size(); ++i) {
    const double value = sign * curve[i].value;
    if (value < goal) continue;
    if (i == 0) return curve[0].tokens;
    // The previous point is below the goal, this one at or above: interpolate between them.
    const double previous = sign * curve[i - 1].value;
    const double fraction = (goal - previous) / (value - previous);
    return between(curve[i - 1].tokens, curve[i].tokens, fraction);
  }
  return std::nullopt;
}

std::optional<TokensRatio> tokens_ratio(const Curve& reference, const Curve& arm,
                                        bool higher_is_better) {
  if (reference.empty() || arm.empty()) return std::nullopt;
  TokensRatio r;
  r.target = reference.back().value;
  // The reference reaches its own final value at the latest at its last point.
  r.reference_tokens = *tokens_to_reach(reference, r.target, higher_is_better);
  const auto arm_tokens = tokens_to_reach(arm, r.target, higher_is_better);
  r.reached = arm_tokens.has_value();
  r.arm_tokens = r.reached ? *arm_tokens : arm.back().tokens;
  r.ratio = r.reference_tokens / r.arm_tokens;
  return r;
}

std::optional<RatioInterval> ratio_interval(const std::vector<Curve>& reference,
                                            const std::vector<Curve>& arm, bool higher_is_better,
                                            IntervalMethod method) {
  const size_t n = std::min(reference.size(), arm.size());
  if (n == 0) return std::nullopt;
  std::vector<double> lower, upper;  // the censored replicates read low, and read high
  int reached = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto r = tokens_ratio(reference[i], arm[i], higher_is_better);
    if (!r) return std::nullopt;
    reached += r->reached;
    lower.push_back(r->reached ? r->ratio : 0.0);
    upper.push_back(r->ratio);
  }
  RatioInterval out;
  out.interval.low = percentile_interval(lower).low;
  out.interval.high = percentile_interval(upper).high;
  out.interval.method = method;
  out.reached_share = static_cast<double>(reached) / static_cast<double>(n);
  return out;
}

}  // namespace dreamer::results
