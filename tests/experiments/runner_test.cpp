// The experiment runner end to end on a tiny experiment: what it stores, that re-running does
// not duplicate rows, and that a run killed between checkpoints and resumed ends exactly where
// an uninterrupted run ends.
#include <gtest/gtest.h>

#include <fstream>

#include "experiments/runner.h"
#include "results/store.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/fs.h"

namespace dreamer::experiments {
namespace {

ExperimentPlan tiny_plan(const std::string& dir, nlohmann::json exp = testing::tiny_experiment()) {
  const std::string file = dir + "/tiny.json";
  std::ofstream(file) << exp.dump();
  return plan_experiment(read_experiment(file), eval::task_search_dirs());
}

RunnerOptions options_in(const std::string& dir) {
  RunnerOptions o;
  o.db = dir + "/results.db";
  o.out_dir = dir + "/runs";
  o.progress = false;
  return o;
}

double scalar(const std::string& db, const std::string& sql) {
  results::Database d(db);
  results::Statement s(d, sql);
  EXPECT_TRUE(s.step()) << sql;
  return s.column_double(0);
}

std::map<std::string, torch::Tensor> final_weights(const std::string& run_dir) {
  const auto ck = train::load_checkpoint(*train::latest_checkpoint(run_dir));
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : ck.model->named_parameters()) out[p.key()] = p.value().clone();
  for (const auto& b : ck.model->named_buffers()) out[b.key()] = b.value().clone();
  return out;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    threads_ = torch::get_num_threads();
    torch::set_num_threads(1);  // bit-for-bit comparisons between runs
  }
  void TearDown() override { torch::set_num_threads(threads_); }
  int threads_ = 1;
};

TEST_F(RunnerTest, StoresRunsMetricsCheckpointsAndEvalsWithoutDuplicatesOnRerun) {
  const auto dir = testing::temp_dir();
  const auto plan = tiny_plan(dir);
  ASSERT_EQ(plan.runs.size(), 2u);
  EXPECT_EQ(plan.runs[0].total_steps, 8);
  EXPECT_EQ(plan.runs[0].eval_steps, (std::vector<int64_t>{4, 8}));
  EXPECT_TRUE(plan.runs[0].recurrent);
  EXPECT_EQ(plan.runs[0].eval_depths,
            (std::vector<int64_t>{1, 2}));  // the default depth 2 is among them
  EXPECT_FALSE(plan.runs[1].recurrent);

  auto options = options_in(dir);
  for (int repeat = 0; repeat < 2; ++repeat) {
    options.force = repeat == 1;  // a second run needs --force (RunnerLifecycle tests the refusal)
    run_experiment(plan, options);
    EXPECT_EQ(scalar(options.db, "SELECT COUNT(*) FROM runs WHERE status = 'finished'"), 2);
    EXPECT_EQ(scalar(options.db, "SELECT COUNT(*) FROM train_metrics"),
              2 * 4);  // every 2nd of 8 steps
    EXPECT_EQ(scalar(options.db, "SELECT COUNT(*) FROM checkpoints"), 2 * 2);
    // dreamer: 2 checkpoints x 2 depths; dense: 2 checkpoints x depth 1; one exact_match metric.
    EXPECT_EQ(
        scalar(options.db, "SELECT COUNT(*) FROM eval_results WHERE metric LIKE 'exact_match%'"),
        4 + 2);
    EXPECT_EQ(scalar(options.db, "SELECT COUNT(*) FROM experiments"), 1);
    EXPECT_EQ(scalar(options.db,
                     "SELECT COUNT(*) FROM experiment_tasks WHERE metric = 'exact_match,whole'"),
              1);
  }
  // Evals join to the tokens trained through the checkpoint name.
  EXPECT_EQ(
      scalar(
          options.db,
          "SELECT MAX(c.tokens) FROM eval_results e JOIN checkpoints c "
          "ON c.run_id = e.run_id AND c.name = e.checkpoint WHERE e.run_id = 'tiny/dense/seed0'"),
      8 * 4 * 16);
  EXPECT_EQ(scalar(options.db, "SELECT default_depth FROM runs WHERE arm = 'dreamer'"), 2);
  // Training lowered the loss (the first logged window against the last).
  EXPECT_LT(
      scalar(options.db,
             "SELECT loss FROM train_metrics WHERE run_id = 'tiny/dreamer/seed0' AND step = 8"),
      scalar(options.db,
             "SELECT loss FROM train_metrics WHERE run_id = 'tiny/dreamer/seed0' AND step = 2"));
}

