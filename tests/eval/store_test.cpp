// The SQLite results store: schema version, WAL, upserts that never duplicate, errors naming
// the file.
#include <gtest/gtest.h>

#include "results/store.h"
#include "tests/test_util.h"

namespace dreamer::results {
namespace {

eval::TaskResult sample_result(double accuracy) {
  eval::TaskResult r;
  r.task = "gsm8k";
  r.settings = {{"task", {{"prompt", "Question: {{question}}\nAnswer:"}}}};
  r.scores = {{4, "exact_match,strict-match", accuracy, 10, 0.1},
              {8, "exact_match,strict-match", 0.5, 10, std::nullopt}};
  r.samples = {{4, 0, "Question: q\nAnswer:", " 42", {{"reference", "42"}}}};
  r.routing = {{4, {{"ea", 1, 0, 7}, {"ea", 1, 1, 3}}, {{"ea", 0, "universal_score", 0.8}}}};
  return r;
}

int64_t count_rows(Database& db, const std::string& table) {
  Statement s(db, "SELECT COUNT(*) FROM " + table);
  s.step();
  return s.column_int(0);
}

TEST(ResultStore, RewritingTheSameResultUpdatesInsteadOfDuplicating) {
  const auto file = testing::temp_dir() + "/results.db";
  {
    ResultStore store(file);
    EXPECT_EQ(store.schema_version(), static_cast<int64_t>(migrations().size()));
    store.write("run1", "/ck/a", sample_result(0.2));
    store.write("run1", "/ck/a", sample_result(0.3));
    EXPECT_EQ(count_rows(store.db(), "eval_results"), 2);
    EXPECT_EQ(count_rows(store.db(), "eval_samples"), 1);
    EXPECT_EQ(count_rows(store.db(), "expert_counts"), 2);
    EXPECT_EQ(count_rows(store.db(), "expert_metrics"), 1);
    store.write("run1", "/ck/b", sample_result(0.4));  // another checkpoint: new rows
    EXPECT_EQ(count_rows(store.db(), "eval_results"), 4);
  }
  ResultStore reopened(file);  // migrations are not re-run on an up-to-date file
  EXPECT_EQ(reopened.schema_version(), static_cast<int64_t>(migrations().size()));
  Statement s(reopened.db(),
              "SELECT value, stderr, n, settings_json FROM eval_results WHERE checkpoint = '/ck/a' "
              "AND depth = 4");
  ASSERT_TRUE(s.step());
  EXPECT_DOUBLE_EQ(s.column_double(0), 0.3);
  EXPECT_DOUBLE_EQ(s.column_double(1), 0.1);
  EXPECT_EQ(s.column_int(2), 10);
  EXPECT_NE(s.column_text(3).find("Question:"), std::string::npos);
  EXPECT_FALSE(s.step());
  Statement null_stderr(reopened.db(), "SELECT stderr FROM eval_results WHERE depth = 8 LIMIT 1");
  ASSERT_TRUE(null_stderr.step());
  EXPECT_TRUE(null_stderr.column_is_null(0));
  Statement wal(reopened.db(), "PRAGMA journal_mode");
  ASSERT_TRUE(wal.step());
  EXPECT_EQ(wal.column_text(0), "wal");
}

TEST(ResultStore, ErrorsNameTheDatabaseFile) {
  try {
    ResultStore store("/nonexistent_dir/sub/results.db");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent_dir/sub/results.db"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dreamer::results
