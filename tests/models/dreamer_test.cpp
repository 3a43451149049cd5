// Dreamer-specific behaviour: depth causality, the transformer reduction, overfitting, the
// recurrence schedule, and strict config validation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "models/blocks/attention_core.h"
#include "models/blocks/depth_attention.h"
#include "models/dreamer.h"
#include "tests/test_util.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using models::ModelConfig;
using json = nlohmann::json;

json tiny(const std::string& preset, json overrides = json::object()) {
  json j = {{"family", "dreamer"},
            {"preset", preset},
            {"vocab_size", 64},
            {"d_model", 32},
            {"n_heads", 4},
            {"depth_attention", {{"n_heads", 2}, {"head_dim", 8}, {"zero_init_output", false}}},
            {"ffn_experts", {{"n_experts", 8}, {"k", 2}, {"expert_dim", 16}}},
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

// Every way of mixing the attentions of one depth step (the default is parallel with EA as a
// branch).
const std::vector<std::pair<std::string, json>>& mix_variants() {
  static const std::vector<std::pair<std::string, json>> kVariants = {
      {"parallel_branch", json::object()},
      {"parallel_after", {{"parallel_expert", "after"}}},
      {"separate", {{"mix_mode", "separate"}}},
      {"joint_sa_da", {{"mix_mode", "joint_sa_da"}}},
  };
  return kVariants;
}

class DreamerDepth : public ::testing::TestWithParam<std::pair<std::string, json>> {};

TEST_P(DreamerDepth, StatesAtDepthRDoNotDependOnLaterDepths) {
  // With forward-only depth encodings nothing at depth r can see how many depths follow, so
  // the first two depths of a 4-depth run equal a 2-depth run.
  torch::manual_seed(0);
  json overrides = {{"depth_attention", {{"rope", "forward"}}},
                    {"ffn_experts", {{"depth_encoding", "learned_offset"}}}};
  overrides.merge_patch(GetParam().second);
  auto model = zoo::build_model(zoo::model_config_from_json(tiny("DR+DA+EA", overrides)));
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

INSTANTIATE_TEST_SUITE_P(MixModes, DreamerDepth, ::testing::ValuesIn(mix_variants()),
                         [](const auto& info) { return info.param.first; });

TEST(DreamerDepthRope, ReverseDepthRopeTiesEachDepthToTheTotal) {
  // Documented property of the forward+reverse encoding: depth r knows its distance to R.
  torch::manual_seed(0);
  auto model = zoo::build_model(zoo::model_config_from_json(
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
  // Depth 2, not 1: in parallel mode depth 1's level is norm(e), the same state as level 0,
  // so DA there returns that state's value whatever the weights (see docs/DESIGN.md, Mixing).
  EXPECT_GT(max_abs_diff(model->forward(tokens, nullptr, four).states[1],
                         model->forward(tokens, nullptr, two).states[1]),
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

using Weights = std::map<std::string, torch::Tensor>;

// Every parameter in float64; norm weights drawn away from 1 so that a wrong norm shows.
Weights weights_of(models::LanguageModel& model) {
  Weights w;
  for (const auto& p : model.named_parameters()) {
    if (p.key().find("norm") != std::string::npos) p.value().uniform_(0.5, 1.5);
    w[p.key()] = p.value().to(torch::kFloat64);
  }
  return w;
}

// Causal multi-head attention with RoPE of the tiny config (4 heads of 8, no GQA) on a [T, d].
torch::Tensor attention_by_hand(const torch::Tensor& a, Weights& w) {
  const int64_t T = a.size(0), H = 4, Dh = 8;
  auto q =
      rope_by_hand(torch::matmul(a, w["layer.attention.q.weight"].t()).view({T, H, Dh}), 10000.0);
  auto k =
      rope_by_hand(torch::matmul(a, w["layer.attention.k.weight"].t()).view({T, H, Dh}), 10000.0);
  auto v = torch::matmul(a, w["layer.attention.v.weight"].t()).view({T, H, Dh});
  auto heads = torch::zeros({T, H, Dh}, torch::kFloat64);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < T; ++i) {
      auto scores =
          torch::matmul(k.select(1, h).narrow(0, 0, i + 1), q[i][h]) / std::sqrt(double(Dh));
      heads[i][h] = torch::matmul(torch::softmax(scores, 0), v.select(1, h).narrow(0, 0, i + 1));
    }
  return torch::matmul(heads.reshape({T, H * Dh}), w["layer.attention.o.weight"].t());
}

torch::Tensor swiglu_by_hand(const torch::Tensor& f, Weights& w) {
  return torch::matmul(torch::silu(torch::matmul(f, w["layer.ffn.gate.weight"].t())) *
                           torch::matmul(f, w["layer.ffn.up.weight"].t()),
                       w["layer.ffn.down.weight"].t());
}

TEST(DreamerReduction, OneRecurrenceWithoutDAandEAIsAPreNormTransformerBlock) {
  torch::manual_seed(3);
  auto model = zoo::build_model(zoo::model_config_from_json(
      tiny("DR", {{"mix_mode", "separate"}, {"recurrence", {{"mean", 1}}}})));
  model->eval();
  torch::NoGradGuard no_grad;
  Weights w = weights_of(*model);
  const double eps = 1e-5;
  auto tokens = torch::randint(0, 64, {1, 6});

  auto x = w["embedding.weight"].index_select(0, tokens[0]);  // [T, d]
  auto h1 = x + attention_by_hand(rms(x, w["layer.norm_sa.weight"], eps), w);
  auto h2 = h1 + swiglu_by_hand(rms(h1, w["layer.norm_ffn.weight"], eps), w);
  auto expected = torch::matmul(rms(h2, w["norm_out.weight"], eps), w["lm_head.weight"].t());

  auto out = model->forward(tokens);
  EXPECT_EQ(out.recurrences, 1);
  EXPECT_TENSOR_NEAR(out.logits[0], expected, 1e-4);
}

TEST(DreamerReduction, OneParallelRecurrenceWithoutDAandEAIsAParallelBlock) {
  // GPT-J / PaLM: h + Attention(norm(h)) + FFN(norm(h)), one norm for both branches.
  torch::manual_seed(4);
  auto model =
      zoo::build_model(zoo::model_config_from_json(tiny("DR", {{"recurrence", {{"mean", 1}}}})));
  model->eval();
  torch::NoGradGuard no_grad;
  Weights w = weights_of(*model);
  EXPECT_EQ(w.count("layer.norm_sa.weight") + w.count("layer.norm_ffn.weight"), 0u);
  const double eps = 1e-5;
  auto tokens = torch::randint(0, 64, {1, 6});

  auto x = w["embedding.weight"].index_select(0, tokens[0]);
  auto n = rms(x, w["layer.norm_mix.weight"], eps);
  auto h1 = x + attention_by_hand(n, w) + swiglu_by_hand(n, w);
  auto expected = torch::matmul(rms(h1, w["norm_out.weight"], eps), w["lm_head.weight"].t());

  auto out = model->forward(tokens);
  EXPECT_TENSOR_NEAR(out.logits[0], expected, 1e-4);
}

// The parallel step assembled from the layer's own blocks (each tested on its own): SA and DA
// read one normalised state; EA reads it too (branch) or follows with its own norm (after).
class DreamerParallelWiring : public ::testing::TestWithParam<std::string> {};

TEST_P(DreamerParallelWiring, BranchesReadOneNormalisedStateAndAreSummed) {
  torch::manual_seed(5);
  auto model = zoo::build_model(zoo::model_config_from_json(
      tiny("DR+DA+EA", {{"parallel_expert", GetParam()}, {"recurrence", {{"mean", 1}}}})));
  model->eval();
  torch::NoGradGuard no_grad;
  auto* dreamer = dynamic_cast<models::DreamerModel*>(model.get());
  auto& layer = dreamer->layer;
  for (auto& p : model->named_parameters())
    if (p.key().find("norm") != std::string::npos) p.value().uniform_(0.5, 1.5);
  EXPECT_FALSE(layer->norm_sa || layer->norm_da);
  EXPECT_EQ(static_cast<bool>(layer->norm_ffn), GetParam() == "after");
  auto tokens = torch::randint(0, 64, {2, 5});

  auto x = dreamer->ends.embedding(tokens);
  auto n = layer->norm_mix(x);
  models::DepthMemory memory;
  layer->depth_attention->write(memory, n, n, 0, 1, nullptr);  // level 0: the embedding
  layer->depth_attention->write(memory, n, n, 1, 1, nullptr);  // level 1: depth 1's state
  auto attended =
      x + layer->attention(n, n, 0, nullptr) + layer->depth_attention->read(memory, n, 1, 1);
  auto expert = [&](const torch::Tensor& in) {
    auto flat = in.reshape({-1, in.size(-1)});
    auto routed = layer->router(flat, 1, 1);
    return layer->experts(flat, routed.ids, routed.gates).view_as(in);
  };
  auto h1 =
      GetParam() == "branch" ? attended + expert(n) : attended + expert(layer->norm_ffn(attended));
  auto expected = dreamer->ends.lm_head(dreamer->ends.norm_out(h1));
  EXPECT_TENSOR_NEAR(model->forward(tokens).logits, expected, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(ExpertPlacement, DreamerParallelWiring,
                         ::testing::Values("branch", "after"));

// ---------------------------------------------------------------- training

TEST(DreamerTraining, TinyDreamerOverfitsOneBatch) {
  torch::manual_seed(0);
  auto model = zoo::build_model(
      zoo::model_config_from_json(tiny("DR+DA+EA", {{"recurrence", {{"mean", 3}}}})));
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
  auto model = zoo::build_model(zoo::model_config_from_json(tiny(
      "DR+DA+EA",
      {{"recurrence", {{"sampling", "poisson_lognormal"}, {"mean", 3}, {"backprop_depth", 2}}}})));
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
    zoo::model_config_from_json(config);
    FAIL() << "accepted " << config.dump();
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), where) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(DreamerConfigValidation, InvalidConfigsNameTheField) {
  expect_invalid(tiny("DR", {{"n_heads", 0}}), "$.n_heads", "must be positive");
  expect_invalid(tiny("DR+EA", {{"ffn_experts", {{"k", 9}}}}), "$.ffn_experts.k",
                 "between 1 and n_experts (8), got 9");
  expect_invalid(tiny("DR", {{"d_model", 30}}), "$.n_heads", "head dim does not divide the width");
  expect_invalid(tiny("DR", {{"colour", "blue"}}), "$.colour", "unknown key");
  expect_invalid(tiny("DR+DA", {{"depth_attention", {{"heads", 2}}}}), "$.depth_attention.heads",
                 "unknown key");
  expect_invalid(tiny("DR", {{"d_model", "wide"}}), "$.d_model", "expected an integer");
  expect_invalid(tiny("DR+DA", {{"depth_attention", {{"scope", "everything"}}}}),
                 "$.depth_attention.scope", "expected one of {same_token, all_tokens_causal}");
  expect_invalid(tiny("DR+DA", {{"mix_mode", "joint_sa_da"},
                                {"depth_attention", {{"scope", "all_tokens_causal"}}}}),
                 "$.depth_attention.scope", "same_token");
  expect_invalid({{"family", "dreamer"}, {"preset", "DR+XX"}}, "$.preset", "unknown preset");
  expect_invalid({{"family", "gpt5"}}, "$.family", "unknown model family");
  expect_invalid(tiny("DR", {{"recurrence", {{"mean", 0}}}}), "$.recurrence.mean", "at least 1");
  expect_invalid(tiny("DR", {{"mix_mode", "mixed"}}), "$.mix_mode",
                 "expected one of {parallel, separate, joint_sa_da}");
  expect_invalid(tiny("DR+EA", {{"mix_mode", "separate"}, {"parallel_expert", "after"}}),
                 "$.parallel_expert", "only applies to mix_mode = parallel");
  expect_invalid(tiny("DR", {{"input_injection", "concat"}}), "$.input_injection",
                 "expected one of {none, add}");
}

// ---------------------------------------------------------------- the embedding reaches the loss

// With truncated backprop (3 steps, gradients through the last one) a Dreamer either trains
// its embedding through the input path or refuses the config. Which configs are refused is
// written out by hand: those whose only path from the embedding is depth 1's input.
TEST(DreamerEmbeddingGradient, TruncatedBackpropTrainsTheEmbeddingOrIsRefused) {
  struct Case {
    std::string preset;
    json overrides;
    bool refused;
  };
  const json no_depth0 = {{"depth_attention", {{"include_depth0", false}}}};
  const std::vector<Case> cases = {
      {"DR", json::object(), true},
      {"DR+EA", json::object(), true},
      {"DR+DA", json::object(), false},  // depth attention reads level 0, the embedding
      {"DR+DA+EA", json::object(), false},
      {"DR+DA+EA", {{"mix_mode", "separate"}}, false},
      {"DR+DA+EA", {{"parallel_expert", "after"}}, false},
      {"DR+DA", no_depth0, true},
      {"DR+DA+EA", {{"mix_mode", "joint_sa_da"}}, true},  // depth 1's keys are computed at depth 1
      {"DR", {{"input_injection", "add"}}, false},
      {"DR+EA", {{"input_injection", "add"}}, false},
      {"DR+DA",
       {{"input_injection", "add"}, {"depth_attention", {{"include_depth0", false}}}},
       false},
      {"DR+DA+EA", {{"input_injection", "add"}, {"mix_mode", "joint_sa_da"}}, false},
      {"DR+DA+EA", {{"input_injection", "add"}, {"mix_mode", "separate"}}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.preset + " " + c.overrides.dump());
    // The presets' own zero-initialised DA output: the first step cannot pass gradients
    // through DA, so the check is on the second step, as in the model invariants.
    json overrides = {{"depth_attention", {{"zero_init_output", true}}},
                      {"recurrence", {{"mean", 3}, {"backprop_depth", 1}}}};
    overrides.merge_patch(c.overrides);
    const json config = tiny(c.preset, overrides);
    if (c.refused) {
      expect_invalid(config, "$.recurrence.backprop_depth", "leave the embedding untrained");
      continue;
    }
    torch::manual_seed(0);
    auto model = zoo::build_model(zoo::model_config_from_json(config));
    model->train();
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2));
    auto tokens = torch::randint(0, 64, {2, 7});
    auto* dreamer = dynamic_cast<models::DreamerModel*>(model.get());
    for (int step = 0; step < 2; ++step) {
      auto out = model->forward(tokens.narrow(1, 0, 6));
      EXPECT_EQ(out.recurrences, 3);
      auto loss = torch::cross_entropy_loss(out.logits.reshape({-1, 64}),
                                            tokens.narrow(1, 1, 6).reshape(-1));
      optimizer.zero_grad();
      loss.backward();
      if (step == 0) optimizer.step();
    }
    const auto& grad = dreamer->ends.embedding->weight.grad();
    ASSERT_TRUE(grad.defined());
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  }
}

TEST(DreamerEmbeddingGradient, InjectionAddsTheEmbeddingToEveryLaterDepth) {
  // Depth 1 is unchanged by injection; depth 2 starts from h_1 + x instead of h_1.
  torch::manual_seed(6);
  json overrides = {{"recurrence", {{"mean", 2}}}};
  auto plain = zoo::build_model(zoo::model_config_from_json(tiny("DR", overrides)));
  overrides["input_injection"] = "add";
  auto injected = zoo::build_model(zoo::model_config_from_json(tiny("DR", overrides)));
  torch::NoGradGuard no_grad;
  for (auto& p : injected->named_parameters()) p.value().copy_(plain->named_parameters()[p.key()]);
  plain->eval();
  injected->eval();
  auto* dreamer = dynamic_cast<models::DreamerModel*>(plain.get());
  auto tokens = torch::randint(0, 64, {2, 5});
  models::ForwardOptions o;
  o.record_states = true;
  auto a = plain->forward(tokens, nullptr, o), b = injected->forward(tokens, nullptr, o);
  EXPECT_TENSOR_NEAR(a.states[0], b.states[0], 0.0);
  auto x = dreamer->ends.embedding(tokens);
  models::DreamerLayerImpl::Context ctx;
  models::DepthMemory memory;
  ctx.depth = 2;
  ctx.total = 2;
  ctx.memory = &memory;
  EXPECT_TENSOR_NEAR(b.states[1], dreamer->layer(a.states[0] + x, ctx), 1e-6);
  EXPECT_GT(max_abs_diff(a.states[1], b.states[1]), 1e-3);
}

// ---------------------------------------------------------------- parallel mixing costs

TEST(DreamerParallelCost, SharedNormsMeanFewerParametersAndSavedActivations) {
  auto cost = [](const json& overrides) {
    auto config = zoo::model_config_from_json(tiny("DR+DA+EA", overrides));
    models::Workload w;
    w.seq_len = 16;
    w.batch = 2;
    w.recurrences = 4;
    return std::make_pair(zoo::family("dreamer").cost(config, w),
                          models::count_parameters(*zoo::build_model(config)).total);
  };
  const auto [separate, separate_built] = cost({{"mix_mode", "separate"}});
  const auto [after, after_built] = cost({{"parallel_expert", "after"}});
  const auto [branch, branch_built] = cost(json::object());
  // RMSNorm has d = 32 weights: separate has norm_sa, norm_da, norm_ffn; parallel-after
  // norm_mix and norm_ffn; parallel-branch norm_mix only.
  EXPECT_EQ(separate.params.total - after.params.total, 32);
  EXPECT_EQ(separate.params.total - branch.params.total, 64);
  EXPECT_EQ(separate.params.total, separate_built);
  EXPECT_EQ(after.params.total, after_built);
  EXPECT_EQ(branch.params.total, branch_built);
  // Same matmuls in every arrangement.
  EXPECT_DOUBLE_EQ(separate.flops_forward_per_token, branch.flops_forward_per_token);
  EXPECT_DOUBLE_EQ(separate.flops_train_per_token, after.flops_train_per_token);
  // Memory by arrangement: tests/models/memory_model_test.cpp measures it.
}

TEST(DreamerConfigValidation, DisabledComponentsAddNoParameters) {
  auto counts = [](const std::string& preset) {
    return models::count_parameters(*zoo::build_model(zoo::model_config_from_json(tiny(preset))));
  };
  auto dr = zoo::build_model(zoo::model_config_from_json(tiny("DR")));
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
  if (!models::fused_attention_available())
    GTEST_SKIP() << "LibTorch < 2.0: only the reference path exists";
  torch::manual_seed(0);
  auto q = torch::randn({2, 4, 5, 8}), k = torch::randn({2, 2, 9, 8}),
       v = torch::randn({2, 2, 9, 8});
  EXPECT_TENSOR_NEAR(models::causal_attention(q, k, v), models::causal_attention_reference(q, k, v),
                     1e-5);
  auto k1 = k.narrow(2, 0, 5), v1 = v.narrow(2, 0, 5);
  EXPECT_TENSOR_NEAR(models::causal_attention(q, k1, v1),
                     models::causal_attention_reference(q, k1, v1), 1e-5);
}

TEST(AttentionBackends, ReferenceIsCausalSoftmaxAttention) {
  torch::manual_seed(0);
  auto q = torch::randn({1, 2, 3, 4}, torch::kFloat64),
       k = torch::randn({1, 1, 5, 4}, torch::kFloat64),
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
