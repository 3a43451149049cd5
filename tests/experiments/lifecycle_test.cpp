// The run lifecycle: evaluations redone after a kill, fingerprints checked on resume, reruns
// refused without --resume/--force, --force replacing rows only at its first checkpoint, stop
// signals, pauses, checkpoint write failures, leases and divergence (docs/EXPERIMENTS.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "experiments/runner.h"
#include "results/store.h"
#include "tests/experiments/db_rows.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "train/durable_io.h"
#include "train/run_control.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::experiments {
namespace {

struct Dir {
  std::string path = testing::temp_dir();
  std::string db() const { return path + "/results.db"; }
  std::string run_dir(const std::string& arm) const {
    return path + "/runs/tiny/" + arm + "/seed0";
  }
};

ExperimentPlan plan_in(const Dir& dir, const nlohmann::json& exp) {
  const std::string file = dir.path + "/tiny.json";
  std::ofstream(file) << exp.dump();
  return plan_experiment(read_experiment(file), eval::task_search_dirs());
}

nlohmann::json one_arm() {
  auto exp = testing::tiny_experiment();
  exp["arms"].erase(1);  // the dreamer arm only
  exp["report"].erase("reference_arm");
  return exp;
}

RunnerOptions options_in(const Dir& dir) {
  RunnerOptions o;
  o.db = dir.db();
  o.out_dir = dir.path + "/runs";
  o.progress = false;
  return o;
}

std::string text(const std::string& db, const std::string& sql) {
  results::Database d(db);
  results::Statement s(d, sql);
  if (!s.step()) return "(no row)";
  return s.column_is_null(0) ? "NULL" : s.column_text(0);
}

double number(const std::string& db, const std::string& sql) {
  return std::stod(text(db, sql));
}

std::string results_rows(const std::string& db) {
  return testing::result_rows(db);
}

class RunnerLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    threads_ = torch::get_num_threads();
    torch::set_num_threads(1);  // bit-for-bit comparisons between runs
    train::request_stop(0);
  }
  void TearDown() override {
    torch::set_num_threads(threads_);
    train::set_test_point_hook(nullptr);
    train::request_stop(0);
  }
  int threads_ = 1;
};

// Throws at the n-th time `point` is reached: what a kill there leaves behind, in-process.
struct Killed : std::runtime_error {
  Killed() : std::runtime_error("killed by the test") {}
};
void kill_at(const std::string& point, int nth) {
  auto count = std::make_shared<int>(0);
  train::set_test_point_hook([=](const std::string& name) {
    if (name == point && ++*count == nth) throw Killed();
  });
}

TEST_F(RunnerLifecycle, AnEvaluationLostToAKillIsRedoneOnResume) {
  Dir straight, killed;
  run_experiment(plan_in(straight, one_arm()), options_in(straight));

  kill_at("eval-task", 2);  // the final checkpoint (step 8) is on disk, its scores are not stored
  EXPECT_THROW(run_experiment(plan_in(killed, one_arm()), options_in(killed)), Killed);
  train::set_test_point_hook(nullptr);
  EXPECT_EQ(text(killed.db(), "SELECT status FROM runs"), "failed");
  EXPECT_TRUE(fs::is_directory(killed.run_dir("dreamer") + "/step-000008"));
  EXPECT_EQ(
      number(killed.db(), "SELECT COUNT(*) FROM eval_results WHERE checkpoint = 'step-000008'"), 0);

  auto resume = options_in(killed);
  resume.resume = true;
  run_experiment(plan_in(killed, one_arm()), resume);
  EXPECT_EQ(text(killed.db(), "SELECT status FROM runs"), "finished");
  // Redone from the checkpoint with the RNG state it saved: the uninterrupted run's scores.
  EXPECT_EQ(
      number(killed.db(), "SELECT COUNT(*) FROM eval_results WHERE checkpoint = 'step-000008'"),
      number(straight.db(), "SELECT COUNT(*) FROM eval_results WHERE checkpoint = 'step-000008'"));
  EXPECT_EQ(results_rows(killed.db()), results_rows(straight.db()));
}

