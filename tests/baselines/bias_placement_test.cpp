// Where the balancing bias enters the top-k (RouterOptions::bias_placement): DeepSeek-V3 (eq. 16)
// and torchtitan's TokenChoiceTopKRouter select on sigmoid scores + bias and gate with the
// unbiased scores; `logits` adds the bias before the sigmoid instead.
#include <gtest/gtest.h>

#include <cmath>

#include "baselines/moe_transformer.h"
#include "models/blocks/experts.h"
#include "models/dreamer.h"
#include "tests/test_util.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using models::BiasPlacement;

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// E = 4, k = 2, an identity query and identity expert keys, so the logits are the input row
// itself: z = (3, 1, 0.5, -4), sigmoid scores s = (0.9526, 0.7311, 0.6225, 0.0180).
// Bias b = (0, 0, 0.4, 0):
//   scores + b = (0.9526, 0.7311, 1.0225, 0.0180) -> top-2 {2, 0}  (expert 2 passes expert 1:
//                the scores of 1 and 2 differ by 0.109 < 0.4)
//   logits + b = (3, 1, 0.9, -4)                  -> top-2 {0, 1}  (the logits differ by 0.5 > 0.4)
// DeepSeek-V3's gates: the unbiased scores of the chosen experts, renormalised:
//   g_0 = s_0 / (s_0 + s_2) = 0.60480, g_2 = s_2 / (s_0 + s_2) = 0.39520.
models::RouterOutput route(BiasPlacement placement) {
  models::RouterOptions o;
  o.d_model = 4;
  o.n_experts = 4;
  o.k = 2;
  o.gate = models::GateKind::kSigmoid;
  o.renormalize = true;
  o.balancing_bias = true;
  o.query = models::RouterQuery::kIdentity;
  o.bias_placement = placement;
  models::Router router(o);
  router->eval();
  torch::NoGradGuard no_grad;
  router->expert_keys.copy_(torch::eye(4));
  router->selection_bias.copy_(torch::tensor({0.0, 0.0, 0.4, 0.0}));
  return router(torch::tensor({{3.0, 1.0, 0.5, -4.0}}));
}

TEST(BiasPlacement, ScoresPlacementSelectsWhatDeepSeekV3Selects) {
  auto routed = route(BiasPlacement::kScores);
  ASSERT_EQ(routed.ids.size(1), 2);
  EXPECT_EQ(routed.ids[0][0].item<int64_t>(), 2);  // 1.0225 first
  EXPECT_EQ(routed.ids[0][1].item<int64_t>(), 0);
  const double s0 = sigmoid(3.0), s2 = sigmoid(0.5);
  EXPECT_NEAR(routed.gates[0][0].item<double>(), s2 / (s0 + s2), 1e-6);
  EXPECT_NEAR(routed.gates[0][1].item<double>(), s0 / (s0 + s2), 1e-6);
}

TEST(BiasPlacement, LogitsPlacementKeepsTheLogitsOrder) {
  auto routed = route(BiasPlacement::kLogits);
  EXPECT_EQ(routed.ids[0][0].item<int64_t>(), 0);
  EXPECT_EQ(routed.ids[0][1].item<int64_t>(), 1);
  const double s0 = sigmoid(3.0), s1 = sigmoid(1.0);
  EXPECT_NEAR(routed.gates[0][0].item<double>(), s0 / (s0 + s1), 1e-6);
}

models::RouterOptions moe_router_options(const nlohmann::json& params) {
  auto model = std::dynamic_pointer_cast<baselines::MoETransformer>(
      zoo::build_model(zoo::model_config_from_json(params)));
  return model->moe_layers.at(0)->router->options;
}

TEST(BiasPlacement, DeepSeekPresetUsesScoresAndThePlainConfigKeepsLogits) {
  const nlohmann::json base = {{"family", "moe_transformer"},
                               {"vocab_size", 32},
                               {"d_model", 16},
                               {"n_heads", 2},
                               {"n_layers", 1}};
  auto preset = base;
  preset["preset"] = "deepseek_sigmoid_bias";
  preset["ffn_experts"] = {{"n_experts", 4}, {"k", 2}, {"expert_dim", 8}, {"n_shared_experts", 0}};
  EXPECT_EQ(moe_router_options(preset).bias_placement, BiasPlacement::kScores);
  EXPECT_EQ(moe_router_options(base).bias_placement, BiasPlacement::kLogits);
  auto overridden = preset;
  overridden["ffn_experts"]["bias_placement"] = "logits";
  EXPECT_EQ(moe_router_options(overridden).bias_placement, BiasPlacement::kLogits);
}

TEST(BiasPlacement, DreamerExpertAttentionKeepsLogitsUnlessAsked) {
  // [SUMMARY-H]'s TopK(sigmoid(x), x + b, k) selects on the logits: the default stays there.
  auto router_of = [](const nlohmann::json& ea) {
    nlohmann::json j = {{"family", "dreamer"}, {"preset", "DR+EA"},
                        {"vocab_size", 32},    {"d_model", 16},
                        {"n_heads", 2},        {"recurrence", {{"mean", 2}, {"max", 4}}},
                        {"ffn_experts", ea}};
    auto model = std::dynamic_pointer_cast<models::DreamerModel>(
        zoo::build_model(zoo::model_config_from_json(j)));
    return model->layer->router->options.bias_placement;
  };
  const nlohmann::json small = {{"n_experts", 4}, {"k", 2}, {"expert_dim", 16}};
  EXPECT_EQ(router_of(small), BiasPlacement::kLogits);
  auto scores = small;
  scores["bias_placement"] = "scores";
  EXPECT_EQ(router_of(scores), BiasPlacement::kScores);
}

TEST(BiasPlacement, UnknownValueNamesTheJsonPath) {
  try {
    zoo::model_config_from_json(
        {{"family", "moe_transformer"}, {"ffn_experts", {{"bias_placement", "gates"}}}});
    ADD_FAILURE() << "accepted bias_placement \"gates\"";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "$.ffn_experts.bias_placement") << e.what();
    EXPECT_NE(std::string(e.what()).find("scores"), std::string::npos) << e.what();
  }
  try {
    zoo::model_config_from_json(
        {{"family", "dreamer"}, {"ffn_experts", {{"bias_placement", "gates"}}}});
    ADD_FAILURE() << "accepted expert_attention.bias_placement \"gates\"";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "$.ffn_experts.bias_placement") << e.what();
  }
}

}  // namespace
}  // namespace dreamer::testing
