// The report's tables and findings on a hand-filled database (tests/results/report_fixture.cpp
// derives every expected number by hand from its rows).
#include "results/report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "results/store.h"
#include "tests/results/report_fixture.h"
#include "tests/test_util.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::results {
namespace {


// The cell of `table` in the row starting with `key` (one or more leading cells), under `column`.
std::string cell(const Table& table, const std::vector<std::string>& key,
                 const std::string& column) {
  const auto col = std::find(table.header.begin(), table.header.end(), column);
  if (col == table.header.end()) return "<no column " + column + ">";
  for (const auto& row : table.rows)
    if (std::equal(key.begin(), key.end(), row.begin()))
      return row[static_cast<size_t>(col - table.header.begin())];
  return "<no row " + key.front() + ">";
}

class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { file_ = new std::string(testing::make_report_db()); }
  static void TearDownTestSuite() { delete file_; }
  static ExperimentAnalysis analysis(const std::string& name = "exp") {
    ReadOnlyDatabase db(*file_);
    return analyse(load_experiment(db, name));
  }
  static std::string* file_;
};
std::string* ReportTest::file_ = nullptr;

TEST_F(ReportTest, MainTableHasCostsAndSeedMeansAtTheLastCheckpoint) {
  const auto report = build_experiment_report(analysis());
  const Table& t = report.main;
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][0], "dense");  // the reference first
  EXPECT_EQ(cell(t, {"dense"}, "family"), "dense_transformer");
  EXPECT_EQ(cell(t, {"dense"}, "seeds"), "2");
  EXPECT_EQ(cell(t, {"dense"}, "params"), "1.2M");
  EXPECT_EQ(cell(t, {"dense"}, "FLOPs/token"), "3.4 GFLOP");
  EXPECT_EQ(cell(t, {"dense"}, "train memory"), "512 MiB");
  EXPECT_EQ(cell(t, {"dreamer"}, "params"), "1M");
  EXPECT_EQ(cell(t, {"dreamer"}, "active params"), "500K");
  EXPECT_EQ(cell(t, {"dreamer"}, "train memory"), "1.5 GiB");
  EXPECT_EQ(cell(t, {"moe"}, "train memory"), "768 MiB");

  EXPECT_EQ(cell(t, {"dense"}, "arith (acc)"), "0.500 ± 0.028");    // std(0.48, 0.52)
  EXPECT_EQ(cell(t, {"dreamer"}, "arith (acc)"), "0.700 ± 0.028");  // at depth 4, not 1 or 8
  EXPECT_EQ(cell(t, {"moe"}, "arith (acc)"), "0.200 ± 0.040");      // one seed: its stderr
  EXPECT_EQ(cell(t, {"dense"}, "logic (acc)"), "0.400 ± 0.000");
  EXPECT_EQ(cell(t, {"moe"}, "logic (acc)"), "0.500");  // one seed, no stderr
  EXPECT_EQ(cell(t, {"dreamer"}, "ppl (bits_per_byte, lower is better)"), "1.000 (1 of 2 seeds)");
  EXPECT_EQ(cell(t, {"moe"}, "ppl (bits_per_byte, lower is better)"), "—");
  EXPECT_EQ(cell(t, {"dense"}, "average"), "0.450");
  EXPECT_EQ(cell(t, {"dreamer"}, "average"), "0.500");
  EXPECT_EQ(cell(t, {"moe"}, "average"), "0.350");
}

TEST_F(ReportTest, TokensToAccuracyRatiosAgainstTheReference) {
  const auto a = analysis();
  const ArmSummary* dreamer = find_arm(a, "dreamer");
  ASSERT_NE(dreamer, nullptr);
  // Seed-mean curve of the reference: 0.1, 0.3, 0.5 at 100, 200, 400 tokens.
  const Curve& ref = find_arm(a, "dense")->curve.at("arith");
  ASSERT_EQ(ref.size(), 3u);
  EXPECT_NEAR(ref[1].value, 0.3, 1e-12);
  const auto& arith = dreamer->vs_reference.at("arith");
  ASSERT_TRUE(arith.has_value());
  EXPECT_TRUE(arith->reached);
  EXPECT_NEAR(arith->arm_tokens, 175.0, 1e-9);
  EXPECT_NEAR(arith->ratio, 400.0 / 175.0, 1e-9);

  const Table t = build_experiment_report(a).tokens_to_accuracy;
  ASSERT_EQ(t.rows.size(), 2u);  // dreamer, moe: not the reference itself
  EXPECT_EQ(cell(t, {"dreamer"}, "arith (acc)"), "2.29x");
  EXPECT_EQ(cell(t, {"dreamer"}, "logic (acc)"), "< 1.00x");
  EXPECT_EQ(cell(t, {"dreamer"}, "ppl (bits_per_byte, lower is better)"), "2.00x");
  EXPECT_EQ(cell(t, {"moe"}, "arith (acc)"), "< 2.00x");
  EXPECT_EQ(cell(t, {"moe"}, "logic (acc)"), "2.67x");
  EXPECT_EQ(cell(t, {"moe"}, "ppl (bits_per_byte, lower is better)"), "n/a");
}

