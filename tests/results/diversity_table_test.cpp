// The report's diversity tables with expert pools in the site names (docs/EVAL.md): the pooled
// table shows one row per site, the by-depth table every depth under its pool's name.
#include <gtest/gtest.h>

#include "results/report.h"

namespace dreamer::results {
namespace {

TEST(DiversityTables, PooledRowsAreSitesAndDepthRowsNameTheirPool) {
  ExperimentAnalysis a;
  a.name = "pools";
  ArmSummary moe;
  moe.arm = "moe";
  moe.family = "moe_transformer";
  a.arms.push_back(moe);
  a.diversity = {
      {"moe", "ffn", 0, {{"usage_rel_perplexity", 0.9}, {"unique_experts_per_path", 1.0}}},
      {"moe", "ffn@layer1", 0, {{"usage_rel_perplexity", 0.8}}},
      {"moe", "ffn@layer2", 0, {{"usage_rel_perplexity", 0.7}}},
      {"moe", "ffn@layer1", 1, {{"max_vio", 0.25}}},
      {"moe", "ffn@layer2", 2, {{"max_vio", 0.5}}},
  };
  const auto report = build_experiment_report(a);
  const Table& pooled = report.diversity;
  EXPECT_EQ(pooled.header, (std::vector<std::string>{"arm", "site", "usage_rel_perplexity",
                                                     "unique_experts_per_path"}));
  ASSERT_EQ(pooled.rows.size(), 1u);
  EXPECT_EQ(pooled.rows[0], (std::vector<std::string>{"moe", "ffn", "0.900", "1.000"}));
  const Table& by_depth = report.diversity_by_depth;
  ASSERT_EQ(by_depth.rows.size(), 2u);
  EXPECT_EQ(by_depth.rows[0], (std::vector<std::string>{"moe", "ffn@layer1", "1", "0.250"}));
  EXPECT_EQ(by_depth.rows[1], (std::vector<std::string>{"moe", "ffn@layer2", "2", "0.500"}));
}

}  // namespace
}  // namespace dreamer::results
