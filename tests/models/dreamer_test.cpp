// Dreamer-specific behaviour: depth causality, the transformer reduction, overfitting, the
// recurrence schedule, and strict config validation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "models/blocks/attention_core.h"
#include "models/blocks/depth_attention.h"
#include "models/dreamer.h"
#include "models/registry.h"
#include "tests/test_util.h"
#include "util/errors.h"

namespace dreamer::testing {
namespace {

using models::ModelConfig;
using json = nlohmann::json;

json tiny(const std::string& preset, json overrides = json::object()) {
  json j = {{"family", "dreamer"},        {"preset", preset},
            {"vocab_size", 64},          {"d_model", 32},
            {"n_heads", 4},              {"depth_attention", {{"n_heads", 2}, {"head_dim", 8}, {"zero_init_output", false}}},
            {"expert_attention", {{"n_experts", 8}, {"k", 2}, {"expert_dim", 16}}},
            {"recurrence", {{"mean", 4}, {"max", 8}}}};
  j.merge_patch(overrides);
  return j;
}

// ---------------------------------------------------------------- depth causality

class DepthAttentionScope : public ::testing::TestWithParam<models::DepthScope> {};

TEST_P(DepthAttentionScope, ReadAtLevelRIgnoresDeeperLevels) {
  torch::manual_seed(0);
  models::DepthAttentionOptions o;
  o.d_model = 16;
  o.n_heads = 2;
  o.head_dim = 8;
  o.scope = GetParam();
  models::DepthAttention da(o);
  torch::NoGradGuard no_grad;
  models::DepthMemory memory;
  std::vector<torch::Tensor> states;
  for (int64_t level = 0; level <= 4; ++level) {
    states.push_back(torch::randn({2, 5, 16}));
    da->write(memory, states.back(), states.back(), level, 4, nullptr);
  }
  auto query = torch::randn({2, 5, 16});
  auto reference = da->read(memory, query, 2, 4);

  models::DepthMemory deeper_changed;
  for (int64_t level = 0; level <= 4; ++level) {
    auto s = level > 2 ? torch::randn({2, 5, 16}) * 10 : states[level];
    da->write(deeper_changed, s, s, level, 4, nullptr);
  }
  EXPECT_TENSOR_NEAR(da->read(deeper_changed, query, 2, 4), reference, 1e-6);

  models::DepthMemory shallower_changed;  // teeth: levels <= r do matter
  for (int64_t level = 0; level <= 4; ++level) {
    auto s = level == 1 ? torch::randn({2, 5, 16}) * 10 : states[level];
    da->write(shallower_changed, s, s, level, 4, nullptr);
  }
  EXPECT_GT(max_abs_diff(da->read(shallower_changed, query, 2, 4), reference), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Scopes, DepthAttentionScope,
                         ::testing::Values(models::DepthScope::kSameToken,
                                           models::DepthScope::kAllTokensCausal));

TEST(DreamerDepth, StatesAtDepthRDoNotDependOnLaterDepths) {
  // With forward-only depth encodings nothing at depth r can see how many depths follow, so
  // the first two depths of a 4-depth run equal a 2-depth run.
  torch::manual_seed(0);
  auto model = models::build_model(ModelConfig::from_json(
      tiny("DR+DA+EA", {{"depth_attention", {{"rope", "forward"}}},
                        {"expert_attention", {{"depth_encoding", "learned_offset"}}}})));
  model->eval();
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, 64, {2, 7});
  models::ForwardOptions four, two;
  four.recurrences = 4;
  two.recurrences = 2;
  four.record_states = two.record_states = true;
  auto deep = model->forward(tokens, nullptr, four);
  auto shallow = model->forward(tokens, nullptr, two);
  ASSERT_EQ(deep.states.size(), 4u);
  ASSERT_EQ(shallow.states.size(), 2u);
  EXPECT_TENSOR_NEAR(deep.states[0], shallow.states[0], 1e-6);
  EXPECT_TENSOR_NEAR(deep.states[1], shallow.states[1], 1e-6);
  EXPECT_GT(max_abs_diff(deep.states[2], deep.states[1]), 1e-4);
}

TEST(DreamerDepth, ReverseDepthRopeTiesEachDepthToTheTotal) {
  // Documented property of the forward+reverse encoding: depth r knows its distance to R.
  torch::manual_seed(0);
  auto model = models::build_model(ModelConfig::from_json(
      tiny("DR+DA", {{"depth_attention", {{"rope", "forward_reverse"}}}})));
  model->eval();
  torch::NoGradGuard no_grad;
  // At init the scores are near zero and the softmax near uniform whatever the rotation;
  // sharpen them so that the encoding visibly matters.
  auto* dreamer = dynamic_cast<models::DreamerModel*>(model.get());
  dreamer->layer->depth_attention->q->weight.mul_(30.0);
  dreamer->layer->depth_attention->k->weight.mul_(30.0);
  auto tokens = torch::randint(0, 64, {1, 5});
  models::ForwardOptions four, two;
  four.recurrences = 4;
  two.recurrences = 2;
  four.record_states = two.record_states = true;
  EXPECT_GT(max_abs_diff(model->forward(tokens, nullptr, four).states[0],
                         model->forward(tokens, nullptr, two).states[0]),
            1e-6);  // the forward-only encoding gives exactly equal states (test above)
}

// ---------------------------------------------------------------- reduction

// Pre-norm transformer block computed by hand in float64 from the model's own weights.
torch::Tensor rms(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x / torch::sqrt(x.pow(2).mean(-1, true) + eps) * w;
}

torch::Tensor rope_by_hand(const torch::Tensor& x /* [T, H, Dh] */, double base) {
  auto out = x.clone();
  const int64_t t_len = x.size(0), h_len = x.size(1), dh = x.size(2), half = dh / 2;
  auto a = x.accessor<double, 3>();
  auto o = out.accessor<double, 3>();
  for (int64_t t = 0; t < t_len; ++t)
    for (int64_t h = 0; h < h_len; ++h)
      for (int64_t i = 0; i < half; ++i) {
        const double theta = t * std::pow(base, -2.0 * i / dh);
        o[t][h][i] = a[t][h][i] * std::cos(theta) - a[t][h][i + half] * std::sin(theta);
        o[t][h][i + half] = a[t][h][i + half] * std::cos(theta) + a[t][h][i] * std::sin(theta);
      }
  return out;
}

TEST(DreamerReduction, OneRecurrenceWithoutDAandEAIsAPreNormTransformerBlock) {
  torch::manual_seed(3);
  auto config = ModelConfig::from_json(tiny("DR", {{"recurrence", {{"mean", 1}}}}));
  auto model = models::build_model(config);
  model->eval();
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> w;
  for (const auto& p : model->named_parameters()) w[p.key()] = p.value().to(torch::kFloat64);
  const double eps = 1e-5;
  const int64_t T = 6, H = 4, Dh = 8;
  auto tokens = torch::randint(0, 64, {1, T});

  auto x = w["embedding.weight"].index_select(0, tokens[0]);  // [T, d]
  auto a = rms(x, w["layer.norm_sa.weight"], eps);
  auto q = rope_by_hand(torch::matmul(a, w["layer.attention.q.weight"].t()).view({T, H, Dh}), 10000.0);
  auto k = rope_by_hand(torch::matmul(a, w["layer.attention.k.weight"].t()).view({T, H, Dh}), 10000.0);
  auto v = torch::matmul(a, w["layer.attention.v.weight"].t()).view({T, H, Dh});
  auto heads = torch::zeros({T, H, Dh}, torch::kFloat64);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < T; ++i) {
      auto scores = torch::matmul(k.select(1, h).narrow(0, 0, i + 1), q[i][h]) / std::sqrt(double(Dh));
      heads[i][h] = torch::matmul(torch::softmax(scores, 0), v.select(1, h).narrow(0, 0, i + 1));
    }
  auto h1 = x + torch::matmul(heads.reshape({T, H * Dh}), w["layer.attention.o.weight"].t());
  auto f = rms(h1, w["layer.norm_ffn.weight"], eps);
  auto ffn = torch::matmul(torch::silu(torch::matmul(f, w["layer.ffn.gate.weight"].t())) *
                               torch::matmul(f, w["layer.ffn.up.weight"].t()),
                           w["layer.ffn.down.weight"].t());
  auto h2 = h1 + ffn;
  auto expected = torch::matmul(rms(h2, w["norm_out.weight"], eps), w["lm_head.weight"].t());

