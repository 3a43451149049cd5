// The trainer's loss (hidden state + chunked LM-head cross-entropy, train/loss.h) against the
// full-logits path, for every family in the zoo: the same loss and the same gradient on every
// parameter, with chunks small enough that the last one is partial.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "tests/models/tiny_configs.h"
#include "tests/test_util.h"
#include "train/trainer.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

class ChunkedTrainingLoss : public ::testing::TestWithParam<TinyCase> {};

TEST_P(ChunkedTrainingLoss, LossAndGradientsEqualTheFullLogitsPath) {
  torch::manual_seed(1);
  const auto config = zoo::model_config_from_json(GetParam().config);
  auto model = zoo::build_model(config);
  model->train();
  const int64_t vocab = config.params.value("vocab_size", int64_t{64});
  const auto tokens = torch::randint(0, vocab, {2, 9});

  // Reference: full [B, T, V] logits and the library's cross-entropy. The seed repeats the
  // sampled recurrences in both passes.
  torch::manual_seed(7);
  auto out = model->forward(tokens.narrow(1, 0, 8));
  ASSERT_TRUE(out.logits.defined());
  auto ce = torch::cross_entropy_loss(out.logits.reshape({-1, vocab}),
                                      tokens.narrow(1, 1, 8).reshape(-1));
  (ce + out.aux_loss).backward();
  std::map<std::string, torch::Tensor> reference;
  for (const auto& item : model->named_parameters())
    if (item.value().grad().defined()) reference[item.key()] = item.value().grad().clone();
  model->zero_grad();

  torch::manual_seed(7);
  const auto loss = train::training_loss(*model, tokens, /*bf16=*/false, /*chunk_rows=*/5);
  (loss.cross_entropy + loss.aux).backward();
  EXPECT_NEAR(loss.cross_entropy.item<double>(), ce.item<double>(), 1e-5);
  EXPECT_NEAR(loss.aux.item<double>(), out.aux_loss.item<double>(), 1e-6);
  for (const auto& item : model->named_parameters()) {
    const auto& grad = item.value().grad();
    auto it = reference.find(item.key());
    ASSERT_EQ(grad.defined(), it != reference.end()) << item.key();
    if (!grad.defined()) continue;
    EXPECT_TENSOR_NEAR(grad, it->second, 1e-5);
  }
  // The head's gradient is not trivially zero, so the comparison above has teeth.
  EXPECT_GT(model->head().weight.grad().abs().sum().item<double>(), 0.0);
}

TEST_P(ChunkedTrainingLoss, HiddenOnlyForwardFeedsTheHeadToTheSameLogits) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  const auto config = zoo::model_config_from_json(GetParam().config);
  auto model = zoo::build_model(config);
  model->eval();
  const auto tokens = torch::randint(0, config.params.value("vocab_size", int64_t{64}), {2, 6});
  const auto full = model->forward(tokens);
  models::ForwardOptions options;
  options.hidden_only = true;
  const auto hidden = model->forward(tokens, nullptr, options);
  EXPECT_FALSE(hidden.logits.defined());
  const auto head = model->head();
  EXPECT_TENSOR_NEAR(torch::linear(hidden.hidden, head.weight, head.bias), full.logits, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Zoo, ChunkedTrainingLoss, ::testing::ValuesIn(tiny_model_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace dreamer::testing
