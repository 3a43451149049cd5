// The statistics behind the report's intervals and tests, on outcomes whose answers are known
// by hand (zero-width intervals, the analytic normal approximation, exact binomial sums).
#include "results/bootstrap.h"

#include <gtest/gtest.h>

#include <cmath>

#include "results/comparison.h"
#include "results/item_outcomes.h"
#include "results/tokens_to_accuracy.h"

namespace dreamer::results {
namespace {

// `correct` ones then zeros, n in all.
std::vector<double> outcomes(int correct, int n) {
  std::vector<double> items(static_cast<size_t>(n), 0.0);
  for (int i = 0; i < correct; ++i) items[static_cast<size_t>(i)] = 1.0;
  return items;
}

Unit seed_unit(int correct, int n) {
  return {Measurement{static_cast<double>(correct) / n, std::nullopt, outcomes(correct, n), 0}};
}

TEST(Bootstrap, QuantileInterpolatesBetweenOrderStatistics) {
  const std::vector<double> xs = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(quantile(xs, 0.5), 2.5);    // h = 1.5
  EXPECT_DOUBLE_EQ(quantile(xs, 0.25), 1.75);  // h = 0.75
  EXPECT_DOUBLE_EQ(quantile(xs, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile(xs, 1.0), 4.0);
}

TEST(Bootstrap, AllCorrectItemsGiveAZeroWidthInterval) {
  const auto i = mean_interval({seed_unit(50, 50)});
  ASSERT_TRUE(i.has_value());
  EXPECT_EQ(i->method, IntervalMethod::kBootstrap);
  EXPECT_DOUBLE_EQ(i->low, 1.0);
  EXPECT_DOUBLE_EQ(i->high, 1.0);
}

TEST(Bootstrap, HalfRightOf400MatchesTheNormalApproximation) {
  // Analytic: 0.5 +- 1.96 * sqrt(0.25 / 400) = 0.5 +- 0.049. The percentile bootstrap over
  // 2000 resamples agrees within its Monte Carlo error (~0.002) and the 1/400 grid.
  const auto i = mean_interval({seed_unit(200, 400)});
  ASSERT_TRUE(i.has_value());
  EXPECT_NEAR(i->low, 0.5 - 0.049, 0.006);
  EXPECT_NEAR(i->high, 0.5 + 0.049, 0.006);
  // The same inputs give the same interval: fixed seed and resample count.
  const auto again = mean_interval({seed_unit(200, 400)});
  EXPECT_EQ(again->low, i->low);
  EXPECT_EQ(again->high, i->high);
}

TEST(Bootstrap, SeedsAreResampledBeforeItems) {
  // Seed A all right, seed B all wrong (items resample to themselves): a replicate is 1 (AA,
  // p 1/4), 0.5 (AB or BA, 1/2) or 0 (BB, 1/4), so the 2.5% and 97.5% points are 0 and 1.
  const auto i = mean_interval({seed_unit(20, 20), seed_unit(0, 20)});
  ASSERT_TRUE(i.has_value());
  EXPECT_DOUBLE_EQ(i->low, 0.0);
  EXPECT_DOUBLE_EQ(i->high, 1.0);
  const auto r = resample({seed_unit(20, 20), seed_unit(0, 20)});
  int halves = 0;
  for (const auto& v : r->values) halves += v[0] == 0.5;
  EXPECT_NEAR(halves / 2000.0, 0.5, 0.05);  // binomial sd 0.011
}

TEST(Bootstrap, WithoutItemsANormalIntervalFromTheStderr) {
  // One seed: 0.16 +- 1.96 * 0.03 = [0.1012, 0.2188].
  const auto one = mean_interval({{Measurement{0.16, 0.03, {}, 0}}});
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->method, IntervalMethod::kNormal);
  EXPECT_NEAR(one->low, 0.1012, 1e-4);
  EXPECT_NEAR(one->high, 0.2188, 1e-4);
  // Two seeds 0.2 (se 0.03) and 0.4 (se 0.04): mean 0.3, se sqrt(0.03^2 + 0.04^2) / 2 = 0.025.
  const auto two =
      mean_interval({{Measurement{0.2, 0.03, {}, 0}}, {Measurement{0.4, 0.04, {}, 0}}});
  EXPECT_NEAR(two->low, 0.3 - 0.049, 1e-4);
  EXPECT_NEAR(two->high, 0.3 + 0.049, 1e-4);
  // A seed with items and one without: normal for the whole cell, mean 0.45, se
  // sqrt(0.1^2 + 0.04^2) / 2 = 0.053852.
  const auto mixed =
      mean_interval({{Measurement{0.5, 0.1, outcomes(5, 10), 0}}, {Measurement{0.4, 0.04, {}, 0}}});
  ASSERT_TRUE(mixed.has_value());
  EXPECT_EQ(mixed->method, IntervalMethod::kNormal);
  EXPECT_NEAR(mixed->low, 0.45 - 1.959964 * 0.053852, 1e-5);
  // A seed with items but no stderr cannot join a normal interval: none.
  EXPECT_FALSE(mean_interval({seed_unit(5, 10), {Measurement{0.4, 0.04, {}, 0}}}).has_value());
  EXPECT_FALSE(mean_interval({{Measurement{0.3, std::nullopt, {}, 0}}}).has_value());
  EXPECT_FALSE(mean_interval({}).has_value());
}

TEST(McNemar, ExactBinomialPValues) {
  // 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11 / 1024.
  EXPECT_NEAR(mcnemar_exact_p(9, 1), 0.021484375, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(1, 9), 0.021484375, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(0, 6), 2.0 / 64, 1e-12);
  // 2 * (1 + 15 + 105 + 455) / 2^15.
  EXPECT_NEAR(mcnemar_exact_p(3, 12), 0.03515625, 1e-12);
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(5, 5), 1.0);  // 2 * 638 / 1024 > 1: capped
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(0, 0), 1.0);
  // 2 * P(Bin(120, 1/2) <= 50) = 0.0824 (exact sum with Python's math.comb).
  EXPECT_NEAR(mcnemar_exact_p(50, 70), 0.0824075, 1e-6);
}