TEST_F(RunnerLifecycle, ResumeRefusesAChangedFingerprintAndWritesNothing) {
  Dir dir;
  auto paused = options_in(dir);
  paused.stop_after_step = 4;
  run_experiment(plan_in(dir, one_arm()), paused);
  EXPECT_EQ(text(dir.db(), "SELECT status FROM runs"), "paused");
  const std::string started = text(dir.db(), "SELECT started_at FROM runs");
  const std::string before =
      results_rows(dir.db()) + text(dir.db(), "SELECT spec_json FROM experiments");

  auto changed = one_arm();
  changed["arms"][0]["model"]["recurrence"]["mean"] = 3;  // same shapes: loading would succeed
  changed["reference"]["model"]["recurrence"]["mean"] = 3;
  auto resume = options_in(dir);
  resume.resume = true;
  try {
    run_experiment(plan_in(dir, changed), resume);
    ADD_FAILURE() << "resumed with a changed recurrence mean";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("tiny/dreamer/seed0: $.model.recurrence.mean differs"), std::string::npos)
        << what;
    EXPECT_NE(what.find("(2 then, 3 now)"), std::string::npos) << what;
    EXPECT_NE(what.find("--allow-changes model.recurrence.mean"), std::string::npos) << what;
  }
  EXPECT_EQ(results_rows(dir.db()) + text(dir.db(), "SELECT spec_json FROM experiments"), before);

  // A prefix allows everything under it; the default depth followed the mean, so the evaluated
  // depths changed too (and every checkpoint is evaluated again at them).
  resume.allow_changes = {"model.recurrence", "eval.depths"};
  run_experiment(plan_in(dir, changed), resume);
  EXPECT_EQ(text(dir.db(), "SELECT status FROM runs"), "finished");
  EXPECT_EQ(text(dir.db(), "SELECT json_extract(allowed_changes_json, '$[0].field') FROM runs"),
            "$.model.recurrence.mean");
  EXPECT_EQ(text(dir.db(), "SELECT json_extract(allowed_changes_json, '$[0].at_step') FROM runs"),
            "4");
  EXPECT_EQ(text(dir.db(), "SELECT json_extract(allowed_changes_json, '$[1].field') FROM runs"),
            "$.eval.depths");
  EXPECT_EQ(text(dir.db(), "SELECT COUNT(DISTINCT checkpoint) FROM eval_results WHERE depth = 3"),
            "2");
  EXPECT_EQ(
      text(dir.db(), "SELECT json_extract(fingerprint_json, '$.model.recurrence.mean') FROM runs"),
      "3");
  EXPECT_EQ(text(dir.db(), "SELECT started_at FROM runs"), started);  // the first start's
  EXPECT_EQ(number(dir.db(), "SELECT steps_trained FROM runs"), 8);
  EXPECT_GE(number(dir.db(), "SELECT wall_seconds FROM runs"),
            number(dir.db(), "SELECT elapsed_s FROM train_metrics WHERE step = 4"));
}

TEST_F(RunnerLifecycle, RerunsNeedResumeOrForceAndForceReplacesRowsOnlyAtItsFirstCheckpoint) {
  Dir dir;
  const auto plan = plan_in(dir, one_arm());
  run_experiment(plan, options_in(dir));
  const std::string stored = results_rows(dir.db());
  const std::string start = text(dir.db(), "SELECT start_id FROM runs");
  try {
    run_experiment(plan, options_in(dir));
    ADD_FAILURE() << "a rerun without --resume or --force went ahead";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("tiny/dreamer/seed0 (finished, 8/8 steps, checkpoints in "),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("--resume to continue"), std::string::npos) << what;
    EXPECT_NE(what.find("--force to start them afresh"), std::string::npos) << what;
  }

  auto force = options_in(dir);
  force.force = true;
  kill_at("checkpoint-begin", 1);  // the new run dies before its first checkpoint
  EXPECT_THROW(run_experiment(plan, force), Killed);
  train::set_test_point_hook(nullptr);
  EXPECT_EQ(results_rows(dir.db()), stored);  // the old run is intact, rows and checkpoints
  EXPECT_TRUE(fs::exists(dir.run_dir("dreamer") + "/step-000008/model.pt"));

  run_experiment(plan, force);
  EXPECT_EQ(results_rows(dir.db()), stored);  // the same inputs train to the same rows...
  EXPECT_NE(text(dir.db(), "SELECT start_id FROM runs"), start);  // ...of a new start
  EXPECT_FALSE(fs::exists(dir.run_dir("dreamer") + ".restart"));
  EXPECT_FALSE(fs::exists(dir.run_dir("dreamer") + ".replaced"));
}

TEST_F(RunnerLifecycle, AStopSignalCheckpointsAtTheNextStepAndMarksTheRunInterrupted) {
  Dir straight, dir;
  run_experiment(plan_in(straight, testing::tiny_experiment()), options_in(straight));

  auto steps = std::make_shared<int>(0);
  train::set_test_point_hook([=](const std::string& name) {
    if (name == "step" && ++*steps == 3) train::request_stop(SIGTERM);
  });
  const auto summary = run_experiment(plan_in(dir, testing::tiny_experiment()), options_in(dir));
  train::set_test_point_hook(nullptr);
  EXPECT_EQ(summary.interrupted_by, SIGTERM);
  EXPECT_EQ(text(dir.db(), "SELECT status || ' ' || steps_trained FROM runs WHERE arm = 'dreamer'"),
            "interrupted 3");
  EXPECT_TRUE(fs::is_directory(dir.run_dir("dreamer") + "/step-000003"));
  EXPECT_EQ(text(dir.db(), "SELECT COUNT(*) FROM runs WHERE arm = 'dense'"), "0");  // never started

  train::request_stop(0);
  auto resume = options_in(dir);
  resume.resume = true;
  EXPECT_EQ(run_experiment(plan_in(dir, testing::tiny_experiment()), resume).interrupted_by, 0);
  EXPECT_EQ(results_rows(dir.db()), results_rows(straight.db()));
}

