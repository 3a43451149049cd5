// The matching solver: identity, constraints, infeasibility, and re-verification of every
// output against the instantiated module and the FLOPs its forward pass executed.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "experiments/matching_spec.h"
#include "matching/flop_counter.h"
#include "matching/solver.h"
#include "tests/test_util.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using matching::Criterion;
using nlohmann::json;

json dreamer_model(const std::string& preset, json overrides = json::object()) {
  json j = {{"family", "dreamer"},
            {"preset", preset},
            {"vocab_size", 64},
            {"d_model", 64},
            {"n_heads", 4},
            {"ffn_experts", {{"n_experts", 8}, {"k", 2}, {"expert_dim", 32}}},
            {"recurrence", {{"mean", 3}}}};
  j.merge_patch(overrides);
  return j;
}

models::Workload small_workload() {
  models::Workload w;
  w.seq_len = 16;
  w.batch = 2;
  return w;
}

matching::Targets targets_for(const json& model, const models::Workload& w) {
  auto config = zoo::model_config_from_json(model);
  return matching::targets_of(zoo::family(config.family).cost(config, w));
}

TEST(MatchingSolver, AModelMatchedAgainstItselfReturnsItself) {
  const auto w = small_workload();
  const json reference = dreamer_model("DR", {{"d_model", 128}, {"ffn", {{"hidden", 320}}}});
  matching::Arm arm;
  arm.name = "self";
  arm.model =
      dreamer_model("DR", {{"d_model", 96}, {"ffn", {{"hidden", 128}}}});  // start elsewhere
  arm.free = {{"d_model", 32, 512, 32}, {"ffn.hidden", 64, 2048, 64}};
  arm.criteria = {Criterion::kParams, Criterion::kFlops, Criterion::kMemory};
  auto m = matching::solve(arm, targets_for(reference, w), w);
  EXPECT_TRUE(m.within_tolerance) << m.failure;
  EXPECT_EQ(m.config.params["d_model"], 128);
  EXPECT_EQ(m.config.params["ffn"]["hidden"], 320);
  EXPECT_NEAR(*m.deviation.params, 0.0, 1e-12);
  EXPECT_NEAR(*m.deviation.flops, 0.0, 1e-12);
}

TEST(MatchingSolver, RespectsConstraintsAndMultiples) {
  const auto w = small_workload();
  matching::Arm arm;
  arm.model = dreamer_model("DR+EA", {{"d_model", 96}});
  arm.free = {
      {"n_heads", 1, 64, 1}, {"ffn_experts.k", 1, 64, 1}, {"ffn_experts.expert_dim", 16, 512, 16}};
  arm.criteria = {Criterion::kParams, Criterion::kFlops};
  arm.tolerance = 0.5;
  auto m = matching::solve(arm, targets_for(dreamer_model("DR", {{"d_model", 96}}), w), w);
  const auto& p = m.config.params;
  EXPECT_EQ(96 % p["n_heads"].get<int64_t>(), 0) << "head dim must divide the width";
  EXPECT_EQ((96 / p["n_heads"].get<int64_t>()) % 2, 0) << "RoPE needs an even head dim";
  EXPECT_LE(p["ffn_experts"]["k"].get<int64_t>(), p["ffn_experts"]["n_experts"].get<int64_t>());
  EXPECT_EQ(p["ffn_experts"]["expert_dim"].get<int64_t>() % 16, 0);
}

TEST(MatchingSolver, InfeasibleRequestsNameTheFailingCriterion) {
  const auto w = small_workload();
  matching::Arm arm;
  arm.name = "tiny";
  arm.model = dreamer_model("DR");
  arm.free = {{"d_model", 32, 64, 32}};  // far too small to reach 10x the parameters
  arm.criteria = {Criterion::kParams};
  matching::Targets t;
  t.params = 10.0 * targets_for(dreamer_model("DR"), w).params.value();
  auto m = matching::solve(arm, t, w);
  EXPECT_FALSE(m.within_tolerance);
  EXPECT_EQ(m.config.params["d_model"], 64) << "the closest achievable config";
  EXPECT_NE(m.failure.find("params is off by"), std::string::npos) << m.failure;
  EXPECT_NEAR(*m.deviation.params, -0.9, 0.05);
}

TEST(MatchingSolver, MalformedArmsAreInputErrors) {
  const auto w = small_workload();
  matching::Arm arm;
  arm.model = dreamer_model("DR");
  arm.criteria = {Criterion::kFlops};
  matching::Targets only_params;
  only_params.params = 1e6;
  EXPECT_THROW(matching::solve(arm, only_params, w), InputError);  // no FLOP target
  arm.free = {{"norm", 1, 2, 1}};                                  // not an integer hyperparameter
  EXPECT_THROW(matching::solve(arm, targets_for(dreamer_model("DR"), w), w), InputError);
}

