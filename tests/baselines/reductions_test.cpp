// Recurrent baselines reduce to plain stacks: Huginn with one recurrence equals its blocks
// composed by hand (the reference's order, default settings); a Universal Transformer with R
// applications equals applying its shared layer R times by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "baselines/huginn.h"
#include "baselines/universal_transformer.h"
#include "tests/test_util.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

template <typename T>
std::shared_ptr<T> build(const nlohmann::json& j) {
  return std::dynamic_pointer_cast<T>(zoo::build_model(zoo::model_config_from_json(j)));
}

// Huginn at its defaults (sandwich blocks, qk bias, Takase init, tied head) with one
// recurrence and nothing injected into it vs its blocks composed by hand, in the reference's
// order: sqrt(d) * embedding, prelude, core, ln_f, coda, ln_f, tied head.
void expect_huginn_is_its_blocks_in_order(const std::string& injection,
                                          const std::string& state_init) {
  torch::manual_seed(11);
  auto huginn = build<baselines::Huginn>({{"family", "huginn"},
                                          {"vocab_size", 50},
                                          {"d_model", 32},
                                          {"n_heads", 4},
                                          {"ffn", {{"hidden", 48}}},
                                          {"n_prelude", 1},
                                          {"n_core", 2},
                                          {"n_coda", 1},
                                          {"injection", injection},
                                          {"state_init", state_init},
                                          // no truncation: "none" would be refused with it
                                          {"recurrence", {{"backprop_depth", 0}}}});
  huginn->eval();
  torch::NoGradGuard no_grad;
  // Give the norms non-trivial gains so that a missing or extra norm shows.
  for (auto& p : huginn->named_parameters())
    if (p.key().find("norm") != std::string::npos) p.value().uniform_(0.5, 1.5);
  auto tokens = torch::randint(0, 50, {2, 9});
  auto h = huginn->ends.embedding(tokens) * std::sqrt(32.0);
  for (auto* blocks : {&huginn->prelude_blocks, &huginn->core_blocks}) {
    for (auto& block : *blocks) h = block(h, 0, nullptr);
  }
  h = huginn->ends.norm_out(h);
  h = huginn->coda_blocks[0](h, 0, nullptr);
  auto by_hand = torch::matmul(huginn->ends.norm_out(h), huginn->ends.embedding->weight.t());
  models::ForwardOptions one;
  one.recurrences = 1;
  auto out = huginn->forward(tokens, nullptr, one);
  EXPECT_EQ(out.recurrences, 1);
  EXPECT_TENSOR_NEAR(out.logits, by_hand, 1e-4);
  // Teeth: a second recurrence changes the logits.
  one.recurrences = 2;
  EXPECT_GT(max_abs_diff(huginn->forward(tokens, nullptr, one).logits, out.logits), 1e-3);
}

TEST(Reductions, HuginnWithoutInjectionAndOneRecurrenceIsItsBlocksInOrder) {
  expect_huginn_is_its_blocks_in_order("none", "random");
}

TEST(Reductions, HuginnAddInjectionFromZeroStateAndOneRecurrenceIsItsBlocksInOrder) {
  expect_huginn_is_its_blocks_in_order("add", "zero");
}

TEST(Reductions, HuginnLinearInjectionIsTheAdapterOnStateAndEmbedding) {
  // The default injection by hand for two recurrences from a given state (the reference's
  // core_block_forward: s = core(adapter(cat[s, e]))).
  torch::manual_seed(16);
  auto huginn = build<baselines::Huginn>({{"family", "huginn"},
                                          {"vocab_size", 50},
                                          {"d_model", 32},
                                          {"n_heads", 4},
                                          {"ffn", {{"hidden", 48}}}});
  huginn->eval();
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, 50, {2, 5});
  auto s0 = torch::randn({2, 5, 32});
  auto e = huginn->prelude_blocks[0](huginn->ends.embedding(tokens) * std::sqrt(32.0), 0, nullptr);
  auto s = s0;
  for (int r = 0; r < 2; ++r) {
    s = huginn->adapter(torch::cat({s, e}, -1));
    for (auto& block : huginn->core_blocks) s = block(s, 0, nullptr);
  }
  s = huginn->coda_blocks[0](huginn->ends.norm_out(s), 0, nullptr);
  auto by_hand = torch::matmul(huginn->ends.norm_out(s), huginn->ends.embedding->weight.t());
  models::ForwardOptions two;
  two.recurrences = 2;
  EXPECT_TENSOR_NEAR(huginn->forward_from_state(tokens, s0, nullptr, two).logits, by_hand, 1e-4);
}