TEST_F(ReportTest, AccuracyByDepthForRecurrentArmsOnly) {
  const Table t = build_experiment_report(analysis()).by_depth;
  EXPECT_EQ(t.header, (std::vector<std::string>{"arm", "task", "depth 1", "depth 4", "depth 8"}));
  ASSERT_EQ(t.rows.size(), 3u);  // dreamer x 3 tasks; dense and moe ran one depth
  EXPECT_EQ(t.rows[0],
            (std::vector<std::string>{"dreamer", "arith (acc)", "0.300", "0.700", "0.750"}));
  EXPECT_EQ(cell(t, {"dreamer", "logic (acc)"}, "depth 4"), "0.300");
  EXPECT_EQ(cell(t, {"dreamer", "logic (acc)"}, "depth 1"), "—");
}

TEST_F(ReportTest, ExpertDiversityAtTheLastCheckpointAndDefaultDepth) {
  const auto report = build_experiment_report(analysis());
  const Table& pooled = report.diversity;
  EXPECT_EQ(pooled.header, (std::vector<std::string>{"arm", "site", "usage_rel_perplexity",
                                                     "dead_expert_fraction", "universal_score"}));
  EXPECT_EQ(cell(pooled, {"dreamer", "ffn"}, "usage_rel_perplexity"), "0.750");
  EXPECT_EQ(cell(pooled, {"dreamer", "ffn"}, "universal_score"), "0.500");
  EXPECT_EQ(cell(pooled, {"dreamer", "ffn"}, "dead_expert_fraction"), "—");
  EXPECT_EQ(cell(pooled, {"moe", "ffn"}, "usage_rel_perplexity"), "0.950");
  EXPECT_EQ(cell(pooled, {"moe", "ffn"}, "dead_expert_fraction"), "0.250");
  const Table& by_depth = report.diversity_by_depth;
  EXPECT_EQ(cell(by_depth, {"dreamer", "ffn", "1"}, "max_vio"), "0.600");
  EXPECT_EQ(cell(by_depth, {"dreamer", "ffn", "2"}, "max_vio"), "0.300");
}

TEST_F(ReportTest, FindingsStateTheComparisonAndThePartialRuns) {
  const auto f = build_experiment_report(analysis()).findings;
  auto has = [&](const std::string& line) {
    return std::find(f.begin(), f.end(), line) != f.end();
  };
  std::ostringstream all;
  for (const auto& line : f) all << line << "\n";
  EXPECT_TRUE(
      has("Best average over the higher-is-better tasks: dreamer (0.500) vs reference "
          "dense (0.450); others: moe 0.350."))
      << all.str();
  EXPECT_TRUE(
      has("Best arm per task: arith (acc): dreamer (0.700); logic (acc): moe (0.500); "
          "ppl (bits_per_byte, lower is better): dreamer (1.000)."))
      << all.str();
  EXPECT_TRUE(
      has("dreamer reached dense's final value on 2 of 3 compared tasks: arith 2.29x "
          "fewer tokens; logic not reached (< 1.00x); ppl 2.00x fewer tokens."))
      << all.str();
  EXPECT_TRUE(
      has("moe reached dense's final value on 1 of 2 compared tasks: arith not reached "
          "(< 2.00x); logic 2.67x fewer tokens; ppl n/a."))
      << all.str();
  EXPECT_TRUE(
      has("dreamer, arith (acc): 0.300 at depth 1, 0.750 at depth 8; best at depth 8 "
          "(0.750)."))
      << all.str();
  EXPECT_TRUE(
      has("Not finished, so their numbers are partial: exp/moe/seed0 (running, 200 "
          "tokens trained)."))
      << all.str();
}

