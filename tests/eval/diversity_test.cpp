// Diversity metrics on hand-built traces whose values are worked out in the comments.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/diversity.h"

namespace dreamer::eval {
namespace {

models::RoutingRecord record(int64_t depth, std::vector<std::vector<int64_t>> ids) {
  const int64_t n = static_cast<int64_t>(ids.size()), k = static_cast<int64_t>(ids[0].size());
  auto t = torch::empty({n, k}, torch::kLong);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) t[i][j] = ids[i][j];
  return {"ea", depth, 4, t, torch::ones({n, k})};
}

// E = 4, k = 2, three tokens, two depths:
//   depth 1: {0,1} {1,0} {2,3}   counts 2 2 1 1
//   depth 2: {0,1} {0,2} {1,0}   counts 3 2 1 0
models::RoutingTrace hand_trace() {
  models::RoutingTrace trace;
  trace.records.push_back(record(1, {{0, 1}, {1, 0}, {2, 3}}));
  trace.records.push_back(record(2, {{0, 1}, {0, 2}, {1, 0}}));
  return trace;
}

std::map<std::pair<int64_t, std::string>, double> by_key(const std::vector<ExpertMetric>& metrics) {
  std::map<std::pair<int64_t, std::string>, double> out;
  for (const auto& m : metrics) {
    EXPECT_EQ(m.site, "ea");
    out[{m.depth, m.metric}] = m.value;
  }
  return out;
}

TEST(Diversity, HandBuiltTraceGivesTheHandComputedValues) {
  DiversityAccumulator acc;
  acc.add(hand_trace());
  auto m = by_key(acc.metrics());
  // Usage: p1 = (1/3, 1/3, 1/6, 1/6), p2 = (1/2, 1/3, 1/6, 0).
  const double h1 = 2.0 / 3.0 * std::log(3.0) + 1.0 / 3.0 * std::log(6.0);
  const double h2 = 0.5 * std::log(2.0) + 1.0 / 3.0 * std::log(3.0) + 1.0 / 6.0 * std::log(6.0);
  EXPECT_NEAR((m[{1, "usage_rel_perplexity"}]), std::exp(h1) / 4, 1e-12);
  EXPECT_NEAR((m[{2, "usage_rel_perplexity"}]), std::exp(h2) / 4, 1e-12);
  EXPECT_NEAR((m[{1, "usage_entropy_norm"}]), h1 / std::log(4.0), 1e-12);
  EXPECT_DOUBLE_EQ((m[{1, "dead_expert_fraction"}]), 0.0);
  EXPECT_DOUBLE_EQ((m[{2, "dead_expert_fraction"}]), 0.25);
  EXPECT_DOUBLE_EQ((m[{0, "dead_expert_fraction"}]), 0.0);  // pooled 5 4 2 1
  // MaxVio: mean count 1.5 at each depth; (2 - 1.5) / 1.5 and (3 - 1.5) / 1.5; pooled (5 - 3) / 3.
  EXPECT_NEAR((m[{1, "max_vio"}]), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR((m[{2, "max_vio"}]), 1.0, 1e-12);
  EXPECT_NEAR((m[{0, "max_vio"}]), 2.0 / 3.0, 1e-12);
  // Overlap sum_e min(p1, p2) = 1/3 + 1/3 + 1/6 + 0; one pair, so universal = optimist.
  EXPECT_NEAR((m[{1, "usage_overlap_d2"}]), 5.0 / 6.0, 1e-12);
  EXPECT_NEAR((m[{0, "universal_score"}]), 5.0 / 6.0, 1e-12);
  EXPECT_NEAR((m[{0, "universal_score_optimist"}]), 5.0 / 6.0, 1e-12);
  // Per token: |S1 n S2| = 2, 1, 0 -> consecutive overlap (1 + 1/2 + 0) / 3;
  // Jaccard 2/2, 1/3, 0/4 -> 4/9.
  EXPECT_NEAR((m[{2, "consecutive_overlap"}]), 0.5, 1e-12);
  EXPECT_NEAR((m[{0, "consecutive_overlap"}]), 0.5, 1e-12);
  EXPECT_NEAR((m[{1, "jaccard_d2"}]), 4.0 / 9.0, 1e-12);
  EXPECT_NEAR((m[{2, "jaccard_d1"}]), 4.0 / 9.0, 1e-12);
  EXPECT_NEAR((m[{0, "jaccard_mean"}]), 4.0 / 9.0, 1e-12);
  // Path unions {0,1} {0,1,2} {0,1,2,3} over min(E, k D) = 4.
  EXPECT_NEAR((m[{0, "unique_experts_per_path"}]), (2.0 + 3.0 + 4.0) / 12.0, 1e-12);
  // Combinations (order inside a selection does not matter): {01, 23}, {01, 02}, pooled 3.
  EXPECT_DOUBLE_EQ((m[{1, "unique_combinations"}]), 2);
  EXPECT_DOUBLE_EQ((m[{2, "unique_combinations"}]), 2);
  EXPECT_DOUBLE_EQ((m[{0, "unique_combinations"}]), 3);
  EXPECT_DOUBLE_EQ((m[{1, "tokens"}]), 3);
}

TEST(Diversity, CountsAccumulateOverForwardCalls) {
  DiversityAccumulator acc;
  acc.add(hand_trace());
  acc.add(hand_trace());
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  for (const auto& c : acc.counts()) counts[{c.depth, c.expert_id}] = c.count;
  EXPECT_EQ((counts[{1, 0}]), 4);
  EXPECT_EQ((counts[{2, 0}]), 6);
  EXPECT_EQ((counts[{2, 3}]), 0);
  EXPECT_EQ(acc.counts().size(), 8u);  // every expert of every depth, zeros included
  auto m = by_key(acc.metrics());
  EXPECT_NEAR((m[{0, "jaccard_mean"}]), 4.0 / 9.0, 1e-12);  // a mean, not a sum
  EXPECT_DOUBLE_EQ((m[{1, "tokens"}]), 6);
}

TEST(Diversity, UniformUsageIsPerplexityOneAndImbalanceZero) {
  const std::vector<int64_t> uniform = {5, 5, 5, 5};
  EXPECT_NEAR(usage_relative_perplexity(uniform), 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(max_violation(uniform), 0.0);
  EXPECT_NEAR(usage_relative_perplexity({7, 0, 0, 0}), 0.25, 1e-12);  // one expert: exp(0) / 4
  EXPECT_DOUBLE_EQ(usage_overlap(uniform, {7, 0, 0, 0}), 0.25);
}

struct BiasHolder : torch::nn::Module {
  struct Router : torch::nn::Module {
    Router() { register_buffer("selection_bias", torch::tensor({-0.5, 0.25, 1.0})); }
  };
  BiasHolder() { register_module("router", std::make_shared<Router>()); }
};

TEST(Diversity, BalancingBiasRangeFromNamedBuffers) {
  BiasHolder model;
  std::map<std::string, double> v;
  for (const auto& m : balancing_bias_metrics(model)) {
    EXPECT_EQ(m.site, "router");
    v[m.metric] = m.value;
  }
  EXPECT_DOUBLE_EQ(v["selection_bias_min"], -0.5);
  EXPECT_DOUBLE_EQ(v["selection_bias_max"], 1.0);
  EXPECT_DOUBLE_EQ(v["selection_bias_range"], 1.5);
}

}  // namespace
}  // namespace dreamer::eval