// An eval row of 100 items, document i correct when correct(i).
template <typename Correct>
EvalRecord row(Correct correct) {
  EvalRecord r;
  r.n = 100;
  for (int64_t i = 0; i < 100; ++i) {
    r.items.push_back({i, static_cast<uint64_t>(i), correct(i) ? 1.0 : 0.0});
    r.value += r.items.back().value / 100;
  }
  return r;
}

TEST(PairedComparison, NineToOneDiscordantIsSignificant) {
  // 0..49 both right, 50..58 only a (9), 59 only b (1): difference +0.08, p = 0.0215.
  const auto a = row([](int64_t i) { return i < 59; });
  const auto b = row([](int64_t i) { return i < 50 || i == 59; });
  const auto c = compare({{0, &a}}, {{0, &b}}, true);
  ASSERT_TRUE(c.paired.has_value());
  EXPECT_EQ(c.paired->a_only, 9);
  EXPECT_EQ(c.paired->b_only, 1);
  EXPECT_NEAR(c.paired->p_value, 0.021484375, 1e-12);
  EXPECT_NEAR(c.paired->difference, 0.08, 1e-12);
  // Replicate difference = (a_only* - b_only*) / 100, sd about sqrt((0.1 - 0.08^2) / 100) =
  // 0.031: the interval is near 0.08 +- 0.06 and excludes 0.
  EXPECT_NEAR(c.paired->interval.low, 0.02, 0.015);
  EXPECT_NEAR(c.paired->interval.high, 0.14, 0.015);
  EXPECT_TRUE(c.significant);
  EXPECT_TRUE(c.a_better);
  // Lower is better: the same numbers make b the better one.
  EXPECT_FALSE(compare({{0, &a}}, {{0, &b}}, false).a_better);
}

TEST(PairedComparison, SixToFourIsNoDifferenceAndOtherItemsAreNotPaired) {
  // 6 only a, 4 only b: p = 2 * 386 / 1024 = 0.754.
  const auto a = row([](int64_t i) { return i < 56; });
  const auto b = row([](int64_t i) { return i < 50 || (i >= 56 && i < 60); });
  const auto c = compare({{0, &a}}, {{0, &b}}, true);
  ASSERT_TRUE(c.paired.has_value());
  EXPECT_NEAR(c.paired->p_value, 0.75390625, 1e-12);
  EXPECT_FALSE(c.significant);
  // Different prompts for one document: not the same items, so no paired comparison.
  auto other = b;
  other.items[3].prompt_hash = 12345;
  EXPECT_FALSE(paired_comparison({{0, &a}}, {{0, &other}}).has_value());
  // Different seeds: nothing to pair.
  EXPECT_FALSE(paired_comparison({{0, &a}}, {{1, &b}}).has_value());
}

// Bits per byte over documents of different lengths: a replicate is the ratio of the drawn
// documents' summed bits to their summed bytes, not the plain mean of per-document values.
// Documents: 2 bits/byte over 1 byte and 4 bits/byte over 3 bytes: score (2 + 12) / 4 = 3.5.
// One unit, two items: the draws (0,0), (1,1) and the mixed ones give 2, 4 and 3.5.
TEST(Bootstrap, WeightedItemsResampleARatioOfSums) {
  Measurement m{3.5, std::nullopt, {2.0, 4.0}, 0, {1.0, 3.0}};
  const auto replicates = resample({Unit{m}});
  ASSERT_TRUE(replicates.has_value());
  int mixed = 0;
  for (const auto& r : replicates->values) {
    const double v = r[0];
    EXPECT_TRUE(v == 2.0 || v == 4.0 || std::abs(v - 3.5) < 1e-12) << v;
    mixed += std::abs(v - 3.5) < 1e-12;
  }
  // P(mixed draw) = 1/2: 1000 of 2000 expected, sd 22.
  EXPECT_NEAR(mixed, 1000, 100);
  Measurement wrong = m;
  wrong.weights = {1.0};
  EXPECT_THROW(resample({Unit{wrong}}), std::invalid_argument);
}

