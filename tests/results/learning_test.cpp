// "Did each run learn?": the rule against hand-computed cases, the majority rate from stored
// references, and the finding the report draws from them.
#include <gtest/gtest.h>

#include "results/experiment_data.h"
#include "results/learning.h"
#include "results/query.h"
#include "results/report.h"
#include "results/store.h"
#include "tests/test_util.h"

namespace dreamer::results {
namespace {

void add_run(Database& db, const std::string& id, int64_t seed, double first, double last,
             double last_stderr) {
  Statement(db, R"sql(
      INSERT INTO runs(run_id, experiment, arm, seed, family, config_json, train_json,
                       default_depth, status, tokens_trained)
      VALUES (?1, 'e', 'arm', ?2, 'dense_transformer', '{}', '{}', 1, 'finished', 200))sql")
      .bind_all(id, seed)
      .run();
  for (auto [name, tokens] : {std::pair{"ck100", 100}, std::pair{"ck200", 200}})
    Statement(db, R"sql(
        INSERT INTO checkpoints(run_id, name, step, tokens, path, created_at)
        VALUES (?1, ?2, ?3, ?3, '/ck', '2024-01-01'))sql")
        .bind_all(id, std::string(name), static_cast<int64_t>(tokens))
        .run();
  // ck200 sorts after ck100 by tokens, not by insertion: insert the last one first.
  for (auto [ck, value, se] :
       {std::tuple{"ck200", last, last_stderr}, std::tuple{"ck100", first, 0.03}})
    Statement(db, R"sql(
        INSERT INTO eval_results(run_id, checkpoint, task, depth, metric, value, n, stderr,
                                 settings_json, created_at)
        VALUES (?1, ?2, 't', 1, 'acc', ?3, 100, ?4, '{}', '2024-01-01'))sql")
        .bind_all(id, std::string(ck), value, se)
        .run();
}

TEST(LearningCheck, ThreeStandardErrorsAboveTheFirstCheckpointAndTheMajorityAnswer) {
  const auto file = testing::temp_dir() + "/learning.db";
  {
    ResultStore store(file);
    Database& db = store.db();
    db.exec(R"sql(
        INSERT INTO experiments(name, file, spec_json, reference_arm, created_at, updated_at)
          VALUES ('e', 'e.json', '{}', NULL, '2024-01-01', '2024-01-01');
        INSERT INTO experiment_tasks(experiment, task, metric, higher_is_better)
          VALUES ('e', 't', 'acc', 1);)sql");
    add_run(db, "learns", 0, 0.10, 0.60, 0.05);    // +0.50 > 0.15; 0.60 - 0.40 > 0.15
    add_run(db, "flat", 1, 0.10, 0.18, 0.03);      // +0.08 < 0.09
    add_run(db, "majority", 2, 0.05, 0.45, 0.05);  // +0.40, but 0.45 - 0.40 < 0.15
    // 100 stored samples of one evaluation: reference "1" on 40 of them, the rest spread.
    Statement insert(db, R"sql(
        INSERT INTO eval_samples(run_id, checkpoint, task, depth, doc_index, prompt, output,
                                 details_json) VALUES ('learns', 'ck200', 't', 1, ?1, 'p', '', ?2))sql");
    for (int64_t i = 0; i < 100; ++i)
      insert
          .bind_all(i,
                    nlohmann::json{{"reference", i < 40 ? "1" : std::to_string(2 + i % 8)}}.dump())
          .run();
  }
  ReadOnlyDatabase db(file);
  const auto data = load_experiment(db, "e");
  const auto majority = majority_rates(db, data);
  ASSERT_EQ(majority.count("t"), 1u);
  EXPECT_DOUBLE_EQ(majority.at("t"), 0.40);

  const auto checks = check_learning(data, majority);
  ASSERT_EQ(checks.size(), 3u);
  std::map<std::string, LearningCheck> by_run;
  for (const auto& c : checks) by_run[c.run_id] = c;
  EXPECT_DOUBLE_EQ(by_run.at("learns").first, 0.10);
  EXPECT_DOUBLE_EQ(by_run.at("learns").last, 0.60);
  EXPECT_EQ(by_run.at("learns").last_tokens, 200);
  EXPECT_EQ(by_run.at("learns").learned, true);
  EXPECT_EQ(by_run.at("flat").learned, false);
  EXPECT_EQ(by_run.at("majority").learned, false);
  // Without a majority rate the third run passes on its rise alone.
  for (const auto& c : check_learning(data, {}))
    if (c.run_id == "majority") EXPECT_EQ(c.learned, true);

  // A value that stays at 0 has a zero stderr: no rise, no learning.
  LearningCheck zero;
  {
    ExperimentData flat_zero = data;
    for (auto& e : flat_zero.evals)
      if (e.run_id == "flat") e.value = 0, e.stderr_ = 0.0;
    for (const auto& c : check_learning(flat_zero, {}))
      if (c.run_id == "flat") zero = c;
  }
  EXPECT_EQ(zero.learned, false);

  ExperimentReport report;
  add_learning_checks(report, checks);
  ASSERT_EQ(report.learning.rows.size(), 3u);
  ASSERT_EQ(report.findings.size(), 1u);
  EXPECT_NE(report.findings[0].find("2 of 3 runs did not learn t"), std::string::npos)
      << report.findings[0];
  EXPECT_NE(report.findings[0].find("arm seed 1"), std::string::npos);
}

}  // namespace
}  // namespace dreamer::results
