// Invariants every family must satisfy, parameterised over the registry's tiny configs:
// sequence causality, cached decoding == full forward, gradients reach every parameter,
// config JSON round trip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/models/tiny_configs.h"
#include "tests/test_util.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using models::InferenceState;
using models::ModelConfig;

class ModelInvariants : public ::testing::TestWithParam<TinyCase> {
 protected:
  void SetUp() override {
    torch::manual_seed(1);
    config_ = zoo::model_config_from_json(GetParam().config);
    model_ = zoo::build_model(config_);
    model_->eval();
    vocab_ = config_.params.value("vocab_size", int64_t{64});
  }
  ModelConfig config_;
  models::LanguageModelPtr model_;
  int64_t vocab_ = 64;
};

TEST_P(ModelInvariants, FutureTokensNeverChangePastLogits) {
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, vocab_, {2, 12});
  auto logits = model_->forward(tokens).logits;
  for (int64_t t : {0, 4, 10}) {
    auto changed = tokens.clone();
    changed.narrow(1, t + 1, 12 - t - 1).random_(0, vocab_);
    auto logits2 = model_->forward(changed).logits;
    EXPECT_TENSOR_NEAR(logits.narrow(1, 0, t + 1), logits2.narrow(1, 0, t + 1), 1e-5);
    // The test has teeth: the future tokens do change the later logits.
    EXPECT_GT(max_abs_diff(logits.narrow(1, t + 1, 1), logits2.narrow(1, t + 1, 1)), 1e-4);
  }
}

TEST_P(ModelInvariants, CachedDecodingEqualsFullForward) {
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, vocab_, {2, 10});
  auto full = model_->forward(tokens).logits;
  // Prefill 4 tokens, then a chunk of 3, then one token at a time.
  InferenceState state;
  std::vector<torch::Tensor> pieces;
  pieces.push_back(model_->forward(tokens.narrow(1, 0, 4), &state).logits);
  pieces.push_back(model_->forward(tokens.narrow(1, 4, 3), &state).logits);
  for (int64_t t = 7; t < 10; ++t)
    pieces.push_back(model_->forward(tokens.narrow(1, t, 1), &state).logits);
  EXPECT_EQ(state.position, 10);
  EXPECT_TENSOR_NEAR(torch::cat(pieces, 1), full, 1e-4);
}

// Greedy decoding through a static cache (allocated once for prompt + new tokens, written by
// index) picks the same tokens, from the same logits, as re-running the whole sequence.
TEST_P(ModelInvariants, StaticCacheGreedyDecodeEqualsFullForwardTokenByToken) {
  torch::NoGradGuard no_grad;
  const int64_t prompt = 5, steps = 6;
  auto sequence = torch::randint(0, vocab_, {2, prompt});
  InferenceState state;
  state.capacity = prompt + steps;
  auto logits = model_->forward(sequence, &state).logits.select(1, -1);  // [2, V]
  std::vector<const models::KVCache*> caches;
  for (const auto* list : {&state.sequence, &state.depth})
    for (const auto& c : *list)
      if (c.k.defined()) caches.push_back(&c);
  ASSERT_FALSE(caches.empty()) << "the family keeps no cache while decoding";
  std::vector<const void*> buffers;
  for (const auto* c : caches) {
    EXPECT_EQ(c->k.size(2), prompt + steps) << "allocated for the capacity at the first write";
    buffers.push_back(c->k.data_ptr());
  }
  for (int64_t s = 0; s < steps; ++s) {
    const auto full = model_->forward(sequence).logits.select(1, -1);
    EXPECT_TENSOR_NEAR(logits, full, 1e-4);
    const auto next = logits.argmax(-1, /*keepdim=*/true);  // [2, 1]
    EXPECT_TRUE(next.equal(full.argmax(-1, true))) << "step " << s;
    sequence = torch::cat({sequence, next}, 1);
    logits = model_->forward(next, &state).logits.select(1, -1);
  }
  EXPECT_EQ(state.position, prompt + steps);
  for (size_t i = 0; i < caches.size(); ++i) {
    EXPECT_EQ(caches[i]->length(), prompt + steps);
    EXPECT_EQ(caches[i]->k.data_ptr(), buffers[i]) << "the cache was reallocated";
  }
}

TEST(KVCache, WritesByIndexAndGrowsOnlyPastItsAllocation) {
  models::KVCache cache;
  cache.capacity = 4;
  auto entry = [](int64_t t, double value) { return torch::full({1, 2, t, 3}, value); };
  auto [k, v] = cache.append(entry(3, 1.0), entry(3, -1.0));
  EXPECT_EQ(k.size(2), 3);
  EXPECT_EQ(cache.k.size(2), 4);
  const void* buffer = cache.k.data_ptr();
  std::tie(k, v) = cache.append(entry(1, 2.0), entry(1, -2.0));
  EXPECT_EQ(cache.k.data_ptr(), buffer);
  EXPECT_TRUE(k.select(2, 3).eq(2.0).all().item<bool>());
  EXPECT_TRUE(v.narrow(2, 0, 3).eq(-1.0).all().item<bool>());
  // Past the allocation: twice the size, earlier entries kept.
  std::tie(k, v) = cache.append(entry(1, 3.0), entry(1, -3.0));
  EXPECT_EQ(cache.k.size(2), 8);
  EXPECT_EQ(cache.length(), 5);
  EXPECT_TRUE(k.narrow(2, 0, 3).eq(1.0).all().item<bool>());
  EXPECT_TRUE(k.select(2, 3).eq(2.0).all().item<bool>());
  EXPECT_TRUE(v.select(2, 4).eq(-3.0).all().item<bool>());
}

TEST_P(ModelInvariants, GradientsReachEveryParameter) {
  model_->train();
  torch::optim::AdamW optimizer(model_->parameters(), torch::optim::AdamWOptions(1e-2));
  auto tokens = torch::randint(0, vocab_, {4, 9});
  auto step = [&] {
    auto out = model_->forward(tokens.narrow(1, 0, 8));
    auto loss = torch::cross_entropy_loss(out.logits.reshape({-1, out.logits.size(-1)}),
                                          tokens.narrow(1, 1, 8).reshape(-1)) +
                out.aux_loss;
    optimizer.zero_grad();
    loss.backward();
  };
  // One step first, so that zero-initialised projections no longer block gradients.
  step();
  optimizer.step();
  model_->after_optimizer_step();
  step();
  for (const auto& item : model_->named_parameters()) {
    const auto& grad = item.value().grad();
    ASSERT_TRUE(grad.defined()) << item.key() << " received no gradient";
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << item.key() << " has an all-zero gradient";
  }
}

TEST_P(ModelInvariants, ConfigJsonRoundTripRebuildsTheSameModel) {
  auto again = zoo::model_config_from_json(config_.to_json());
  EXPECT_EQ(again.to_json(), config_.to_json());
  EXPECT_EQ(models::count_parameters(*zoo::build_model(again)).total,
            models::count_parameters(*model_).total);
}

TEST_P(ModelInvariants, AnalyticParameterCountEqualsTheModule) {
  const auto analytic = zoo::analytic_parameter_counts(config_);
  const auto counted = models::count_parameters(*model_);
  EXPECT_EQ(analytic.total, counted.total);
  EXPECT_EQ(analytic.embedding, counted.embedding);
  EXPECT_EQ(analytic.non_embedding, counted.non_embedding);
}

INSTANTIATE_TEST_SUITE_P(Zoo, ModelInvariants, ::testing::ValuesIn(tiny_model_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace dreamer::testing
