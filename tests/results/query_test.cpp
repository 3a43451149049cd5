// Read-only queries and their three output formats.
#include "results/query.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>

#include "results/query_format.h"
#include "results/store.h"
#include "tests/results/report_fixture.h"
#include "tests/test_util.h"
#include "util/errors.h"

namespace dreamer::results {
namespace {

Cell integer(int64_t v) {
  Cell c;
  c.type = Cell::Type::kInteger;
  c.integer = v;
  return c;
}
Cell real(double v) {
  Cell c;
  c.type = Cell::Type::kReal;
  c.real = v;
  return c;
}
Cell text(const std::string& v) {
  Cell c;
  c.type = Cell::Type::kText;
  c.text = v;
  return c;
}

// Two rows covering every type, and text that needs CSV quoting.
QueryResult mixed() {
  return {
      {"name", "n", "value"},
      {{text("plain"), integer(12), real(0.25)}, {text("a, \"b\"\nc"), Cell{}, real(1200000.0)}}};
}

using testing::error_of;

TEST(QueryFormat, CsvQuotesFieldsAsRfc4180) {
  EXPECT_EQ(format_csv(mixed()),
            "name,n,value\r\n"
            "plain,12,0.25\r\n"
            "\"a, \"\"b\"\"\nc\",,1200000.0\r\n");
}

TEST(QueryFormat, JsonKeepsTypesAndColumnOrder) {
  const auto j = nlohmann::ordered_json::parse(format_json(mixed()));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0].begin().key(), "name");
  EXPECT_TRUE(j[0]["n"].is_number_integer());
  EXPECT_EQ(j[0]["n"], 12);
  EXPECT_TRUE(j[0]["value"].is_number_float());
  EXPECT_EQ(j[0]["value"], 0.25);
  EXPECT_TRUE(j[1]["n"].is_null());
  EXPECT_EQ(j[1]["name"], "a, \"b\"\nc");
}

TEST(QueryFormat, TableRightAlignsNumbersAndShowsNull) {
  QueryResult r{
      {"arm", "seed", "value"},
      {{text("dense"), integer(0), real(0.41666)}, {text("dreamer"), Cell{}, real(12.5)}}};
  EXPECT_EQ(format_table(r),
            "arm      seed   value\n"
            "-------  ----  ------\n"
            "dense       0  0.4167\n"
            "dreamer  NULL   12.50\n");
}

TEST(QueryFormat, RealsWithAboutFourSignificantDigitsAndWholeRealsAsIntegers) {
  EXPECT_EQ(format_number_for_table(real(1200000.0)), "1200000");
  EXPECT_EQ(format_number_for_table(real(0.41666)), "0.4167");
  EXPECT_EQ(format_number_for_table(real(2.34567)), "2.346");
  EXPECT_EQ(format_number_for_table(real(12345.67)), "12345.7");
  EXPECT_EQ(format_number_for_table(real(0.001234)), "0.001234");
  EXPECT_EQ(format_number_for_table(real(1.5e-5)), "1.5e-05");
  EXPECT_EQ(format_number_for_table(integer(-3)), "-3");
}

TEST(Query, NamedQueriesJoinTokensAndRunSqlOtherwise) {
  const ReadOnlyDatabase db(testing::make_report_db());
  const auto evals = db.query(resolve_query("evals"));
  EXPECT_EQ(evals.columns, (std::vector<std::string>{"run_id", "checkpoint", "tokens", "task",
                                                     "depth", "metric", "value", "stderr", "n"}));
  // First row: the first run by id, its earliest checkpoint (100 tokens), task arith.
  ASSERT_FALSE(evals.rows.empty());
  EXPECT_EQ(evals.rows[0][0].text, "exp/dense/seed0");
  EXPECT_EQ(evals.rows[0][2].integer, 100);
  EXPECT_EQ(evals.rows[0][6].real, 0.08);
  EXPECT_EQ(db.query(resolve_query("runs")).rows.size(), 7u);
  const auto diversity = db.query(resolve_query("diversity"));
  ASSERT_FALSE(diversity.rows.empty());
  EXPECT_EQ(diversity.columns[2], "arm");
  for (const auto& q : named_queries()) EXPECT_NO_THROW(run_query(db, q.name)) << q.name;
  const auto sql = db.query("SELECT count(*) AS n FROM runs WHERE arm = ?1", {"dreamer"});
  EXPECT_EQ(sql.rows[0][0].integer, 2);
}

// The row of `result` whose first cells are `key`, or null.
const std::vector<Cell>* find_row(const QueryResult& result, const std::vector<std::string>& key) {
  for (const auto& row : result.rows)
    if (std::equal(key.begin(), key.end(), row.begin(),
                   [](const std::string& k, const Cell& c) { return c.to_string() == k; }))
      return &row;
  return nullptr;
}

size_t column(const QueryResult& result, const std::string& name) {
  return static_cast<size_t>(std::find(result.columns.begin(), result.columns.end(), name) -
                             result.columns.begin());
}

