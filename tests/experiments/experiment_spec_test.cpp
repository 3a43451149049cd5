// Experiment files: includes merge, grids expand into arms, and every kind of mistake is an
// error naming the file and JSON path.
#include <gtest/gtest.h>

#include <fstream>

#include "experiments/expand.h"
#include "experiments/experiment_spec.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "util/errors.h"

namespace dreamer::experiments {
namespace {

std::string write(const std::string& dir, const std::string& name, const nlohmann::json& j) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << j.dump(2);
  return path;
}

std::string error_of(const std::string& file) {
  return testing::error_of([&] { read_experiment(file); });
}

TEST(ExperimentGrid, CrossProductBecomesNamedArmsWithTheValuesSet) {
  nlohmann::json exp = testing::tiny_experiment();
  exp["arms"][0]["grid"] = {{"model.ffn_experts.k", {1, 2}},
                            {"train.optimizer.lr", {0.001, 0.003, 0.01}}};
  const auto expanded = expand_grids(exp, "x.json");
  ASSERT_EQ(expanded["arms"].size(), 2u * 3 + 1);  // the grid arm becomes 6, the dense arm stays
  EXPECT_EQ(expanded["arms"][0]["name"], "dreamer[k=1,lr=0.001]");
  EXPECT_EQ(expanded["arms"][2]["name"], "dreamer[k=1,lr=0.01]");
  EXPECT_EQ(expanded["arms"][5]["name"], "dreamer[k=2,lr=0.01]");
  EXPECT_EQ(expanded["arms"][5]["model"]["ffn_experts"]["k"], 2);
  EXPECT_EQ(expanded["arms"][5]["model"]["ffn_experts"]["n_experts"],
            4);  // untouched siblings kept
  EXPECT_EQ(expanded["arms"][5]["train"]["optimizer"]["lr"], 0.01);
  EXPECT_FALSE(expanded["arms"][5].contains("grid"));
  EXPECT_EQ(expanded["arms"][6]["name"], "dense");

  // The expanded arms parse, each with its own training settings merged onto $.train.
  const auto dir = testing::temp_dir();
  const auto spec = read_experiment(write(dir, "grid.json", exp));
  ASSERT_EQ(spec.matching.arms.size(), 7u);
  EXPECT_DOUBLE_EQ(spec.train.at("dreamer[k=2,lr=0.003]").optimizer.lr, 0.003);
  EXPECT_EQ(spec.train.at("dreamer[k=2,lr=0.003]").tokens, spec.train.at("dense").tokens);
  EXPECT_DOUBLE_EQ(spec.train.at("dense").optimizer.lr,
                   exp["train"]["optimizer"]["lr"].get<double>());
}

TEST(ExperimentIncludes, BaseIsMergedAndTheIncludingFileWins) {
  const auto dir = testing::temp_dir();
  write(dir, "base.json", testing::tiny_experiment());
  const std::string child = write(dir, "child.json",
                                  {{"include", "base.json"},
                                   {"name", "child"},
                                   {"seeds", {3, 4}},
                                   {"train", {{"tokens", 4096}}},
                                   {"eval", {{"checkpoints", nullptr}}}});
  const auto spec = read_experiment(child);
  EXPECT_EQ(spec.name, "child");
  EXPECT_EQ(spec.seeds, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(spec.train.at("dreamer").tokens, 4096);
  // Objects merge key by key: the base's optimizer settings survive the override of tokens.
  EXPECT_DOUBLE_EQ(spec.train.at("dreamer").optimizer.lr,
                   testing::tiny_experiment()["train"]["optimizer"]["lr"].get<double>());
  EXPECT_EQ(spec.eval.checkpoints, EvalSchedule{}.checkpoints);  // null deleted the base's value
  EXPECT_EQ(spec.matching.arms.size(), 2u);

  write(dir, "loop_a.json", {{"include", "loop_b.json"}});
  const std::string loop = write(dir, "loop_b.json", {{"include", "loop_a.json"}});
  EXPECT_NE(error_of(loop).find("includes itself"), std::string::npos) << error_of(loop);
  const std::string missing = write(dir, "missing.json", {{"include", "nowhere.json"}});
  EXPECT_NE(error_of(missing).find("nowhere.json"), std::string::npos);
}

TEST(ExperimentValidation, MistakesNameTheFileAndJsonPath) {
  const auto dir = testing::temp_dir();
  auto check = [&](const std::function<void(nlohmann::json&)>& mutate,
                   const std::string& expected_path) {
    nlohmann::json exp = testing::tiny_experiment();
    mutate(exp);
    const std::string file = write(dir, "bad.json", exp);
    const std::string error = error_of(file);
    EXPECT_NE(error.find(file), std::string::npos) << error;
    EXPECT_NE(error.find(expected_path), std::string::npos)
        << "expected " << expected_path << " in: " << error;
  };
  check([](auto& e) { e["trian"] = 1; }, "$.trian");
  check([](auto& e) { e["train"]["optimizer"]["lrr"] = 1; }, "$.train.optimizer.lrr");
  check([](auto& e) { e["arms"][1]["train"] = {{"tokens", -5}}; }, "$.arms[1].train");
  check([](auto& e) { e["arms"][1]["name"] = "dreamer"; }, "$.arms[1].name");
  check([](auto& e) { e["eval"]["tasks"][0]["metrik"] = "acc"; }, "$.eval.tasks[0].metrik");
  check([](auto& e) { e["eval"]["ratio"] = 1; }, "$.eval.ratio");
  check([](auto& e) { e["report"]["reference_arm"] = "nobody"; }, "$.report.reference_arm");
  check([](auto& e) { e["seeds"] = {1, 1}; }, "$.seeds[1]");
  check([](auto& e) { e.erase("data"); }, "\"data\" and \"train\" go together");
  check([](auto& e) { e["data"]["train"]["task"]["task"] = "sudoku"; }, "$.data.train.task.task");
  check(
      [](auto& e) {
        e["arms"][0]["grid"] = {{"model.d_model", 64}};
      },
      "$.arms[0].grid.model.d_model");
  check([](auto& e) { e["arms"][0]["model"]["vocab_size"] = 100; }, "$.arms[0].model.vocab_size");
}

// Former key names (docs/DESIGN.md, "Config names") are errors that say the new name, in a
// model, a grid axis and a free variable alike.
TEST(ExperimentValidation, FormerKeyNamesSayTheNewOne) {
  const auto dir = testing::temp_dir();
  auto error_after = [&](const std::function<void(nlohmann::json&)>& mutate) {
    nlohmann::json exp = testing::tiny_experiment();
    mutate(exp);
    return error_of(write(dir, "renamed.json", exp));
  };
  std::string e = error_after([](auto& x) {
    x["arms"][0]["model"]["expert_attention"] = x["arms"][0]["model"]["ffn_experts"];
    x["arms"][0]["model"].erase("ffn_experts");
  });
  EXPECT_NE(e.find("$.arms[0].model.expert_attention: renamed: write "), std::string::npos) << e;
  EXPECT_NE(e.find("$.arms[0].model.ffn_experts instead"), std::string::npos) << e;
  e = error_after([](auto& x) { x["arms"][1]["free"] = {"ffn_hidden"}; });
  EXPECT_NE(e.find("$.arms[1].free[0]: \"ffn_hidden\" is a former name of dense_transformer: "
                   "write $.ffn.hidden instead"),
            std::string::npos)
      << e;
  e = error_after([](auto& x) { x["arms"][1]["grid"] = {{"model.ffn_hidden", {64, 128}}}; });
  EXPECT_NE(e.find("ffn_hidden: renamed: write "), std::string::npos) << e;
  EXPECT_NE(e.find("ffn.hidden instead"), std::string::npos) << e;
}

TEST(EvalSchedule, GeometricCheckpointsEndAtTheLastStep) {
  EvalSchedule s;
  s.checkpoints = 4;
  s.ratio = 2;
  EXPECT_EQ(eval_steps(s, 800, 1000), (std::vector<int64_t>{100, 200, 400, 800}));
  s.checkpoints = 5;
  EXPECT_EQ(eval_steps(s, 8, 1000), (std::vector<int64_t>{1, 2, 4, 8}));  // 0.5 rounds to 1: merged
  s.at_tokens = {1500, 4000, 99999};
  EXPECT_EQ(eval_steps(s, 8, 1000),
            (std::vector<int64_t>{2, 4, 8}));  // rounded, clamped to the run
}

}  // namespace
}  // namespace dreamer::experiments
