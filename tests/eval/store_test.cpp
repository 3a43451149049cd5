// The SQLite results store: schema version, WAL, upserts that never duplicate, errors naming
// the file.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "results/query.h"
#include "results/store.h"
#include "tests/test_util.h"
#include "util/errors.h"

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

// A byte-level model once generated "\xc3z" (a lead byte without its continuation) mid-run and
// nlohmann::json's dump threw, killing the experiment after its training had finished.
TEST(ResultStore, GeneratedInvalidUtf8IsStoredWithReplacementCharacters) {
  const auto file = testing::temp_dir() + "/results.db";
  ResultStore store(file);
  auto r = sample_result(0.2);
  const std::string bad = std::string("7\xc3") + "z";
  r.samples[0].output = bad;
  r.samples[0].details = {{"resps", {{bad}}}};
  r.settings["last_output"] = bad;
  ASSERT_NO_THROW(store.write("run1", "/ck/a", r));
  Statement s(store.db(), "SELECT output, details_json FROM eval_samples");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.column_text(0), bad);                                   // the raw bytes stay
  EXPECT_EQ(s.column_text(1), "{\"resps\":[[\"7\xef\xbf\xbdz\"]]}");  // U+FFFD in the JSON
  Statement settings(store.db(), "SELECT settings_json FROM eval_results LIMIT 1");
  ASSERT_TRUE(settings.step());
  EXPECT_NE(settings.column_text(0).find("7\xef\xbf\xbdz"), std::string::npos);
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

namespace dreamer::results {
namespace {

using testing::input_error_of;

// Sets the process-wide lock timeout for one test and restores the default after.
struct LockTimeout {
  explicit LockTimeout(double seconds) { set_lock_timeout_seconds(seconds); }
  ~LockTimeout() { set_lock_timeout_seconds(120); }
};

TEST(ResultStorePaths, EmptyPathAndMemoryAreErrorsNotTemporaryDatabases) {
  for (const char* path : {"", ":memory:"}) {
    const auto e = input_error_of([&] { ResultStore store(path); });
    EXPECT_EQ(e.where(), "--db") << path;
    EXPECT_NE(std::string(e.what()).find("temporary database"), std::string::npos) << e.what();
  }
}

TEST(ResultStorePaths, MissingDirectoryIsNamed) {
  const auto dir = testing::temp_dir() + "/no_such_dir";
  const auto e = input_error_of([&] { ResultStore store(dir + "/results.db"); });
  EXPECT_EQ(e.where(), dir + "/results.db");
  EXPECT_EQ(e.message(), "cannot create the results database: directory \"" + dir +
                             "\" does not exist (No such file or directory)");
}

TEST(ResultStorePaths, ADirectoryOrAFileOfOtherBytesIsAnInputErrorNamingIt) {
  const auto dir = testing::temp_dir();
  EXPECT_EQ(input_error_of([&] { ResultStore store(dir); }).message(),
            "is a directory (expected an SQLite results database file)");
  const auto notes = dir + "/notes.db";
  std::ofstream(notes)
      << "these are not the bytes of an SQLite database, but long enough to look\n";
  const auto e = input_error_of([&] { ResultStore store(notes); });
  EXPECT_EQ(e.where(), notes);
  EXPECT_NE(e.message().find("file is not a database"), std::string::npos) << e.what();
}

TEST(ResultStoreSchema, NewerSchemaIsRefusedByWritersAndWarnedAboutByReaders) {
  const auto file = testing::temp_dir() + "/results.db";
  const auto known = static_cast<int64_t>(migrations().size());
  {
    ResultStore store(file);
    EXPECT_EQ(schema_warning(ReadOnlyDatabase(file)), "");
    Statement(store.db(), "UPDATE schema_version SET version = ?1").bind(1, known + 1).run();
  }
  const auto e = input_error_of([&] { ResultStore store(file); });
  EXPECT_EQ(e.where(), file);
  EXPECT_NE(e.message().find("schema version " + std::to_string(known + 1) +
                             " was written by a newer dreamer (this one knows up to " +
                             std::to_string(known) + "): refusing to write"),
            std::string::npos)
      << e.what();
  EXPECT_NE(schema_warning(ReadOnlyDatabase(file))
                .find(file + ": schema version " + std::to_string(known + 1) + " was written"),
            std::string::npos);
}

TEST(ResultStoreLocking, AWriterWaitsForALockHeldLessThanTheTimeout) {
  EXPECT_EQ(lock_timeout_seconds(), 120);  // the default
  const auto file = testing::temp_dir() + "/results.db";
  ResultStore{file};
  LockTimeout timeout(20);
  Database holder(file);
  holder.exec("BEGIN IMMEDIATE");
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    holder.exec("COMMIT");
  });
  const auto start = std::chrono::steady_clock::now();
  ResultStore writer(file);
  writer.write("run1", "ck", sample_result(0.5));
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  release.join();
  EXPECT_GE(waited, 1.4);  // it waited for the holder instead of failing
  EXPECT_EQ(count_rows(writer.db(), "eval_results"), 2);
}

TEST(ResultStoreLocking, AWriterGivesUpAfterTheTimeoutNamingTheFlag) {
  const auto file = testing::temp_dir() + "/results.db";
  ResultStore store(file);
  LockTimeout timeout(0.3);
  Database holder(file);
  holder.exec("BEGIN IMMEDIATE");
  const auto start = std::chrono::steady_clock::now();
  const auto e = input_error_of([&] { ResultStore(file).write("run1", "ck", sample_result(0.5)); });
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  holder.exec("ROLLBACK");
  EXPECT_EQ(e.where(), file);
  EXPECT_NE(e.message().find("database is locked (another process held the lock for more than "
                             "0.3 s; wait longer with --db-timeout SECONDS)"),
            std::string::npos)
      << e.what();
  EXPECT_GE(waited, 0.3);
  EXPECT_LT(waited, 2.0);
}

}  // namespace
}  // namespace dreamer::results