TEST(Query, EvalsCarryTheir95PercentInterval) {
  const ReadOnlyDatabase db(testing::make_report_db());
  const auto evals = run_query(db, "evals");
  EXPECT_EQ(evals.columns,
            (std::vector<std::string>{"run_id", "checkpoint", "tokens", "task", "depth", "metric",
                                      "value", "stderr", "n", "ci_low", "ci_high", "ci_method"}));
  const size_t low = column(evals, "ci_low"), high = column(evals, "ci_high"),
               method = column(evals, "ci_method");
  // 8 of 100 right, with samples: bootstrap, about 0.08 +- 1.96 * sqrt(0.08 * 0.92 / 100) =
  // 0.08 +- 0.053 (the binomial is skewed this close to 0, so loosely).
  const auto* sampled = find_row(evals, {"exp/dense/seed0", "ck100", "100", "arith"});
  ASSERT_NE(sampled, nullptr);
  EXPECT_EQ((*sampled)[method].text, "bootstrap");
  EXPECT_NEAR((*sampled)[low].real, 0.027, 0.015);
  EXPECT_NEAR((*sampled)[high].real, 0.133, 0.015);
  // No samples, stderr 0.04: normal, 0.2 +- 0.0784.
  const auto* normal = find_row(evals, {"exp/moe/seed0", "ck200", "200", "arith", "1", "acc"});
  ASSERT_NE(normal, nullptr);
  EXPECT_EQ((*normal)[method].text, "normal");
  EXPECT_NEAR((*normal)[low].real, 0.2 - 1.959964 * 0.04, 1e-6);
  EXPECT_NEAR((*normal)[high].real, 0.2 + 1.959964 * 0.04, 1e-6);
  // Neither: NULL.
  const auto* neither = find_row(evals, {"exp/moe/seed0", "ck100", "100", "arith"});
  ASSERT_NE(neither, nullptr);
  EXPECT_TRUE((*neither)[low].is_null());
  EXPECT_TRUE((*neither)[method].is_null());
}

TEST(Query, PairedComparesEachArmWithTheReference) {
  const ReadOnlyDatabase db(testing::make_report_db());
  const auto paired = run_query(db, "paired");
  ASSERT_EQ(paired.rows.size(), 5u);  // dreamer: arith, logic, ppl; moe: arith, logic
  const auto* arith = find_row(paired, {"exp", "arith", "acc", "dreamer", "dense"});
  ASSERT_NE(arith, nullptr);
  EXPECT_EQ((*arith)[column(paired, "seeds")].integer, 2);
  EXPECT_EQ((*arith)[column(paired, "items")].integer, 100);
  EXPECT_EQ((*arith)[column(paired, "arm_only")].integer, 40);
  EXPECT_EQ((*arith)[column(paired, "ref_only")].integer, 0);
  EXPECT_NEAR((*arith)[column(paired, "difference")].real, 0.2, 1e-12);
  EXPECT_NEAR((*arith)[column(paired, "p_value")].real, 2.0 / std::pow(2.0, 40), 1e-15);
  EXPECT_EQ((*arith)[column(paired, "method")].text, "paired");
  EXPECT_EQ((*arith)[column(paired, "significant")].integer, 1);
  const auto* logic = find_row(paired, {"exp", "logic", "acc", "dreamer", "dense"});
  ASSERT_NE(logic, nullptr);
  EXPECT_NEAR((*logic)[column(paired, "p_value")].real, 0.0824075, 1e-6);
  EXPECT_EQ((*logic)[column(paired, "significant")].integer, 0);
  const auto* moe = find_row(paired, {"exp", "arith", "acc", "moe", "dense"});
  ASSERT_NE(moe, nullptr);
  EXPECT_EQ((*moe)[column(paired, "method")].text, "unpaired");
  EXPECT_TRUE((*moe)[column(paired, "p_value")].is_null());
  EXPECT_EQ((*moe)[column(paired, "significant")].integer, 1);  // the intervals do not overlap
}

TEST(Query, WritesFailAndLeaveTheDatabaseUnchanged) {
  const std::string file = testing::make_report_db();
  const ReadOnlyDatabase db(file);
  const std::string message =
      error_of([&] { db.query("INSERT INTO experiment_tasks VALUES ('exp', 'x', 'acc', 1)"); });
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_NE(message.find("readonly"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { db.query("DELETE FROM runs"); }), "no error");
  Database check(file);
  Statement count(check,
                  "SELECT (SELECT count(*) FROM experiment_tasks), (SELECT count(*) FROM runs)");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 5);
  EXPECT_EQ(count.column_int(1), 7);
}

TEST(Query, ErrorsNameTheFileAndShowSqlitesMessage) {
  const std::string dir = testing::temp_dir();
  EXPECT_NE(error_of([&] {
              ReadOnlyDatabase(dir + "/missing.db");
            }).find(dir + "/missing.db: no such file"),
            std::string::npos);
  std::ofstream(dir + "/notes.txt") << "these are not the bytes of an SQLite database\n";
  const std::string not_db = error_of([&] { ReadOnlyDatabase(dir + "/notes.txt"); });
  EXPECT_NE(not_db.find(dir + "/notes.txt"), std::string::npos) << not_db;
  EXPECT_NE(not_db.find("not a database"), std::string::npos) << not_db;

  const std::string file = testing::make_report_db();
  const ReadOnlyDatabase db(file);
  const std::string bad = error_of([&] { db.query("SELECT * FROM nope"); });
  EXPECT_EQ(bad, file + ": SQL error: no such table: nope");
  EXPECT_NE(error_of([&] { db.query("SELECT 1; SELECT 2"); }).find("one SQL statement"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { db.query("SELECT 1; -- a comment\n"); }), "no error");
}

}  // namespace
}  // namespace dreamer::results