TEST_F(RunnerTest, ResumingAKilledRunEndsWithTheSameWeightsAndMetrics) {
  auto exp = testing::tiny_experiment();
  exp["arms"].erase(1);  // one arm is enough
  exp["report"].erase("reference_arm");
  exp["train"]["grad_accumulation"] = 2;  // accumulation and sampling state must survive too
  exp["train"]["tokens"] = 8 * 4 * 16 * 2;

  const auto straight_dir = testing::temp_dir();
  const auto straight = options_in(straight_dir);
  run_experiment(tiny_plan(straight_dir, exp), straight);

  const auto killed_dir = testing::temp_dir();
  auto killed = options_in(killed_dir);
  // Past the checkpoint at step 4, before the one at 8, and inside a logging window (steps 7-8):
  // the loss logged at step 8 below must still be the uninterrupted window's mean.
  killed.stop_after_step = 7;
  run_experiment(tiny_plan(killed_dir, exp), killed);
  {
    results::Database d(killed.db);
    results::Statement s(d, "SELECT status, steps_trained FROM runs");
    ASSERT_TRUE(s.step());
    EXPECT_EQ(s.column_text(0), "paused");  // --max-steps pauses with a checkpoint
    EXPECT_EQ(s.column_int(1), 7);
  }
  EXPECT_TRUE(fs::is_directory(run_directory(killed, tiny_plan(killed_dir, exp).runs[0], "tiny") +
                               "/step-000007"));
  killed.stop_after_step.reset();
  killed.resume = true;
  run_experiment(tiny_plan(killed_dir, exp), killed);

  const auto run_dir = [&](const RunnerOptions& o) {
    return run_directory(o, tiny_plan(straight_dir, exp).runs[0], "tiny");
  };
  const auto a = final_weights(run_dir(straight)), b = final_weights(run_dir(killed));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;
  for (const char* sql : {"SELECT loss FROM train_metrics WHERE step = 8",
                          "SELECT grad_norm FROM train_metrics WHERE step = 8",
                          "SELECT SUM(value) FROM eval_results WHERE checkpoint = 'step-000008'"})
    EXPECT_EQ(scalar(straight.db, sql), scalar(killed.db, sql)) << sql;
  EXPECT_EQ(scalar(killed.db, "SELECT COUNT(*) FROM train_metrics"),
            4);  // no rows doubled by the replay
  EXPECT_EQ(scalar(killed.db, "SELECT COUNT(*) FROM checkpoints"),
            2);  // the pause's is not an eval point
  // A second --resume finds the run finished and leaves it alone.
  run_experiment(tiny_plan(killed_dir, exp), killed);
  EXPECT_EQ(scalar(killed.db, "SELECT steps_trained FROM runs"), 8);
}

TEST(RunnerCli, PlanAndRunRejectBadFilesWithTheJsonPath) {
  const auto dir = testing::temp_dir();
  auto exp = testing::tiny_experiment();
  exp["train"]["schedule"]["kind"] = "cosine";
  const std::string file = dir + "/bad.json";
  std::ofstream(file) << exp.dump();
  for (const char* command : {"plan", "run"}) {
    const auto r =
        testing::run_cli(std::string(command) + " " + file +
                         (std::string(command) == "run" ? " --db " + dir + "/r.db" : ""));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find(file + ":$.train.schedule.kind"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/r.db"));  // nothing written before the file is valid

  std::ofstream(dir + "/good.json") << testing::tiny_experiment().dump();
  const auto r = testing::run_cli("plan --no-calibrate " + dir + "/good.json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tiny/dreamer/seed0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tiny/dense/seed0"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dreamer::experiments