  auto out = model->forward(tokens);
  EXPECT_EQ(out.recurrences, 1);
  EXPECT_TENSOR_NEAR(out.logits[0], expected, 1e-4);
}

// ---------------------------------------------------------------- training

TEST(DreamerTraining, TinyDreamerOverfitsOneBatch) {
  torch::manual_seed(0);
  auto model = models::build_model(ModelConfig::from_json(tiny("DR+DA+EA", {{"recurrence", {{"mean", 3}}}})));
  model->train();
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2));
  auto tokens = torch::randint(0, 64, {4, 17});
  auto input = tokens.narrow(1, 0, 16), target = tokens.narrow(1, 1, 16);
  double first = 0, last = 0;
  for (int step = 0; step < 80; ++step) {
    auto out = model->forward(input);
    auto loss = torch::cross_entropy_loss(out.logits.reshape({-1, 64}), target.reshape(-1));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    model->after_optimizer_step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  // Random tokens start near ln(64) = 4.16; memorising 64 of them must drive the loss
  // down by at least a factor of 10.
  EXPECT_NEAR(first, std::log(64.0), 0.5);
  EXPECT_LT(last, first / 10.0) << "loss " << first << " -> " << last;
}

TEST(DreamerRecurrence, PoissonLognormalScheduleMatchesHuginn) {
  torch::manual_seed(0);
  models::RecurrenceSchedule s;
  s.sampling = models::RecurrenceSampling::kPoissonLognormal;
  s.mean = 8;
  s.backprop_depth = 3;
  s.max = 64;
  double sum = 0;
  const int n = 4000;
  bool saw_short = false, saw_long = false;
  for (int i = 0; i < n; ++i) {
    auto plan = models::sample_recurrences(s, /*training=*/true);
    EXPECT_EQ(plan.grad_steps, std::min<int64_t>(3, plan.total()));
    EXPECT_GE(plan.total(), 1);
    saw_short |= plan.total() <= 3;
    saw_long |= plan.total() >= 14;
    sum += plan.total();
  }
  // Huginn's sampler: E[Poisson(LogNormal(log m - s^2/2, s))] = m, plus the +1 shift.
  EXPECT_NEAR(sum / n, 9.0, 0.3);
  EXPECT_TRUE(saw_short && saw_long);
  auto eval = models::sample_recurrences(s, /*training=*/false);
  EXPECT_EQ(eval.total(), 8);
  EXPECT_EQ(eval.no_grad_steps, 0);
}

