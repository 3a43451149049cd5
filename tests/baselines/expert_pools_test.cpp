// Every family's routing records name the expert pool they select from (RoutingRecord::pool):
// the MoE transformer one per layer, MoEUT one per distinct layer of its group (shared by
// every repeat of the group), Dreamer one for its shared layer at every depth.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/models/tiny_configs.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

// (site, depth) -> pool of one forward call with a trace.
std::map<std::pair<std::string, int64_t>, std::string> pools_of(const nlohmann::json& config,
                                                                int64_t recurrences = 0) {
  torch::manual_seed(0);
  auto model = zoo::build_model(zoo::model_config_from_json(config));
  model->eval();
  models::ForwardOptions o;
  o.record_trace = true;
  o.recurrences = recurrences;
  torch::NoGradGuard no_grad;
  auto out = model->forward(torch::randint(0, 64, {2, 5}), nullptr, o);
  std::map<std::pair<std::string, int64_t>, std::string> pools;
  for (const auto& r : out.trace.records) {
    const bool inserted = pools.emplace(std::make_pair(r.site, r.depth), r.pool).second;
    EXPECT_TRUE(inserted) << "two records for site " << r.site << " depth " << r.depth;
  }
  return pools;
}

nlohmann::json tiny_case(const std::string& name) {
  for (const auto& c : tiny_model_cases())
    if (c.name == name) return c.config;
  ADD_FAILURE() << "no tiny case " << name;
  return {};
}

using Pools = std::map<std::pair<std::string, int64_t>, std::string>;

TEST(ExpertPools, MoETransformerHasOnePoolPerLayer) {
  EXPECT_EQ(pools_of(tiny_case("moe_sigmoid_bias_shared")),
            (Pools{{{"ffn", 1}, "layer1"}, {{"ffn", 2}, "layer2"}}));
}

TEST(ExpertPools, MoEUTHasOnePoolPerDistinctLayerOfTheGroup) {
  // 4 layers, group_size 2: layers A B A B, so depths 1 and 3 share A's experts.
  Pools expected;
  for (const std::string site : {"ffn", "attn_v", "attn_o"})
    for (int64_t depth = 1; depth <= 4; ++depth)
      expected[{site, depth}] = depth % 2 == 1 ? "layer1" : "layer2";
  EXPECT_EQ(pools_of(tiny_case("moeut_switchhead")), expected);
}

TEST(ExpertPools, DreamerSharesOnePoolAcrossDepths) {
  EXPECT_EQ(pools_of(tiny_case("dreamer_DR_DA_EA"), 3),
            (Pools{{{"ea", 1}, "shared"}, {{"ea", 2}, "shared"}, {{"ea", 3}, "shared"}}));
}

TEST(ExpertPools, EveryTracedRecordNamesItsPool) {
  for (const auto& c : tiny_model_cases())
    for (const auto& [key, pool] : pools_of(c.config))
      EXPECT_FALSE(pool.empty()) << c.name << " site " << key.first << " depth " << key.second;
}

}  // namespace
}  // namespace dreamer::testing
