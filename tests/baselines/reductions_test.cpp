// Recurrent baselines reduce to plain stacks: Huginn with one recurrence equals a dense
// transformer holding the same weights; a Universal Transformer with R applications equals
// applying its shared layer R times by hand.
#include <gtest/gtest.h>

#include "baselines/dense_transformer.h"
#include "baselines/huginn.h"
#include "baselines/universal_transformer.h"
#include "models/registry.h"
#include "tests/test_util.h"

namespace dreamer::testing {
namespace {

template <typename T>
std::shared_ptr<T> build(const nlohmann::json& j) {
  return std::dynamic_pointer_cast<T>(models::build_model(models::ModelConfig::from_json(j)));
}

void copy_parameters(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto src = from.named_parameters(), dst = to.named_parameters();
  ASSERT_EQ(src.size(), dst.size());
  for (const auto& item : src) {
    ASSERT_TRUE(dst.contains(item.key())) << item.key();
    dst[item.key()].copy_(item.value());
  }
}

// Huginn (pre-norm blocks, no qk bias) with one recurrence vs a dense stack of
// prelude + core + coda layers with the same weights.
void expect_huginn_equals_dense(const std::string& injection, const std::string& state_init) {
  const nlohmann::json shared = {{"vocab_size", 50}, {"d_model", 32}, {"n_heads", 4}, {"ffn_hidden", 48},
                                 {"tie_embeddings", false}};
  nlohmann::json hj = shared;
  hj.update({{"family", "huginn"}, {"n_prelude", 1}, {"n_core", 2}, {"n_coda", 1}, {"sandwich", false},
             {"qk_bias", false}, {"injection", injection}, {"state_init", state_init}});
  nlohmann::json dj = shared;
  dj.update({{"family", "dense_transformer"}, {"n_layers", 4}});
  torch::manual_seed(11);
  auto huginn = build<baselines::Huginn>(hj);
  auto dense = build<baselines::DenseTransformer>(dj);
  copy_parameters(*huginn->ends.embedding, *dense->ends.embedding);
  copy_parameters(*huginn->ends.norm_out, *dense->ends.norm_out);
  copy_parameters(*huginn->ends.lm_head, *dense->ends.lm_head);
  std::vector<models::TransformerBlock> stack = {huginn->prelude_blocks[0], huginn->core_blocks[0],
                                                 huginn->core_blocks[1], huginn->coda_blocks[0]};
  for (size_t i = 0; i < stack.size(); ++i) copy_parameters(*stack[i], *dense->blocks[i]);
  huginn->eval();
  dense->eval();
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, 50, {2, 9});
  models::ForwardOptions one;
  one.recurrences = 1;
  auto h = huginn->forward(tokens, nullptr, one);
  EXPECT_EQ(h.recurrences, 1);
  EXPECT_TENSOR_NEAR(h.logits, dense->forward(tokens).logits, 1e-5);
  // Teeth: a second recurrence changes the logits.
  one.recurrences = 2;
  EXPECT_GT(max_abs_diff(huginn->forward(tokens, nullptr, one).logits, h.logits), 1e-4);
}

TEST(Reductions, HuginnWithoutInjectionAndOneRecurrenceIsAPlainStack) {
  expect_huginn_equals_dense("none", "random");
}

TEST(Reductions, HuginnAddInjectionFromZeroStateAndOneRecurrenceIsAPlainStack) {
  expect_huginn_equals_dense("add", "zero");
}

TEST(Reductions, HuginnRandomStateIsReproducibleAtEvaluation) {
  torch::manual_seed(12);
  auto huginn = build<baselines::Huginn>({{"family", "huginn"}, {"vocab_size", 50}, {"d_model", 32},
                                          {"n_heads", 4}, {"ffn_hidden", 48}});
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
  auto huginn = build<baselines::Huginn>({{"family", "huginn"}, {"vocab_size", 50}, {"d_model", 32},
                                          {"n_heads", 4}, {"ffn_hidden", 48},
                                          {"recurrence", {{"mean", 6}, {"backprop_depth", 2}, {"max", 20}}}});
  huginn->train();
  std::set<int64_t> seen;
  for (int i = 0; i < 12; ++i) seen.insert(huginn->forward(torch::randint(0, 50, {1, 4})).recurrences);
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
  auto ut = build<baselines::UniversalTransformer>({{"family", "universal_transformer"}, {"vocab_size", 50},
                                                    {"d_model", 32}, {"n_heads", 4}, {"recurrences", 3}});
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
  auto ut = build<baselines::UniversalTransformer>({{"family", "universal_transformer"}, {"preset", "act"},
                                                    {"vocab_size", 50}, {"d_model", 32}, {"n_heads", 4},
                                                    {"recurrences", 4}});
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
