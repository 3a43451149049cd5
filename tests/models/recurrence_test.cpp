// One recurrence planner for every recurrent family: the planner's own rules, and the plan
// each family actually runs (read from the recorded states: a state computed under
// NoGradGuard does not require grad), which must be the same for the same inputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <stdexcept>

#include "models/blocks/recurrence.h"
#include "tests/test_util.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using models::ForwardOptions;
using models::InferenceState;
using models::RecurrencePlan;
using json = nlohmann::json;

// The schedule both Dreamer and Huginn are built with below.
const json kSchedule = {{"sampling", "poisson_lognormal"},
                        {"mean", 3},
                        {"backprop_depth", 2},
                        {"sigma", 0.5},
                        {"max", 8}};

models::RecurrenceSchedule schedule() {
  models::RecurrenceSchedule s;
  s.sampling = models::RecurrenceSampling::kPoissonLognormal;
  s.mean = 3;
  s.backprop_depth = 2;
  s.sigma = 0.5;
  s.max = 8;
  return s;
}

std::string describe(const RecurrencePlan& p) {
  return std::to_string(p.no_grad_steps) + " no-grad + " + std::to_string(p.grad_steps) + " grad";
}

// ------------------------------------------------------------------ the planner itself

TEST(RecurrencePlanner, ExplicitCountTruncatesBackpropDuringTrainingOnly) {
  ForwardOptions five;
  five.recurrences = 5;
  const auto train = models::plan_recurrences(schedule(), five, nullptr, /*training=*/true);
  EXPECT_EQ(train.no_grad_steps, 3);  // 5 steps, the last backprop_depth = 2 with gradients
  EXPECT_EQ(train.grad_steps, 2);
  const auto eval = models::plan_recurrences(schedule(), five, nullptr, /*training=*/false);
  EXPECT_EQ(eval.no_grad_steps, 0);
  EXPECT_EQ(eval.grad_steps, 5);
  ForwardOptions one;  // fewer steps than backprop_depth: all of them carry gradients
  one.recurrences = 1;
  const auto short_run = models::plan_recurrences(schedule(), one, nullptr, true);
  EXPECT_EQ(short_run.no_grad_steps, 0);
  EXPECT_EQ(short_run.grad_steps, 1);
}

TEST(RecurrencePlanner, OptionsOverrideTheStateWhichOverridesTheSchedule) {
  InferenceState state;
  state.recurrences = 6;
  const auto from_state = models::plan_recurrences(schedule(), {}, &state, /*training=*/true);
  EXPECT_EQ(from_state.total(), 6);
  EXPECT_EQ(from_state.grad_steps, 2);
  ForwardOptions same;
  same.recurrences = 6;
  EXPECT_EQ(models::plan_recurrences(schedule(), same, &state, false).total(), 6);
  ForwardOptions other;
  other.recurrences = 5;
  EXPECT_THROW(models::plan_recurrences(schedule(), other, &state, false), std::invalid_argument);
  // Evaluation without a count runs the schedule's mean.
  EXPECT_EQ(models::plan_recurrences(schedule(), {}, nullptr, false).total(), 3);
}

TEST(RecurrencePlanner, TrainingWithoutACountDrawsFromTheSchedule) {
  for (int seed = 0; seed < 5; ++seed) {
    torch::manual_seed(seed);
    const auto sampled = models::sample_recurrences(schedule(), true);
    torch::manual_seed(seed);
    const auto planned = models::plan_recurrences(schedule(), {}, nullptr, true);
    EXPECT_EQ(planned.no_grad_steps, sampled.no_grad_steps) << "seed " << seed;
    EXPECT_EQ(planned.grad_steps, sampled.grad_steps) << "seed " << seed;
  }
}

// ------------------------------------------------------------------ every family's plan

struct Family {
  std::string name;
  json config;
  bool truncates;  // has the truncated-backprop schedule above (the Universal Transformer not)
};

std::vector<Family> recurrent_families() {
  return {
      {"dreamer",
       {{"family", "dreamer"},
        {"preset", "DR+DA+EA"},
        {"vocab_size", 32},
        {"d_model", 16},
        {"n_heads", 2},
        {"depth_attention", {{"n_heads", 2}, {"head_dim", 8}}},
        {"ffn_experts", {{"n_experts", 4}, {"k", 2}, {"expert_dim", 8}}},
        {"recurrence", kSchedule}},
       true},
      {"huginn",
       {{"family", "huginn"},
        {"vocab_size", 32},
        {"d_model", 16},
        {"n_heads", 2},
        {"ffn", {{"hidden", 32}}},
        {"recurrence", kSchedule}},
       true},
      {"universal_transformer",
       {{"family", "universal_transformer"},
        {"vocab_size", 32},
        {"d_model", 16},
        {"n_heads", 2},
        {"recurrence", {{"mean", 3}}}},
       false},
  };
}

