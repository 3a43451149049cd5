// `dreamer query` and `dreamer report` as a user runs them: output, exit codes, messages.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "results/sqlite.h"
#include "tests/results/report_fixture.h"
#include "tests/test_util.h"
#include "util/fs.h"

namespace dreamer::testing {
namespace {

TEST(CliQuery, NamedQueryAsJsonAndReadOnlySql) {
  const std::string db = make_report_db();
  auto runs = run_cli("query " + db + " runs --format json");
  ASSERT_EQ(runs.exit_code, 0) << runs.output;
  const auto rows = nlohmann::json::parse(runs.output);
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0]["run_id"], "exp/dense/seed0");
  EXPECT_EQ(rows[0]["params"], 1.2e6);

  auto csv =
      run_cli("query " + db + " \"SELECT arm, count(*) AS n FROM runs GROUP BY arm\" --format csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_EQ(csv.output, "arm,n\r\ndense,2\r\ndreamer,2\r\nmoe,1\r\nsolo,1\r\nwaiting,1\r\n");

  auto remove = run_cli("query " + db + " \"DELETE FROM runs\"");
  EXPECT_EQ(remove.exit_code, 1);
  EXPECT_NE(remove.output.find("attempt to write a readonly database"), std::string::npos)
      << remove.output;
  results::Database check(db);
  results::Statement count(check, "SELECT count(*) FROM runs");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 7);

  auto list = run_cli("query --list");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("diversity"), std::string::npos);
}

TEST(CliReport, WritesTheReportAndFailsClearlyOnBadInput) {
  const std::string db = make_report_db();
  const std::string out = temp_dir() + "/report";
  auto ok = run_cli("report " + db + " --out " + out + " --experiment exp --no-plots");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("## Experiment exp"), std::string::npos);
  EXPECT_TRUE(fs::exists(out + "/report.md"));

  auto missing = run_cli("report /nonexistent/results.db --out " + out);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("/nonexistent/results.db: no such file"), std::string::npos)
      << missing.output;

  auto unknown = run_cli("report " + db + " --out " + out + " --experiment nope");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("--experiment: no experiment \"nope\""), std::string::npos)
      << unknown.output;
}

}  // namespace
}  // namespace dreamer::testing
