// Diversity metrics on hand-built traces whose values are worked out in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "eval/diversity.h"

namespace dreamer::eval {
namespace {

using Ids = std::vector<std::vector<int64_t>>;

models::RoutingRecord record(const std::string& site, int64_t depth, const std::string& pool,
                             Ids ids) {
  const int64_t n = static_cast<int64_t>(ids.size()), k = static_cast<int64_t>(ids[0].size());
  auto t = torch::empty({n, k}, torch::kLong);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) t[i][j] = ids[i][j];
  return {site, depth, 4, t, torch::ones({n, k}), pool};
}

// E = 4, k = 2, three tokens, two depths:
//   depth 1: {0,1} {1,0} {2,3}   counts 2 2 1 1
//   depth 2: {0,1} {0,2} {1,0}   counts 3 2 1 0
const Ids kDepth1 = {{0, 1}, {1, 0}, {2, 3}};
const Ids kDepth2 = {{0, 1}, {0, 2}, {1, 0}};

// Both depths select from one shared pool (Dreamer's expert attention).
models::RoutingTrace shared_trace() {
  models::RoutingTrace trace;
  trace.records.push_back(record("ea", 1, "shared", kDepth1));
  trace.records.push_back(record("ea", 2, "shared", kDepth2));
  return trace;
}

// The same selections made by a two-layer MoE: each layer has its own four experts.
models::RoutingTrace two_layer_moe_trace() {
  models::RoutingTrace trace;
  trace.records.push_back(record("ffn", 1, "layer1", kDepth1));
  trace.records.push_back(record("ffn", 2, "layer2", kDepth2));
  return trace;
}

// (site, depth, metric) -> value; a metric emitted twice for one row is a failure.
using Rows = std::map<std::tuple<std::string, int64_t, std::string>, double>;
Rows by_key(const std::vector<ExpertMetric>& metrics) {
  Rows out;
  for (const auto& m : metrics)
    EXPECT_TRUE(out.emplace(std::make_tuple(m.site, m.depth, m.metric), m.value).second)
        << m.site << " " << m.depth << " " << m.metric;
  return out;
}

TEST(Diversity, SharedPoolTraceGivesTheHandComputedValues) {
  DiversityAccumulator acc;
  acc.add(shared_trace());
  auto m = by_key(acc.metrics());
  const std::string pool = "ea@shared", site = "ea";
  // Usage: p1 = (1/3, 1/3, 1/6, 1/6), p2 = (1/2, 1/3, 1/6, 0).
  const double h1 = 2.0 / 3.0 * std::log(3.0) + 1.0 / 3.0 * std::log(6.0);
  const double h2 = 0.5 * std::log(2.0) + 1.0 / 3.0 * std::log(3.0) + 1.0 / 6.0 * std::log(6.0);
  EXPECT_NEAR((m[{pool, 1, "usage_rel_perplexity"}]), std::exp(h1) / 4, 1e-12);
  EXPECT_NEAR((m[{pool, 2, "usage_rel_perplexity"}]), std::exp(h2) / 4, 1e-12);
  EXPECT_NEAR((m[{pool, 1, "usage_entropy_norm"}]), h1 / std::log(4.0), 1e-12);
  EXPECT_DOUBLE_EQ((m[{pool, 1, "dead_expert_fraction"}]), 0.0);
  EXPECT_DOUBLE_EQ((m[{pool, 2, "dead_expert_fraction"}]), 0.25);
  EXPECT_DOUBLE_EQ((m[{site, 0, "dead_expert_fraction"}]), 0.0);  // pooled 5 4 2 1
  // MaxVio: mean count 1.5 at each depth; (2 - 1.5) / 1.5 and (3 - 1.5) / 1.5; pooled (5 - 3) / 3.
  EXPECT_NEAR((m[{pool, 1, "max_vio"}]), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR((m[{pool, 2, "max_vio"}]), 1.0, 1e-12);
  EXPECT_NEAR((m[{site, 0, "max_vio"}]), 2.0 / 3.0, 1e-12);
  // Overlap sum_e min(p1, p2) = 1/3 + 1/3 + 1/6 + 0; one pair, so universal = optimist.
  EXPECT_NEAR((m[{pool, 1, "usage_overlap_d2"}]), 5.0 / 6.0, 1e-12);
  EXPECT_NEAR((m[{site, 0, "universal_score"}]), 5.0 / 6.0, 1e-12);
  EXPECT_NEAR((m[{site, 0, "universal_score_optimist"}]), 5.0 / 6.0, 1e-12);
  // Per token: |S1 n S2| = 2, 1, 0 -> consecutive overlap (1 + 1/2 + 0) / 3;
  // Jaccard 2/2, 1/3, 0/4 -> 4/9.
  EXPECT_NEAR((m[{pool, 2, "consecutive_overlap"}]), 0.5, 1e-12);
  EXPECT_NEAR((m[{site, 0, "consecutive_overlap"}]), 0.5, 1e-12);
  EXPECT_NEAR((m[{pool, 1, "jaccard_d2"}]), 4.0 / 9.0, 1e-12);
  EXPECT_NEAR((m[{pool, 2, "jaccard_d1"}]), 4.0 / 9.0, 1e-12);
  EXPECT_NEAR((m[{site, 0, "jaccard_mean"}]), 4.0 / 9.0, 1e-12);
  // Path unions {0,1} {0,1,2} {0,1,2,3} over min(E, k D) = 4.
  EXPECT_NEAR((m[{site, 0, "unique_experts_per_path"}]), (2.0 + 3.0 + 4.0) / 12.0, 1e-12);
  EXPECT_NEAR((m[{site, 0, "experts_per_path"}]), 3.0, 1e-12);
  // Combinations (order inside a selection does not matter): {01, 23}, {01, 02}, pooled 3.
  EXPECT_DOUBLE_EQ((m[{pool, 1, "unique_combinations"}]), 2);
  EXPECT_DOUBLE_EQ((m[{pool, 2, "unique_combinations"}]), 2);
  EXPECT_DOUBLE_EQ((m[{site, 0, "unique_combinations"}]), 3);
  EXPECT_DOUBLE_EQ((m[{pool, 1, "tokens"}]), 3);
  EXPECT_DOUBLE_EQ((m[{site, 0, "n_pools"}]), 1);
  EXPECT_EQ(m.count({pool, 0, "usage_rel_perplexity"}), 0u);  // one pool: the site row says it
}

TEST(Diversity, TwoLayerMoEPoolsAreNotComparedAndCountAsDistinctExperts) {
  DiversityAccumulator acc;
  acc.add(two_layer_moe_trace());
  auto m = by_key(acc.metrics());
  // Pooled over the site, the 2 x 4 experts are distinct: counts (2 2 1 1 | 3 2 1 0) of 12,
  // p = (1/6, 1/6, 1/12, 1/12, 1/4, 1/6, 1/12, 0),
  // H = 3 (1/6) ln 6 + 3 (1/12) ln 12 + (1/4) ln 4.
  const double h = 0.5 * std::log(6.0) + 0.25 * std::log(12.0) + 0.25 * std::log(4.0);
  EXPECT_NEAR((m[{"ffn", 0, "usage_rel_perplexity"}]), std::exp(h) / 8, 1e-12);
  EXPECT_NEAR((m[{"ffn", 0, "usage_entropy_norm"}]), h / std::log(8.0), 1e-12);
  EXPECT_DOUBLE_EQ((m[{"ffn", 0, "dead_expert_fraction"}]), 1.0 / 8.0);
  EXPECT_NEAR((m[{"ffn", 0, "max_vio"}]), (3.0 - 1.5) / 1.5, 1e-12);  // mean count 12 / 8
  // Combinations: {01, 23} in layer 1 and {01, 02} in layer 2; layer 1's {0,1} is not layer
  // 2's {0,1}, so 4 (a shared pool counts 3).
  EXPECT_DOUBLE_EQ((m[{"ffn", 0, "unique_combinations"}]), 4);
  EXPECT_DOUBLE_EQ((m[{"ffn", 0, "n_pools"}]), 2);
  EXPECT_DOUBLE_EQ((m[{"ffn", 0, "n_depths"}]), 2);
  // Every token's path has 2 + 2 distinct experts out of at most min(4, 2) + min(4, 2) = 4
  // (a shared pool gave (2 + 3 + 4) / 12 = 0.75 and 3 experts per path).
  EXPECT_NEAR((m[{"ffn", 0, "unique_experts_per_path"}]), 1.0, 1e-12);
  EXPECT_NEAR((m[{"ffn", 0, "experts_per_path"}]), 4.0, 1e-12);
  // No two depths share a pool: no overlap, Jaccard, consecutive overlap or universal score.
  for (const auto& [key, value] : m) {
    const std::string& metric = std::get<2>(key);
    for (const std::string cross : {"usage_overlap", "jaccard", "consecutive", "universal"})
      EXPECT_NE(metric.rfind(cross, 0), 0u) << std::get<0>(key) << " " << metric;
  }
  // Per layer, with the layer's own 4 experts: p1 = (1/3, 1/3, 1/6, 1/6), as in a shared pool.
  const double h1 = 2.0 / 3.0 * std::log(3.0) + 1.0 / 3.0 * std::log(6.0);
  EXPECT_NEAR((m[{"ffn@layer1", 1, "usage_rel_perplexity"}]), std::exp(h1) / 4, 1e-12);
  EXPECT_DOUBLE_EQ((m[{"ffn@layer2", 2, "dead_expert_fraction"}]), 0.25);
  // Pool summaries (the site has several pools): layer 1 alone, 2 experts per path of max 2.
  EXPECT_NEAR((m[{"ffn@layer1", 0, "usage_rel_perplexity"}]), std::exp(h1) / 4, 1e-12);
  EXPECT_DOUBLE_EQ((m[{"ffn@layer1", 0, "unique_combinations"}]), 2);
  EXPECT_DOUBLE_EQ((m[{"ffn@layer2", 0, "n_depths"}]), 1);
  EXPECT_NEAR((m[{"ffn@layer2", 0, "unique_experts_per_path"}]), 1.0, 1e-12);
  // Counts keep each pool's own ids.
  std::map<std::tuple<std::string, int64_t, int64_t>, int64_t> counts;
  for (const auto& c : acc.counts()) counts[{c.site, c.depth, c.expert_id}] = c.count;
  EXPECT_EQ(counts.size(), 8u);
  EXPECT_EQ((counts[{"ffn@layer1", 1, 0}]), 2);
  EXPECT_EQ((counts[{"ffn@layer2", 2, 0}]), 3);
  EXPECT_EQ((counts[{"ffn@layer2", 2, 3}]), 0);
}

TEST(Diversity, GroupedLayersCompareOnlyApplicationsOfTheSameLayer) {
  // MoEUT-style A B A B: pool A at depths 1 and 3 makes the shared-pool selections above;
  // pool B at depths 2 and 4 picks {0,1} for every token at both depths.
  const Ids same = {{0, 1}, {1, 0}, {0, 1}};
  models::RoutingTrace trace;
  trace.records.push_back(record("ffn", 1, "A", kDepth1));
  trace.records.push_back(record("ffn", 2, "B", same));
  trace.records.push_back(record("ffn", 3, "A", kDepth2));
  trace.records.push_back(record("ffn", 4, "B", same));
  DiversityAccumulator acc;
  acc.add(trace);
  auto m = by_key(acc.metrics());
  // Consecutive overlap compares each depth with the pool's previous application: depth 3
  // with depth 1 (0.5, as above), depth 4 with depth 2 (1). Depth 2 is B's first: none.
  EXPECT_NEAR((m[{"ffn@A", 3, "consecutive_overlap"}]), 0.5, 1e-12);
  EXPECT_NEAR((m[{"ffn@B", 4, "consecutive_overlap"}]), 1.0, 1e-12);
  EXPECT_EQ(m.count({"ffn@B", 2, "consecutive_overlap"}), 0u);
  EXPECT_NEAR((m[{"ffn", 0, "consecutive_overlap"}]), (3 * 0.5 + 3 * 1.0) / 6, 1e-12);
  // Jaccard and usage overlap only within a pool: A (1, 3) 4/9, B (2, 4) 1; never (1, 2).
  EXPECT_NEAR((m[{"ffn@A", 1, "jaccard_d3"}]), 4.0 / 9.0, 1e-12);
  EXPECT_NEAR((m[{"ffn@B", 2, "jaccard_d4"}]), 1.0, 1e-12);
  EXPECT_EQ(m.count({"ffn@A", 1, "jaccard_d2"}), 0u);
  EXPECT_EQ(m.count({"ffn@A", 1, "usage_overlap_d2"}), 0u);
  EXPECT_NEAR((m[{"ffn", 0, "jaccard_mean"}]), (4.0 / 9.0 + 1.0) / 2, 1e-12);
  // Universal score: O_A(1, 3) = 5/6, O_B(2, 4) = 1; mean over the two within-pool pairs.
  EXPECT_NEAR((m[{"ffn", 0, "universal_score"}]), (5.0 / 6.0 + 1.0) / 2, 1e-12);
  EXPECT_NEAR((m[{"ffn@A", 0, "universal_score"}]), 5.0 / 6.0, 1e-12);
  // Paths: A's unions 2, 3, 4 of at most min(4, 2*2) = 4; B's 2, 2, 2 of 4. Per token over
  // the site (2+2)/8, (3+2)/8, (4+2)/8: mean 15/24; experts per path (4 + 5 + 6) / 3 = 5.
  EXPECT_NEAR((m[{"ffn", 0, "unique_experts_per_path"}]), 15.0 / 24.0, 1e-12);
  EXPECT_NEAR((m[{"ffn", 0, "experts_per_path"}]), 5.0, 1e-12);
  EXPECT_NEAR((m[{"ffn@A", 0, "unique_experts_per_path"}]), 0.75, 1e-12);
  EXPECT_NEAR((m[{"ffn@B", 0, "unique_experts_per_path"}]), 0.5, 1e-12);
}

TEST(Diversity, CountsAccumulateOverForwardCalls) {
  DiversityAccumulator acc;
  acc.add(shared_trace());
  acc.add(shared_trace());
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  for (const auto& c : acc.counts()) {
    EXPECT_EQ(c.site, "ea@shared");
    counts[{c.depth, c.expert_id}] = c.count;
  }
  EXPECT_EQ((counts[{1, 0}]), 4);
  EXPECT_EQ((counts[{2, 0}]), 6);
  EXPECT_EQ((counts[{2, 3}]), 0);
  EXPECT_EQ(acc.counts().size(), 8u);  // every expert of every depth, zeros included
  auto m = by_key(acc.metrics());
  EXPECT_NEAR((m[{"ea", 0, "jaccard_mean"}]), 4.0 / 9.0, 1e-12);  // a mean, not a sum
  EXPECT_DOUBLE_EQ((m[{"ea@shared", 1, "tokens"}]), 6);
}

TEST(Diversity, RecordsWithoutAPoolShareNothingAcrossDepths) {
  // RoutingRecord's default: an empty pool is the depth's own pool "depth<d>".
  models::RoutingTrace trace;
  trace.records.push_back(record("ea", 1, "", kDepth1));
  trace.records.push_back(record("ea", 2, "", kDepth2));
  DiversityAccumulator acc;
  acc.add(trace);
  auto m = by_key(acc.metrics());
  EXPECT_DOUBLE_EQ((m[{"ea", 0, "n_pools"}]), 2);
  EXPECT_DOUBLE_EQ((m[{"ea@depth2", 2, "dead_expert_fraction"}]), 0.25);
  EXPECT_EQ(m.count({"ea", 0, "jaccard_mean"}), 0u);
}

TEST(Diversity, ContradictoryTracesAreRejected) {
  DiversityAccumulator acc;
  acc.add(two_layer_moe_trace());
  models::RoutingTrace moved;  // depth 2 now claims layer 1's pool
  moved.records.push_back(record("ffn", 2, "layer1", kDepth2));
  EXPECT_THROW(acc.add(moved), std::invalid_argument);
  models::RoutingTrace twice;
  twice.records.push_back(record("ea", 1, "shared", kDepth1));
  twice.records.push_back(record("ea", 1, "shared", kDepth2));
  EXPECT_THROW(DiversityAccumulator().add(twice), std::invalid_argument);
  models::RoutingTrace out_of_range;  // ids index a pool of 4 experts
  out_of_range.records.push_back(record("ea", 1, "shared", {{0, 4}}));
  EXPECT_THROW(DiversityAccumulator().add(out_of_range), std::invalid_argument);
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