// The plan a forward call ran, read from its recorded per-step states.
RecurrencePlan observed_plan(models::LanguageModel& model, const torch::Tensor& tokens,
                             ForwardOptions options, InferenceState* state = nullptr) {
  options.record_states = true;
  auto out = model.forward(tokens, state, options);
  RecurrencePlan plan;
  EXPECT_EQ(static_cast<int64_t>(out.states.size()), out.recurrences);
  for (const auto& s : out.states) {
    if (s.requires_grad()) {
      ++plan.grad_steps;
    } else {
      EXPECT_EQ(plan.grad_steps, 0) << "a no-grad step after a gradient step";
      ++plan.no_grad_steps;
    }
  }
  return plan;
}

class FamilyPlans : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    model_ = zoo::build_model(zoo::model_config_from_json(GetParam().config));
    model_->train();
  }
  // The planner's answer for this family's schedule.
  RecurrencePlan expected(const ForwardOptions& options, const InferenceState* state,
                          bool training) {
    models::RecurrenceSchedule s = schedule();
    if (!GetParam().truncates) {
      s = {};
      s.mean = s.max = 3;
    }
    return models::plan_recurrences(s, options, state, training);
  }
  models::LanguageModelPtr model_;
  torch::Tensor tokens_ = torch::randint(0, 32, {2, 5});
};

TEST_P(FamilyPlans, ExplicitCountInTrainingTruncatesLikeThePlanner) {
  // The case that disagreed: Dreamer used to run an explicit count with gradients through
  // every step while Huginn truncated it to the last backprop_depth.
  ForwardOptions five;
  five.recurrences = 5;
  const auto got = observed_plan(*model_, tokens_, five);
  const auto want = expected(five, nullptr, true);
  EXPECT_EQ(describe(got), describe(want));
  if (GetParam().truncates) EXPECT_EQ(describe(got), "3 no-grad + 2 grad");  // by hand
}

TEST_P(FamilyPlans, DecodingStateFixesTheCount) {
  InferenceState state;
  ForwardOptions four;
  four.recurrences = 4;
  {
    torch::NoGradGuard no_grad;
    model_->eval();
    model_->forward(tokens_.narrow(1, 0, 3), &state, four);
  }
  EXPECT_EQ(state.recurrences, 4);
  model_->train();
  const auto got = observed_plan(*model_, tokens_.narrow(1, 3, 2), {}, &state);
  EXPECT_EQ(describe(got), describe(expected({}, &state, true)));
  if (GetParam().truncates) EXPECT_EQ(describe(got), "2 no-grad + 2 grad");
  ForwardOptions five;
  five.recurrences = 5;
  EXPECT_THROW(model_->forward(tokens_.narrow(1, 4, 1), &state, five), std::invalid_argument);
}

TEST_P(FamilyPlans, SeededTrainingSampleIsThePlannersDraw) {
  bool saw_truncation = false;
  for (int seed = 0; seed < 6; ++seed) {
    torch::manual_seed(seed);
    const auto want = expected({}, nullptr, true);
    torch::manual_seed(seed);
    const auto got = observed_plan(*model_, tokens_, {});
    EXPECT_EQ(describe(got), describe(want)) << "seed " << seed;
    saw_truncation |= got.no_grad_steps > 0;
  }
  if (GetParam().truncates) EXPECT_TRUE(saw_truncation) << "no seed exercised truncation";
}

TEST_P(FamilyPlans, EvaluationRunsEveryStepWithTheMean) {
  model_->eval();
  const auto got = observed_plan(*model_, tokens_, {});
  EXPECT_EQ(describe(got), "0 no-grad + 3 grad");
}

INSTANTIATE_TEST_SUITE_P(Recurrent, FamilyPlans, ::testing::ValuesIn(recurrent_families()),
                         [](const auto& info) { return info.param.name; });

TEST(FamilyPlans, DreamerAndHuginnDrawTheSamePlanFromTheSameSeed) {
  auto families = recurrent_families();
  auto dreamer = zoo::build_model(zoo::model_config_from_json(families[0].config));
  auto huginn = zoo::build_model(zoo::model_config_from_json(families[1].config));
  dreamer->train();
  huginn->train();
  auto tokens = torch::randint(0, 32, {1, 4});
  std::set<int64_t> totals;
  for (int seed = 10; seed < 20; ++seed) {
    torch::manual_seed(seed);
    const auto a = observed_plan(*dreamer, tokens, {});
    torch::manual_seed(seed);
    const auto b = observed_plan(*huginn, tokens, {});
    EXPECT_EQ(describe(a), describe(b)) << "seed " << seed;
    totals.insert(a.total());
  }
  EXPECT_GT(totals.size(), 1u);  // the seeds did draw different counts
}

}  // namespace
}  // namespace dreamer::testing