TEST(Reductions, HuginnRandomStateIsReproducibleAtEvaluation) {
  torch::manual_seed(12);
  auto huginn = build<baselines::Huginn>({{"family", "huginn"},
                                          {"vocab_size", 50},
                                          {"d_model", 32},
                                          {"n_heads", 4},
                                          {"ffn", {{"hidden", 48}}}});
  huginn->eval();
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, 50, {2, 6});
  auto a = huginn->forward(tokens).logits;
  torch::manual_seed(99);  // the global generator does not matter at evaluation
  EXPECT_TENSOR_NEAR(huginn->forward(tokens).logits, a, 0.0);
  EXPECT_EQ(huginn->forward(tokens).recurrences, huginn->huginn_config().recurrence.mean);
}

TEST(Reductions, HuginnTrainingSamplesRecurrencesAndTruncatesBackprop) {
  torch::manual_seed(13);
  auto huginn =
      build<baselines::Huginn>({{"family", "huginn"},
                                {"vocab_size", 50},
                                {"d_model", 32},
                                {"n_heads", 4},
                                {"ffn", {{"hidden", 48}}},
                                {"recurrence", {{"mean", 6}, {"backprop_depth", 2}, {"max", 20}}}});
  huginn->train();
  std::set<int64_t> seen;
  for (int i = 0; i < 12; ++i)
    seen.insert(huginn->forward(torch::randint(0, 50, {1, 4})).recurrences);
  EXPECT_GT(seen.size(), 1u);  // sampled, not fixed
  models::ForwardOptions o;
  o.recurrences = 5;
  o.record_states = true;
  auto out = huginn->forward(torch::randint(0, 50, {1, 4}), nullptr, o);
  ASSERT_EQ(out.states.size(), 5u);
  EXPECT_FALSE(out.states[2].requires_grad());  // no-grad prefix
  EXPECT_TRUE(out.states[3].requires_grad());   // last backprop_depth steps
}

TEST(Reductions, UniversalTransformerIsItsSharedLayerAppliedRTimes) {
  torch::manual_seed(14);
  auto ut = build<baselines::UniversalTransformer>({{"family", "universal_transformer"},
                                                    {"vocab_size", 50},
                                                    {"d_model", 32},
                                                    {"n_heads", 4},
                                                    {"recurrence", {{"mean", 3}}}});
  ut->eval();
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, 50, {2, 7});
  for (int64_t r : {1, 3, 5}) {
    SCOPED_TRACE("R = " + std::to_string(r));
    auto h = ut->ends.embedding(tokens);
    for (int64_t i = 0; i < r; ++i) h = ut->layer(h, 0, nullptr);
    auto by_hand = torch::matmul(ut->ends.norm_out(h), ut->ends.lm_head->weight.t());
    models::ForwardOptions o;
    o.recurrences = r;
    auto out = ut->forward(tokens, nullptr, o);
    EXPECT_EQ(out.recurrences, r);
    EXPECT_TENSOR_NEAR(out.logits, by_hand, 1e-5);
  }
}

TEST(Reductions, ActHaltingWeightsSumToOneAndPonderCostEntersAuxLoss) {
  torch::manual_seed(15);
  auto ut = build<baselines::UniversalTransformer>({{"family", "universal_transformer"},
                                                    {"preset", "act"},
                                                    {"vocab_size", 50},
                                                    {"d_model", 32},
                                                    {"n_heads", 4},
                                                    {"recurrence", {{"mean", 4}}}});
  ut->train();
  auto out = ut->forward(torch::randint(0, 50, {2, 5}));
  // Each position makes between 1 and R updates: ponder cost in [0.01 * 1, 0.01 * (R + 1)].
  EXPECT_GT(out.aux_loss.item<double>(), 0.01 - 1e-9);
  EXPECT_LT(out.aux_loss.item<double>(), 0.01 * 5 + 1e-9);
  // With a huge halting bias every position halts at step 1 with remainder 0: output = step 1.
  {
    torch::NoGradGuard no_grad;
    ut->halting->bias.fill_(50.0);
    ut->eval();
    auto tokens = torch::randint(0, 50, {2, 5});
    models::ForwardOptions one;
    one.recurrences = 1;
    auto first = ut->forward(tokens, nullptr, one).logits;
    EXPECT_TENSOR_NEAR(ut->forward(tokens).logits, first, 1e-5);
  }
}

}  // namespace
}  // namespace dreamer::testing
