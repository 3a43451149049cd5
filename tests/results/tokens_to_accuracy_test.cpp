// Tokens-to-accuracy on curves whose answers are worked out by hand in the comments.
#include "results/tokens_to_accuracy.h"

#include <gtest/gtest.h>

namespace dreamer::results {
namespace {

const Curve kReference = {{100, 0.1}, {200, 0.3}, {400, 0.5}};

TEST(TokensToAccuracy, InterpolatesLinearlyInLogTokensBetweenCheckpoints) {
  // 0.2 -> 0.6 between 100 and 200 tokens: 0.5 is 3/4 of the way in log(tokens), at
  // 100 * 2^0.75 = 168.179283 (linear in tokens would say 175).
  EXPECT_NEAR(*tokens_to_reach({{100, 0.2}, {200, 0.6}}, 0.5), 168.179283, 1e-6);
  // Halfway between 100 and 400 in log(tokens) is their geometric mean, 200.
  EXPECT_NEAR(*tokens_to_reach({{100, 0.2}, {400, 0.6}}, 0.4), 200.0, 1e-9);
  // The reference reaches its own final value at its last point.
  EXPECT_DOUBLE_EQ(*tokens_to_reach(kReference, 0.5), 400.0);
  // Exactly on a point.
  EXPECT_DOUBLE_EQ(*tokens_to_reach(kReference, 0.3), 200.0);
}

TEST(TokensToAccuracy, AZeroTokenCheckpointInterpolatesLinearly) {
  // log(0) is undefined: between 0 and 100 tokens, 0.3 is halfway from 0.1 to 0.5, at 50.
  EXPECT_DOUBLE_EQ(*tokens_to_reach({{0, 0.1}, {100, 0.5}}, 0.3), 50.0);
}

TEST(TokensToAccuracy, FirstPointAlreadyThereAndNeverReached) {
  EXPECT_DOUBLE_EQ(*tokens_to_reach({{50, 0.7}, {100, 0.8}}, 0.5), 50.0);
  EXPECT_FALSE(tokens_to_reach({{100, 0.1}, {300, 0.4}}, 0.5).has_value());
  EXPECT_FALSE(tokens_to_reach({}, 0.5).has_value());
}

TEST(TokensToAccuracy, TakesTheFirstCrossingOfANonMonotoneCurve) {
  // Crosses 0.3 first between 100 (0.0) and 200 (0.6), halfway: at sqrt(100 * 200) =
  // 141.421356; again later, ignored.
  EXPECT_NEAR(*tokens_to_reach({{100, 0.0}, {200, 0.6}, {300, 0.2}, {400, 0.8}}, 0.3), 141.421356,
              1e-6);
}

TEST(TokensToAccuracy, LowerIsBetterFlipsTheComparison) {
  // Bits per byte 1.6 -> 1.0 between 100 and 300 tokens: 1.2 is 2/3 of the way, at
  // 100 * 3^(2/3) = 208.008382.
  EXPECT_NEAR(*tokens_to_reach({{100, 1.6}, {300, 1.0}}, 1.2, false), 208.008382, 1e-6);
  EXPECT_DOUBLE_EQ(*tokens_to_reach({{100, 1.1}, {300, 1.0}}, 1.2, false), 100.0);
  EXPECT_FALSE(tokens_to_reach({{100, 1.6}, {300, 1.3}}, 1.2, false).has_value());
}

TEST(TokensToAccuracy, RatioAgainstTheReferenceWhenReached) {
  const auto r = tokens_ratio(kReference, {{100, 0.2}, {200, 0.6}});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->reached);
  EXPECT_DOUBLE_EQ(r->target, 0.5);
  EXPECT_DOUBLE_EQ(r->reference_tokens, 400.0);
  EXPECT_NEAR(r->arm_tokens, 168.179283, 1e-6);
  EXPECT_NEAR(r->ratio, 2.378414, 1e-6);  // 400 / (100 * 2^0.75) = 2^1.25
  EXPECT_FALSE(r->interval.has_value());
}

TEST(TokensToAccuracy, RatioIsAnUpperBoundWhenTheArmNeverReachesTheTarget) {
  // The arm stops at 300 tokens below 0.5: it would need more than 300, so ratio < 400/300.
  const auto r = tokens_ratio(kReference, {{100, 0.1}, {300, 0.4}});
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->reached);
  EXPECT_DOUBLE_EQ(r->arm_tokens, 300.0);
  EXPECT_DOUBLE_EQ(r->ratio, 400.0 / 300.0);
}

TEST(TokensToAccuracy, RatioBelowOneWhenTheArmNeedsMoreTokens) {
  // Reference reaches its final 0.5 at 200; the arm halfway from 400 to 800 in log(tokens),
  // at 400 * sqrt(2) = 565.685425: ratio 200 / 565.685425 = 0.353553.
  const auto r = tokens_ratio({{100, 0.2}, {200, 0.5}}, {{400, 0.4}, {800, 0.6}});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->reached);
  EXPECT_NEAR(r->arm_tokens, 565.685425, 1e-6);
  EXPECT_NEAR(r->ratio, 0.353553, 1e-6);
}

TEST(TokensToAccuracy, LowerIsBetterRatio) {
  // Reference bits per byte 2.0, 1.5, 1.2: target 1.2 at 400. Arm 1.8, 1.2 reaches it at 200.
  const auto r =
      tokens_ratio({{100, 2.0}, {200, 1.5}, {400, 1.2}}, {{100, 1.8}, {200, 1.2}}, false);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->reached);
  EXPECT_DOUBLE_EQ(r->ratio, 2.0);
  EXPECT_FALSE(tokens_ratio({}, {{100, 1.0}}).has_value());
}

}  // namespace
}  // namespace dreamer::results