TEST(ItemOutcome, BitsPerByteIsTheDocumentsBitsOverItsBytesWeightedByItsBytes) {
  const double ln2 = std::log(2.0);
  const auto stored = item_outcome("bits_per_byte", {{"loglikelihood", -16 * ln2}, {"bytes", 8}},
                                   "a prompt of 20 bytes");
  ASSERT_TRUE(stored.has_value());
  EXPECT_NEAR(stored->value, 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(stored->weight, 8.0);
  // Rows written before details.bytes: the stored prompt (the scored text) gives the bytes.
  const auto old_row = item_outcome("bits_per_byte", {{"loglikelihood", -16 * ln2}}, "4 bytes!");
  ASSERT_TRUE(old_row.has_value());
  EXPECT_NEAR(old_row->value, 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(old_row->weight, 8.0);
  EXPECT_FALSE(item_outcome("bits_per_byte", {{"bytes", 8}}, "x").has_value());
  EXPECT_FALSE(item_outcome("perplexity", {{"loglikelihood", -1.0}}, "x").has_value());
  const auto acc = item_outcome("acc", {{"acc", true}}, "x");
  ASSERT_TRUE(acc.has_value());
  EXPECT_DOUBLE_EQ(acc->value, 1.0);
  EXPECT_DOUBLE_EQ(acc->weight, 1.0);
}

// Two models' bits per byte on the same 100 documents of 10 to 109 bytes: a is lower on every
// document by 0.05 plus a small alternating term, so every paired replicate difference is
// negative: p = 2 * 0 / 2000 = 0, no discordant counts, and a is better when lower is better.
TEST(PairedComparison, BitsPerByteUsesTheBootstrapPAndNoDiscordantItems) {
  EvalRecord a, b;
  a.n = b.n = 100;
  double a_bits = 0, b_bits = 0, bytes = 0;
  for (int64_t i = 0; i < 100; ++i) {
    const double w = 10.0 + static_cast<double>(i);
    const double base = 1.5 + 0.01 * static_cast<double>(i % 7);
    const double a_value = base - 0.05 + (i % 2 ? 0.01 : -0.01);
    b.items.push_back({i, static_cast<uint64_t>(i), base, w});
    a.items.push_back({i, static_cast<uint64_t>(i), a_value, w});
    a_bits += a_value * w, b_bits += base * w, bytes += w;
  }
  a.value = a_bits / bytes;
  b.value = b_bits / bytes;
  const auto c = compare({{0, &a}}, {{0, &b}}, false);
  ASSERT_TRUE(c.paired.has_value());
  EXPECT_FALSE(c.paired->binary);
  EXPECT_EQ(c.paired->a_only, 0);
  EXPECT_EQ(c.paired->b_only, 0);
  EXPECT_DOUBLE_EQ(c.paired->p_value, 0.0);
  EXPECT_LT(c.paired->interval.high, 0.0);
  EXPECT_TRUE(c.significant);
  EXPECT_TRUE(c.a_better);
  // The same documents with no systematic gap: the replicate differences straddle 0.
  for (auto& item : a.items) item.value = item.value + 0.05 + (item.doc_index % 2 ? -0.02 : 0.02);
  const auto none = compare({{0, &a}}, {{0, &b}}, false);
  ASSERT_TRUE(none.paired.has_value());
  EXPECT_GT(none.paired->p_value, 0.05);
  EXPECT_FALSE(none.significant);
}

TEST(RatioInterval, CensoredReplicatesReadLowForTheLowEndAndAsTheirBoundForTheHighEnd) {
  // Reference reaches its final 0.5 at 400 in every replicate. Arm replicates: 20 reach 0.5 at
  // 200 (ratio 2) and 80 never do within 400 tokens (ratio < 1): low end 0, high end 2.
  const Curve reference = {{100, 0.1}, {400, 0.5}};
  std::vector<Curve> refs(100, reference), arms;
  for (int i = 0; i < 100; ++i)
    arms.push_back(i < 20 ? Curve{{100, 0.2}, {200, 0.5}, {400, 0.6}}
                          : Curve{{100, 0.2}, {200, 0.3}, {400, 0.4}});
  const auto r = ratio_interval(refs, arms, true, IntervalMethod::kBootstrap);
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->interval.low, 0.0);
  EXPECT_DOUBLE_EQ(r->interval.high, 2.0);
  EXPECT_DOUBLE_EQ(r->reached_share, 0.2);
}

}  // namespace
}  // namespace dreamer::results