TEST_F(RunnerLifecycle, ACheckpointThatCannotBeWrittenFailsTheRunWithThePathAndKeepsWhatWasStored) {
  Dir dir;
  const std::string partial = dir.run_dir("dreamer") + "/step-000008.partial";
  auto begins = std::make_shared<int>(0);
  auto armed = std::make_shared<bool>(false);
  train::set_test_point_hook([=](const std::string& name) {
    if (name == "checkpoint-begin") *armed = ++*begins == 2;
    if (name == "checkpoint-write" && *armed) {  // a file where the directory is expected
      *armed = false;
      fs::remove_all(partial);
      std::ofstream(partial) << "not a directory";
    }
  });
  try {
    run_experiment(plan_in(dir, one_arm()), options_in(dir));
    ADD_FAILURE() << "the checkpoint write did not fail";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), partial + "/model.pt: cannot create: not a directory");
  }
  train::set_test_point_hook(nullptr);
  EXPECT_EQ(text(dir.db(), "SELECT status FROM runs"), "failed");
  EXPECT_EQ(text(dir.db(), "SELECT status_detail FROM runs"),
            partial + "/model.pt: cannot create: not a directory");
  EXPECT_EQ(
      text(dir.db(), "SELECT group_concat(name) FROM checkpoints WHERE evaluated_at IS NOT NULL"),
      "step-000004");
  EXPECT_TRUE(fs::exists(dir.run_dir("dreamer") + "/step-000004/model.pt"));

  // The real ENOSPC of /dev/full, through the same writer.
  try {
    train::write_file_durably("/dev/full", "x");
    ADD_FAILURE() << "wrote to /dev/full";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "/dev/full: cannot write: no space left on device");
  }

  fs::remove_all(partial);
  auto resume = options_in(dir);
  resume.resume = true;
  run_experiment(plan_in(dir, one_arm()), resume);
  EXPECT_EQ(text(dir.db(), "SELECT status FROM runs"), "finished");
}

TEST_F(RunnerLifecycle, ARunHeldByAnotherLiveProcessIsRefusedAndAStaleLeaseTakenOver) {
  Dir dir;
  const auto plan = plan_in(dir, one_arm());
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  {
    results::ResultStore store(dir.db());
    // pid 1 is alive on this host, with a fresh heartbeat: a live holder.
    store.acquire_lease("tiny/dreamer/seed0", 1, host,
                        [](const results::LeaseHolder&) { return true; });
  }
  try {
    run_experiment(plan, options_in(dir));
    ADD_FAILURE() << "ran a run another process holds";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny/dreamer/seed0: is being run by process 1 on " +
                                         std::string(host)),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(text(dir.db(), "SELECT COUNT(*) FROM runs"), "0");
  {
    results::Database d(dir.db());
    // A pid above Linux's largest pid_max never exists: the holder is gone.
    d.exec("UPDATE run_leases SET pid = 4194305");
  }
  run_experiment(plan, options_in(dir));
  EXPECT_EQ(text(dir.db(), "SELECT status FROM runs"), "finished");
  EXPECT_EQ(text(dir.db(), "SELECT COUNT(*) FROM run_leases"), "0");  // released at the end
}

TEST_F(RunnerLifecycle, ADivergedRunIsMarkedAtItsStepAndTheGridContinues) {
  Dir dir;
  auto exp = testing::tiny_experiment();
  exp["arms"][0]["train"] = {{"optimizer", {{"lr", 1e30}}}};  // the dreamer arm blows up
  const auto summary = run_experiment(plan_in(dir, exp), options_in(dir));
  ASSERT_EQ(summary.diverged.size(), 1u);
  EXPECT_EQ(text(dir.db(), "SELECT status FROM runs WHERE arm = 'dreamer'"), "diverged");
  EXPECT_EQ(text(dir.db(), "SELECT status FROM runs WHERE arm = 'dense'"), "finished");
  const std::string detail = text(dir.db(), "SELECT status_detail FROM runs WHERE arm = 'dreamer'");
  EXPECT_NE(detail.find(" at step "), std::string::npos) << detail;
  const int64_t at = std::stoll(detail.substr(detail.rfind(' ') + 1));
  EXPECT_EQ(number(dir.db(), "SELECT steps_trained FROM runs WHERE arm = 'dreamer'"), at - 1);
  EXPECT_EQ(summary.diverged[0], "tiny/dreamer/seed0: " + detail);

  auto resume = options_in(dir);  // --resume leaves a diverged run alone
  resume.resume = true;
  run_experiment(plan_in(dir, exp), resume);
  EXPECT_EQ(text(dir.db(), "SELECT status FROM runs WHERE arm = 'dreamer'"), "diverged");
}

}  // namespace
}  // namespace dreamer::experiments