TEST(DreamerRecurrence, SampledTrainingStepsVaryAndEvaluationUsesTheMean) {
  torch::manual_seed(0);
  auto model = models::build_model(ModelConfig::from_json(
      tiny("DR+DA+EA", {{"recurrence", {{"sampling", "poisson_lognormal"}, {"mean", 3}, {"backprop_depth", 2}}}})));
  model->train();
  std::set<int64_t> seen;
  auto tokens = torch::randint(0, 64, {1, 6});
  for (int i = 0; i < 20; ++i) seen.insert(model->forward(tokens).recurrences);
  EXPECT_GT(seen.size(), 2u);
  model->eval();
  EXPECT_EQ(model->forward(tokens).recurrences, 3);
}

// ---------------------------------------------------------------- validation

void expect_invalid(const json& config, const std::string& where, const std::string& what) {
  try {
    ModelConfig::from_json(config);
    FAIL() << "accepted " << config.dump();
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), where) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(DreamerConfigValidation, InvalidConfigsNameTheField) {
  expect_invalid(tiny("DR", {{"n_heads", 0}}), "$.n_heads", "must be positive");
  expect_invalid(tiny("DR+EA", {{"expert_attention", {{"k", 9}}}}), "$.expert_attention.k",
                 "between 1 and n_experts (8), got 9");
  expect_invalid(tiny("DR", {{"d_model", 30}}), "$.n_heads", "head dim does not divide the width");
  expect_invalid(tiny("DR", {{"colour", "blue"}}), "$.colour", "unknown key");
  expect_invalid(tiny("DR+DA", {{"depth_attention", {{"heads", 2}}}}), "$.depth_attention.heads",
                 "unknown key");
  expect_invalid(tiny("DR", {{"d_model", "wide"}}), "$.d_model", "expected an integer");
  expect_invalid(tiny("DR+DA", {{"depth_attention", {{"scope", "everything"}}}}),
                 "$.depth_attention.scope", "expected one of {same_token, all_tokens_causal}");
  expect_invalid(tiny("DR+DA", {{"mix_mode", "joint_sa_da"}, {"depth_attention", {{"scope", "all_tokens_causal"}}}}),
                 "$.depth_attention.scope", "same_token");
  expect_invalid({{"family", "dreamer"}, {"preset", "DR+XX"}}, "$.preset", "unknown preset");
  expect_invalid({{"family", "gpt5"}}, "$.family", "unknown model family");
  expect_invalid(tiny("DR", {{"recurrence", {{"mean", 0}}}}), "$.recurrence.mean", "at least 1");
}