TEST_F(ReportTest, WithoutAReferenceArmTheRatiosAreNotApplicable) {
  const auto report = build_experiment_report(analysis("other"));
  EXPECT_TRUE(report.tokens_to_accuracy.rows.empty());
  EXPECT_NE(report.tokens_to_accuracy.empty_note.find("no reference arm"), std::string::npos);
  EXPECT_EQ(cell(report.main, {"solo"}, "arith (acc)"), "0.250");
  EXPECT_EQ(report.by_depth.empty_note, "No arm was evaluated at more than one depth.");
  EXPECT_NE(render_table(report.diversity).find("No expert metrics stored"), std::string::npos);
}

TEST_F(ReportTest, SaysWhenNothingWasEvaluated) {
  const auto report = build_experiment_report(analysis("pending"));
  EXPECT_EQ(cell(report.main, {"waiting"}, "arith (acc)"), "—");
  EXPECT_EQ(report.main.notes.back(),
            "Nothing has been evaluated yet, so every task column is empty.");
  EXPECT_EQ(report.by_depth.empty_note, "Nothing has been evaluated yet.");
  EXPECT_EQ(report.findings,
            (std::vector<std::string>{
                "Nothing has been evaluated yet: no scores in the tasks' metrics for any run.",
                "Not finished, so their numbers are partial: pending/waiting/seed0 (planned, 0 "
                "tokens trained)."}));
}

TEST_F(ReportTest, WritesReportMdForOneOrEveryExperiment) {
  const std::string out = testing::temp_dir() + "/out";
  ReportOptions options{*file_, out, "exp", false};
  const std::string markdown = write_report(options);
  std::ifstream in(out + "/report.md");
  std::stringstream written;
  written << in.rdbuf();
  EXPECT_EQ(written.str(), markdown);
  EXPECT_NE(markdown.find("## Experiment exp"), std::string::npos);
  EXPECT_EQ(markdown.find("## Experiment other"), std::string::npos);
  EXPECT_NE(markdown.find("| dreamer | dreamer | 2 | 1M | 500K | 2 GFLOP | 1.5 GiB | 0.700 ± "
                          "0.028 | 0.300 ± 0.000 | 1.000 (1 of 2 seeds) | 0.500 |"),
            std::string::npos)
      << markdown;
  options.experiment.clear();
  EXPECT_NE(write_report(options).find("## Experiment other"), std::string::npos);
}

TEST_F(ReportTest, BadInputIsAnErrorNamingWhatIsWrong) {
  auto message = [](const ReportOptions& o) -> std::string {
    try {
      write_report(o);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string out = testing::temp_dir();
  EXPECT_NE(message({"/nonexistent/results.db", out, "", false}).find("/nonexistent/results.db"),
            std::string::npos);
  const std::string unknown = message({*file_, out, "nope", false});
  EXPECT_NE(unknown.find("--experiment"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("\"nope\""), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("exp, other, pending"), std::string::npos) << unknown;

  const std::string empty = out + "/empty.db";
  ResultStore{empty};
  EXPECT_NE(message({empty, out, "", false}).find("no experiments"), std::string::npos);

  // A version-1 file: only the eval tables.
  const std::string old = out + "/old.db";
  {
    Database db(old);
    db.exec(migrations()[0]);
    db.exec(
        "CREATE TABLE schema_version(version INTEGER NOT NULL); "
        "INSERT INTO schema_version VALUES (1)");
  }
  const std::string old_message = message({old, out, "", false});
  EXPECT_NE(old_message.find("schema version 1"), std::string::npos) << old_message;
  EXPECT_NE(old_message.find(old), std::string::npos) << old_message;
}

TEST_F(ReportTest, PlotsArePngAndSvgFilesLinkedFromTheReport) {
  if (!gnuplot_problem().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const std::string out = testing::temp_dir() + "/plots";
  const std::string markdown = write_report({*file_, out, "exp", true});
  for (const std::string stem :
       {"loss_vs_tokens", "accuracy_vs_tokens_arith", "accuracy_vs_tokens_ppl",
        "expert_usage_dreamer_ffn", "expert_usage_moe_ffn"}) {
    for (const std::string ext : {".png", ".svg"}) {
      const std::string file = fs::join(out, "exp", stem + ext);
      ASSERT_TRUE(fs::exists(file)) << file;
      EXPECT_GT(fs::file_size(file), 1000) << file;
    }
    EXPECT_NE(markdown.find("(exp/" + stem + ".png)"), std::string::npos) << stem;
  }
  EXPECT_EQ(markdown.find("gnuplot failed"), std::string::npos) << markdown;
}

}  // namespace
}  // namespace dreamer::results
