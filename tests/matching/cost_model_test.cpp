// The analytic cost model against the instantiated module and against the FLOPs a forward
// pass actually executed.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "matching/flop_counter.h"
#include "models/cost.h"
#include "tests/models/tiny_configs.h"
#include "tests/test_util.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

TEST(FlopCounter, CountsMatmulsFromRealShapes) {
  auto a = torch::randn({3, 5}), b = torch::randn({5, 7});
  auto x = torch::randn({2, 4, 6}), y = torch::randn({2, 6, 3});
  matching::FlopCounter counter;
  (void)torch::mm(a, b);      // 2 * 3 * 5 * 7 = 210
  (void)torch::matmul(x, y);  // 2 * (2 * 4 * 6 * 3) = 288
  (void)torch::relu(a);       // not a matmul: 0
  EXPECT_DOUBLE_EQ(counter.total(), 210 + 288);
}

TEST(FlopCounter, StopsCountingWhenDestroyed) {
  auto a = torch::randn({4, 4});
  double inner = 0;
  {
    matching::FlopCounter counter;
    (void)torch::mm(a, a);
    inner = counter.total();
  }
  matching::FlopCounter later;
  EXPECT_EQ(inner, 2.0 * 64);
  EXPECT_EQ(later.total(), 0.0);
}

TEST(CostMemory, SequenceAttentionTermsMatchTheBlock) {
  // d 8, 2 heads, 1 KV head, head dim 4, T 5: q 2*8*8, k and v 2*2*8*4, o 2*8*8, scores+mix 4*5*8.
  EXPECT_DOUBLE_EQ(models::sequence_attention_flops(8, 2, 1, 4, 5), 128 + 128 + 128 + 160);
}

class CostModel : public ::testing::TestWithParam<TinyCase> {};

TEST_P(CostModel, ForwardFlopsEqualWhatTheForwardExecuted) {
  auto config = zoo::model_config_from_json(GetParam().config);
  const auto& family = zoo::family(config.family);
  if (!family.cost) GTEST_SKIP() << config.family << " has no cost model yet";
  torch::manual_seed(0);
  auto model = zoo::build_model(config);
  model->eval();
  torch::NoGradGuard no_grad;
  const int64_t batch = 2, seq = 12;
  const int64_t vocab = config.params.value("vocab_size", int64_t{64});
  auto tokens = torch::randint(0, vocab, {batch, seq});
  double executed = 0;
  int64_t recurrences = 0;
  {
    matching::FlopCounter counter;
    recurrences = model->forward(tokens).recurrences;
    executed = counter.total() / (batch * seq);
  }
  models::Workload w;
  w.seq_len = seq;
  w.batch = batch;
  w.recurrences = static_cast<double>(recurrences);
  auto cost = family.cost(config, w);
  EXPECT_NEAR(cost.flops_forward_per_token / executed, 1.0, 0.01)
      << "predicted " << cost.flops_forward_per_token << " executed " << executed;
  EXPECT_EQ(cost.params.total, models::count_parameters(*model).total);
  // Training = forward + 2 x the forward of the steps with gradients: exactly 3x without
  // truncated backprop, between 1x and 3x with it (TruncatedBackpropTrainsFewerDepths).
  EXPECT_GT(cost.flops_train_per_token, cost.flops_forward_per_token);
  EXPECT_LE(cost.flops_train_per_token, 3.0 * cost.flops_forward_per_token * (1 + 1e-12));
  EXPECT_LE(cost.active_params, cost.params.total);
}

INSTANTIATE_TEST_SUITE_P(Zoo, CostModel, ::testing::ValuesIn(tiny_model_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(CostModel, TruncatedBackpropTrainsFewerDepths) {
  auto config = zoo::model_config_from_json({{"family", "dreamer"},
                                             {"preset", "DR+DA+EA"},
                                             {"recurrence", {{"mean", 8}, {"backprop_depth", 2}}}});
  auto full = zoo::model_config_from_json(
      {{"family", "dreamer"}, {"preset", "DR+DA+EA"}, {"recurrence", {{"mean", 8}}}});
  models::Workload w;
  w.recurrences = 8;
  auto truncated = zoo::family("dreamer").cost(config, w);
  auto all = zoo::family("dreamer").cost(full, w);
  EXPECT_DOUBLE_EQ(truncated.flops_forward_per_token, all.flops_forward_per_token);
  EXPECT_LT(truncated.flops_train_per_token, 0.6 * all.flops_train_per_token);
  EXPECT_LT(truncated.memory_activation_bytes, all.memory_activation_bytes);
  // Checkpointing cannot be honoured with depth attention: refused, not ignored.
  w.activation_checkpointing = true;
  EXPECT_THROW(zoo::family("dreamer").cost(full, w), std::invalid_argument);
}

}  // namespace
}  // namespace dreamer::testing