TEST(DreamerConfigValidation, DisabledComponentsAddNoParameters) {
  auto counts = [](const std::string& preset) {
    return models::count_parameters(*models::build_model(ModelConfig::from_json(tiny(preset))));
  };
  auto dr = models::build_model(ModelConfig::from_json(tiny("DR")));
  for (const auto& p : dr->named_parameters()) {
    EXPECT_EQ(p.key().find("depth_attention"), std::string::npos) << p.key();
    EXPECT_EQ(p.key().find("experts"), std::string::npos) << p.key();
  }
  // Depth attention only ever adds parameters (EA replaces the dense FFN, so it may not).
  EXPECT_LT(counts("DR").total, counts("DR+DA").total);
  EXPECT_LT(counts("DR+EA").total, counts("DR+DA+EA").total);
}

// ---------------------------------------------------------------- attention backends

TEST(AttentionBackends, FusedAttentionEqualsReference) {
  if (!models::fused_attention_available()) GTEST_SKIP() << "LibTorch < 2.0: only the reference path exists";
  torch::manual_seed(0);
  auto q = torch::randn({2, 4, 5, 8}), k = torch::randn({2, 2, 9, 8}), v = torch::randn({2, 2, 9, 8});
  EXPECT_TENSOR_NEAR(models::causal_attention(q, k, v), models::causal_attention_reference(q, k, v), 1e-5);
  auto k1 = k.narrow(2, 0, 5), v1 = v.narrow(2, 0, 5);
  EXPECT_TENSOR_NEAR(models::causal_attention(q, k1, v1), models::causal_attention_reference(q, k1, v1), 1e-5);
}

TEST(AttentionBackends, ReferenceIsCausalSoftmaxAttention) {
  torch::manual_seed(0);
  auto q = torch::randn({1, 2, 3, 4}, torch::kFloat64), k = torch::randn({1, 1, 5, 4}, torch::kFloat64),
       v = torch::randn({1, 1, 5, 4}, torch::kFloat64);
  auto out = models::causal_attention_reference(q, k, v);
  // Query i sits at position 2 + i of 5 and sees keys 0..2+i (grouped: both heads share kv).
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 3; ++i) {
      auto keys = k[0][0].narrow(0, 0, 3 + i), values = v[0][0].narrow(0, 0, 3 + i);
      auto w = torch::softmax(torch::matmul(keys, q[0][h][i]) / 2.0, 0);
      EXPECT_TENSOR_NEAR(out[0][h][i], torch::matmul(w, values), 1e-12);
    }
}

}  // namespace
}  // namespace dreamer::testing