TEST(MatchingSolver, EveryOutputReverifiesAgainstTheModule) {
  const auto w = small_workload();
  const json reference = dreamer_model("DR", {{"d_model", 96}});
  const auto targets = targets_for(reference, w);
  for (const std::string preset : {"DR+DA", "DR+EA", "DR+DA+EA"}) {
    matching::Arm arm;
    arm.name = preset;
    arm.model = dreamer_model(preset, {{"d_model", 96}});
    arm.free = {{"ffn_experts.n_experts", 1, 128, 1},
                {"ffn_experts.k", 1, 8, 1},
                {"ffn.hidden", 64, 1024, 64}};
    arm.criteria = {Criterion::kParams, Criterion::kFlops};
    arm.tolerance = 0.1;
    auto m = matching::solve(arm, targets, w);
    auto model = zoo::build_model(m.config);
    EXPECT_EQ(models::count_parameters(*model).total, m.cost.params.total) << preset;
    model->eval();
    torch::NoGradGuard no_grad;
    matching::FlopCounter counter;
    models::ForwardOptions o;
    o.recurrences = 3;
    model->forward(torch::randint(0, 64, {w.batch, w.seq_len}), nullptr, o);
    EXPECT_NEAR(counter.total() / (w.batch * w.seq_len) / m.cost.flops_forward_per_token, 1.0, 0.01)
        << preset;
  }
}

TEST(MatchingSpec, StrictParsingNamesThePath) {
  auto expect_error = [](const json& root, const std::string& where) {
    try {
      experiments::parse_matching_spec(root, "exp.json");
      FAIL() << "accepted " << root.dump();
    } catch (const InputError& e) {
      EXPECT_EQ(e.where(), where) << e.what();
    }
  };
  const json arm = {
      {"name", "a"}, {"model", dreamer_model("DR")}, {"free", {"d_model"}}, {"match", {"params"}}};
  const json ok = {{"reference", {{"model", dreamer_model("DR")}}}, {"arms", {arm}}};
  EXPECT_NO_THROW(experiments::parse_matching_spec(ok, "exp.json"));
  json bad = ok;
  bad["arms"][0]["match"] = {"speed"};
  expect_error(bad, "exp.json:$.arms[0].match[0]");
  bad = ok;
  bad["arms"][0]["colour"] = "red";
  expect_error(bad, "exp.json:$.arms[0].colour");
  bad = ok;
  bad["arms"][0]["free"] = {"n_layers"};
  expect_error(bad, "exp.json:$.arms[0].free[0]");
  bad = ok;
  bad["workload"] = {{"seq_len", 0}};
  expect_error(bad, "exp.json:$.workload.seq_len");
  bad = ok;
  bad["reference"] = json::object();
  expect_error(bad, "exp.json:$.reference");
}

TEST(MatchingSpec, DeclaredFreeVariablesWithAZeroDefaultAreAccepted) {
  // The dense family declares ffn_hidden in [0, ...] (0 = its default width).
  const json arm = {{"name", "dense"},
                    {"model", {{"family", "dense_transformer"}, {"preset", "small"}}},
                    {"free", {"ffn.hidden"}},
                    {"match", {"params"}}};
  const json root = {
      {"reference", {{"model", {{"family", "dense_transformer"}, {"preset", "small"}}}}},
      {"arms", {arm}}};
  auto spec = experiments::parse_matching_spec(root, "exp.json");
  ASSERT_EQ(spec.arms[0].free.size(), 1u);
  EXPECT_EQ(spec.arms[0].free[0].min, 0);
  auto matched = experiments::match_all(spec, "exp.json");
  EXPECT_TRUE(matched[0].match.within_tolerance) << matched[0].match.failure;
  EXPECT_NEAR(*matched[0].match.deviation.params, 0.0, 1e-9);
}

TEST(MatchCli, PrintsOneRowPerArmAndFailsOnUnmetTolerance) {
  const std::string dir = temp_dir();
  json spec = {{"workload", {{"seq_len", 16}, {"batch", 2}}},
               {"reference", {{"model", dreamer_model("DR", {{"d_model", 96}})}}},
               {"arms",
                {{{"name", "same"},
                  {"model", dreamer_model("DR")},
                  {"free", {{{"name", "d_model"}, {"min", 32}, {"max", 512}, {"multiple_of", 32}}}},
                  {"match", {"params", "flops"}}},
                 {{"name", "dr_da"},
                  {"model", dreamer_model("DR+DA", {{"d_model", 96}})},
                  {"free", {"ffn.hidden"}},
                  {"match", {"params", "flops"}},
                  {"tolerance", 0.1}}}}};
  std::ofstream(dir + "/ok.json") << spec.dump();
  auto ok = run_cli("match --json " + dir + "/ok.json");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  auto rows = json::parse(ok.output);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["arm"], "same");
  EXPECT_EQ(rows[0]["config"]["d_model"], 96);
  for (const auto& row : rows) EXPECT_LE(std::abs(row["deviation"]["params"].get<double>()), 0.1);

  spec["arms"][0]["free"] = {{{"name", "d_model"}, {"min", 32}, {"max", 32}}};
  std::ofstream(dir + "/empty_grid.json") << spec.dump();  // declared multiple_of 64: no grid point
  auto empty = run_cli("match " + dir + "/empty_grid.json");
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_NE(empty.output.find("$.arms[0].free[0]: no multiple of 64 lies in [32, 32]"),
            std::string::npos)
      << empty.output;
  spec["arms"][0]["free"] = {{{"name", "d_model"}, {"min", 32}, {"max", 32}, {"multiple_of", 32}}};
  spec["arms"][0]["tolerance"] = 0.01;
  std::ofstream(dir + "/bad.json") << spec.dump();
  auto bad = run_cli("match " + dir + "/bad.json");
  EXPECT_NE(bad.exit_code, 0);
  // The worst criterion is named (at d_model 32 both are far off; FLOPs the furthest).
  EXPECT_NE(bad.output.find("$.arms[0]: arm same: flops is off by"), std::string::npos)
      << bad.output;
  EXPECT_NE(bad.output.find("over the tolerance of 1.000000%"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace dreamer::testing
