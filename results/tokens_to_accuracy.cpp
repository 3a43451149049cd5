#include "results/tokens_to_accuracy.h"

namespace dreamer::results {

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
    return curve[i - 1].tokens + fraction * (curve[i].tokens - curve[i - 1].tokens);
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

}  // namespace dreamer::results
