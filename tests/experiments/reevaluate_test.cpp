// dreamer eval --experiment end to end on the tiny experiment: a second task scored at every
// stored checkpoint of every run, under the runs' own ids, in the report and the queries; the
// refusals (experiment not stored, unknown arm, changed file, missing checkpoint, the
// experiment's own task); and groups named in an experiment's eval.tasks.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "experiments/reevaluate.h"
#include "experiments/runner.h"
#include "results/query.h"
#include "results/sqlite.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::experiments {
namespace {

// A synthetic generation task of its own name and seed, as a task file.
nlohmann::json synthetic_task(const std::string& name, int64_t seed) {
  return {{"name", name},
          {"output_type", "generate_until"},
          {"data",
           {{"synthetic",
             {{"source", "modular_arithmetic"},
              {"n", 4},
              {"seed", seed},
              {"params", {{"steps", {1, 2}}}}}}}},
          {"prompt", "{{prompt}}"},
          {"target", "{{answer}}"},
          {"target_delimiter", ""},
          {"generation", {{"until", {"\n"}}, {"max_new_tokens", 2}}}};
}

std::vector<std::vector<std::string>> rows(const std::string& db, const std::string& sql) {
  std::vector<std::vector<std::string>> out;
  for (const auto& row : results::ReadOnlyDatabase(db).query(sql).rows) {
    out.emplace_back();
    for (const auto& cell : row) out.back().push_back(cell.to_string());
  }
  return out;
}

class Reevaluate : public ::testing::Test {
 protected:
  void SetUp() override {
    threads_ = torch::get_num_threads();
    torch::set_num_threads(1);
    dir_ = testing::temp_dir();
    file_ = dir_ + "/tiny.json";
    db_ = dir_ + "/results.db";
    std::ofstream(file_) << testing::tiny_experiment().dump();
    std::ofstream(dir_ + "/second.json") << synthetic_task("second", 9).dump();
    RunnerOptions o;
    o.db = db_;
    o.out_dir = dir_ + "/runs";
    o.progress = false;
    run_experiment(plan_experiment(read_experiment(file_), eval::task_search_dirs()), o);
  }
  void TearDown() override { torch::set_num_threads(threads_); }
  testing::CommandResult eval(const std::string& extra) {
    return testing::run_cli("eval --experiment " + file_ + " --db " + db_ + " " + extra);
  }
  int threads_ = 1;
  std::string dir_, file_, db_;
};

TEST_F(Reevaluate, ScoresEveryStoredCheckpointUnderTheRunsIdsAndJoinsTheReport) {
  const auto r = eval("--task " + dir_ + "/second.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // dreamer: 2 checkpoints x depths {1, 2}; dense: 2 checkpoints x depth 1 (not recurrent).
  const auto scored = rows(db_,
                           "SELECT run_id, checkpoint, depth FROM eval_results WHERE task = "
                           "'second' AND metric = 'exact_match,whole' ORDER BY 1, 2, 3");
  const std::vector<std::vector<std::string>> expected = {
      {"tiny/dense/seed0", "step-000004", "1"},   {"tiny/dense/seed0", "step-000008", "1"},
      {"tiny/dreamer/seed0", "step-000004", "1"}, {"tiny/dreamer/seed0", "step-000004", "2"},
      {"tiny/dreamer/seed0", "step-000008", "1"}, {"tiny/dreamer/seed0", "step-000008", "2"}};
  EXPECT_EQ(scored, expected);
  // The same checkpoint names as the experiment's own task: they join on tokens trained.
  EXPECT_EQ(rows(db_,
                 "SELECT COUNT(*) FROM eval_results e JOIN checkpoints c ON c.run_id = e.run_id "
                 "AND c.name = e.checkpoint WHERE e.task = 'second'")[0][0],
            std::to_string(scored.size() * 1));  // one metric (exact_match,whole) per row
  EXPECT_EQ(rows(db_,
                 "SELECT metric FROM experiment_tasks WHERE experiment = 'tiny' AND task = "
                 "'second'"),
            (std::vector<std::vector<std::string>>{{"exact_match,whole"}}));
  // The experiment's own task is still listed beside it.
  EXPECT_EQ(rows(db_, "SELECT COUNT(*) FROM experiment_tasks WHERE experiment = 'tiny'")[0][0],
            "2");

  const auto query = testing::run_cli("query " + db_ + " evals --format csv");
  ASSERT_EQ(query.exit_code, 0) << query.output;
  EXPECT_NE(query.output.find("tiny/dense/seed0,step-000008,512,second"), std::string::npos)
      << query.output;
  const auto report = testing::run_cli("report " + db_ + " --out " + dir_ + "/report");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("second"), std::string::npos) << report.output;
  EXPECT_NE(report.output.find("modular"), std::string::npos) << report.output;

  // --arm: only that arm's runs get the next task.
  std::ofstream(dir_ + "/third.json") << synthetic_task("third", 11).dump();
  ASSERT_EQ(eval("--task " + dir_ + "/third.json --arm dense --last-only").exit_code, 0);
  EXPECT_EQ(rows(db_, "SELECT DISTINCT run_id, checkpoint FROM eval_results WHERE task = 'third'"),
            (std::vector<std::vector<std::string>>{{"tiny/dense/seed0", "step-000008"}}));
}

// The first error evaluate_experiment gives for `task_file` on experiment `file` ("" if none).
std::string reevaluate_error(const std::string& file, const std::string& task_file,
                             ReevaluateOptions options) {
  try {
    const auto dirs = eval::task_search_dirs();
    const auto plan = plan_experiment(read_experiment(file), dirs);
    std::vector<PlannedTask> tasks;
    std::vector<PlannedGroup> groups;
    plan_eval_entry(task_file, "", 0, dirs, "--task", tasks, groups);
    options.progress = false;
    evaluate_experiment(plan, tasks, groups, options);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST_F(Reevaluate, RefusesWhatItCannotDoWithOneClearError) {
  const auto r = eval("--task " + dir_ + "/second.json --arm moe");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--arm: \"moe\" is not an arm of " + file_), std::string::npos)
      << r.output;
  ReevaluateOptions options;
  options.db = db_;
  const auto second = dir_ + "/second.json";
  auto expect_error = [&](const std::string& file, const std::string& task,
                          const ReevaluateOptions& o, const std::string& part) {
    const auto message = reevaluate_error(file, task, o);
    EXPECT_NE(message.find(part), std::string::npos) << message;
  };
  // A task of the experiment's own (the runner evaluates it).
  std::ofstream(dir_ + "/modular.json") << synthetic_task("modular", 5).dump();
  expect_error(file_, dir_ + "/modular.json", options,
               "--task: \"modular\" is one of " + file_ + "'s own eval.tasks");
  // Another database, without the experiment.
  auto other = options;
  other.db = dir_ + "/empty.db";
  { results::Database d(other.db); }
  expect_error(file_, second, other, other.db + ": has no experiment \"tiny\"");
  // The file changed since the run: the stored fingerprint says what.
  auto changed = testing::tiny_experiment();
  changed["train"]["optimizer"]["lr"] = 0.001;
  const auto changed_file = dir_ + "/tiny_changed.json";
  std::ofstream(changed_file) << changed.dump();
  expect_error(changed_file, second, options,
               "tiny/dreamer/seed0: $.train.optimizer.lr differs from the run's stored "
               "fingerprint (0.003 then, 0.001 now)");
  auto allowed = options;
  allowed.allow_changes = {"train.optimizer.lr"};
  allowed.last_only = true;
  EXPECT_EQ(reevaluate_error(changed_file, second, allowed), "");
  // A checkpoint directory gone: nothing is written for any run.
  const auto ck = rows(db_,
                       "SELECT path FROM checkpoints WHERE run_id = 'tiny/dense/seed0' AND name "
                       "= 'step-000004'")[0][0];
  ASSERT_EQ(std::rename(ck.c_str(), (ck + ".moved").c_str()), 0);
  std::ofstream(dir_ + "/third.json") << synthetic_task("third", 11).dump();
  expect_error(file_, dir_ + "/third.json", options,
               ck + ": checkpoint step-000004 of tiny/dense/seed0 is missing");
  EXPECT_EQ(rows(db_, "SELECT COUNT(*) FROM eval_results WHERE task = 'third'")[0][0], "0");
  // Its last checkpoint is still there.
  options.last_only = true;
  EXPECT_EQ(reevaluate_error(file_, dir_ + "/third.json", options), "");
  EXPECT_EQ(
      rows(db_, "SELECT COUNT(DISTINCT checkpoint) FROM eval_results WHERE task = 'third'")[0][0],
      "1");
}

TEST(ExperimentGroups, AGroupInEvalTasksStoresSubtasksAndReportsTheGroup) {
  torch::set_num_threads(1);
  const auto dir = testing::temp_dir();
  std::ofstream(dir + "/sub_a.json") << synthetic_task("sub_a", 3).dump();
  std::ofstream(dir + "/sub_b.json") << synthetic_task("sub_b", 4).dump();
  std::ofstream(dir + "/both.json") << nlohmann::json{
      {"group", "both"},
      {"tasks", {"sub_a", "sub_b"}},
      {"aggregate", {"exact_match"}}}.dump();
  auto exp = testing::tiny_experiment();
  exp["arms"].erase(0);  // the dense arm alone
  exp["eval"]["tasks"] = {"both"};
  const auto file = dir + "/grouped.json";
  std::ofstream(file) << exp.dump();
  auto dirs = eval::task_search_dirs(dir);
  const auto plan = plan_experiment(read_experiment(file), dirs);
  ASSERT_EQ(plan.tasks.size(), 2u);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].metric, "exact_match,whole");
  RunnerOptions o;
  o.db = dir + "/r.db";
  o.out_dir = dir + "/runs";
  o.progress = false;
  run_experiment(plan, o);
  EXPECT_EQ(rows(o.db, "SELECT task FROM experiment_tasks"),
            (std::vector<std::vector<std::string>>{{"both"}}));
  // At every checkpoint: each subtask's rows, and the group's mean of their 4 + 4 documents.
  const auto group =
      rows(o.db,
           "SELECT g.checkpoint, g.n, abs(g.value - (a.value + b.value) / 2) < 1e-12 "
           "FROM eval_results g JOIN eval_results a ON a.checkpoint = g.checkpoint "
           "AND a.task = 'sub_a' AND a.metric = g.metric JOIN eval_results b ON "
           "b.checkpoint = g.checkpoint AND b.task = 'sub_b' AND b.metric = g.metric "
           "WHERE g.task = 'both' AND g.metric = 'exact_match,whole' ORDER BY 1");
  EXPECT_EQ(group, (std::vector<std::vector<std::string>>{{"step-000004", "8", "1"},
                                                          {"step-000008", "8", "1"}}));

  // Errors name the entry's JSON path and what was expected.
  auto message = [&](nlohmann::json tasks) {
    auto bad = exp;
    bad["eval"]["tasks"] = tasks;
    std::ofstream(file) << bad.dump();
    try {
      plan_experiment(read_experiment(file), dirs);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{{"task", "both"}, {"metric", "acc"}}})
                .find(file + ":$.eval.tasks[0].metric: group both has no score \"acc\"; it has: "
                             "exact_match,whole, exact_match_macro,whole"),
            std::string::npos)
      << message({{{"task", "both"}, {"metric", "acc"}}});
  EXPECT_NE(
      message({"no_such_task"}).find(file + ":$.eval.tasks[0]: unknown task \"no_such_task\""),
      std::string::npos)
      << message({"no_such_task"});
  EXPECT_NE(
      message({"both", "sub_a"}).find(file + ":$.eval.tasks[1]: task \"sub_a\" is listed twice"),
      std::string::npos)
      << message({"both", "sub_a"});
}

}  // namespace
}  // namespace dreamer::experiments
