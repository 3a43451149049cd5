// The report's tables and findings on a hand-filled database (tests/results/report_fixture.cpp
// derives every expected number by hand from its rows).
#include "results/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "results/findings.h"
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

// The two bounds of the first "[low, high]" in `text` (ratios may carry an "x").
std::pair<double, double> bounds(const std::string& text) {
  const auto open = text.find('[');
  if (open == std::string::npos) return {-1, -1};
  const auto comma = text.find(',', open);
  return {std::stod(text.substr(open + 1)), std::stod(text.substr(comma + 1))};
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
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

  // Bootstrap intervals (seeds, then items): dense arith has seeds at 0.48 and 0.52 with 100
  // items each; item noise sd about sqrt(0.25 / 100) / sqrt(2) = 0.035, seed noise 0.014, so
  // the interval is about 0.5 +- 0.075. Asserted against that approximation, loosely.
  const std::string dense_arith = cell(t, {"dense"}, "arith (acc)");
  ASSERT_TRUE(starts_with(dense_arith, "0.500 [")) << dense_arith;
  EXPECT_NEAR(bounds(dense_arith).first, 0.425, 0.025) << dense_arith;
  EXPECT_NEAR(bounds(dense_arith).second, 0.575, 0.025) << dense_arith;
  EXPECT_TRUE(starts_with(cell(t, {"dreamer"}, "arith (acc)"), "0.700 ["));  // depth 4, not 1, 8
  // moe: one seed without samples: normal from its stderr, 0.2 +- 1.96 * 0.04.
  EXPECT_EQ(cell(t, {"moe"}, "arith (acc)"), "0.200 [0.122, 0.278]†");
  // dense logic: both seeds the same 40 of 100: about 0.4 +- 1.96 * sqrt(0.24 / 100) / sqrt(2).
  const std::string dense_logic = cell(t, {"dense"}, "logic (acc)");
  ASSERT_TRUE(starts_with(dense_logic, "0.400 [")) << dense_logic;
  EXPECT_NEAR(bounds(dense_logic).first, 0.332, 0.015) << dense_logic;
  EXPECT_NEAR(bounds(dense_logic).second, 0.468, 0.015) << dense_logic;
  EXPECT_EQ(cell(t, {"moe"}, "logic (acc)"), "0.500");  // one seed, no stderr, no samples
  EXPECT_EQ(cell(t, {"dreamer"}, "ppl (bits_per_byte, lower is better)"), "1.000 (1 of 2 seeds)");
  EXPECT_EQ(cell(t, {"moe"}, "ppl (bits_per_byte, lower is better)"), "—");
  EXPECT_TRUE(starts_with(cell(t, {"dense"}, "average"), "0.450 ["));
  EXPECT_TRUE(starts_with(cell(t, {"dreamer"}, "average"), "0.500 ["));
  EXPECT_EQ(cell(t, {"moe"}, "average"), "0.350");  // logic has neither samples nor stderr
}

TEST_F(ReportTest, PairedComparisonAgainstTheReferenceOnTheSameItems) {
  const auto a = analysis();
  const auto& arith = find_arm(a, "dreamer")->against_reference.at("arith");
  ASSERT_TRUE(arith.paired.has_value());
  EXPECT_EQ(arith.paired->seeds, 2);
  EXPECT_EQ(arith.paired->items, 100);
  EXPECT_EQ(arith.paired->a_only, 40);  // 20 per seed pair (report_fixture.cpp)
  EXPECT_EQ(arith.paired->b_only, 0);
  EXPECT_NEAR(arith.paired->p_value, 2.0 / std::pow(2.0, 40), 1e-15);
  EXPECT_NEAR(arith.paired->difference, 0.2, 1e-12);
  EXPECT_GT(arith.paired->interval.low, 0.1);
  EXPECT_LT(arith.paired->interval.high, 0.3);
  EXPECT_TRUE(arith.significant && arith.a_better);
  const auto& logic = find_arm(a, "dreamer")->against_reference.at("logic");
  ASSERT_TRUE(logic.paired.has_value());
  EXPECT_EQ(logic.paired->a_only, 50);
  EXPECT_EQ(logic.paired->b_only, 70);
  EXPECT_NEAR(logic.paired->p_value, 0.0824075, 1e-6);
  EXPECT_FALSE(logic.significant);

  const Table t = build_experiment_report(a).paired;
  EXPECT_EQ(cell(t, {"dreamer", "arith (acc)"}, "n"), "100 x 2 seeds");
  EXPECT_EQ(cell(t, {"dreamer", "arith (acc)"}, "arm only / reference only"), "40 / 0");
  EXPECT_EQ(cell(t, {"dreamer", "arith (acc)"}, "McNemar p"), "< 0.0001");
  EXPECT_EQ(cell(t, {"dreamer", "arith (acc)"}, "verdict"), "dreamer higher");
  EXPECT_TRUE(starts_with(cell(t, {"dreamer", "arith (acc)"}, "difference [95%]"), "+0.200 ["));
  EXPECT_EQ(cell(t, {"dreamer", "logic (acc)"}, "McNemar p"), "0.0824");
  EXPECT_EQ(cell(t, {"dreamer", "logic (acc)"}, "verdict"), "no difference detected");
  EXPECT_TRUE(starts_with(cell(t, {"dreamer", "logic (acc)"}, "difference [95%]"), "-0.100 ["));
  // moe has no samples: unpaired, and its normal interval [0.122, 0.278] lies below dense's.
  EXPECT_EQ(cell(t, {"moe", "arith (acc)"}, "difference [95%]"), "unpaired");
  EXPECT_EQ(cell(t, {"moe", "arith (acc)"}, "verdict"), "dense higher");
  EXPECT_EQ(cell(t, {"moe", "logic (acc)"}, "verdict"), "not compared");  // no interval for moe
  EXPECT_EQ(cell(t, {"dreamer", "ppl (bits_per_byte, lower is better)"}, "verdict"),
            "not compared");
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
  // 0.5 is 3/4 of the way from 0.2 to 0.6, in log(tokens) between 100 and 200.
  EXPECT_NEAR(arith->arm_tokens, 168.179283, 1e-6);
  EXPECT_NEAR(arith->ratio, 2.378414, 1e-6);
  // In every resample dense reaches its final value at 400 and dreamer before 400 (mostly
  // between 100 and 200 tokens: ratio 2 to 4; report_fixture.cpp).
  ASSERT_TRUE(arith->interval.has_value());
  EXPECT_GT(arith->interval->low, 1.0);
  EXPECT_LE(arith->interval->high, 4.0);
  EXPECT_DOUBLE_EQ(arith->reached_share, 1.0);

  const Table t = build_experiment_report(a).tokens_to_accuracy;
  ASSERT_EQ(t.rows.size(), 2u);  // dreamer, moe: not the reference itself
  EXPECT_TRUE(starts_with(cell(t, {"dreamer"}, "arith (acc)"), "2.38x ["))
      << cell(t, {"dreamer"}, "arith (acc)");
  EXPECT_EQ(cell(t, {"dreamer"}, "logic (acc)"), "< 1.00x");  // no samples before ck400
  EXPECT_EQ(cell(t, {"dreamer"}, "ppl (bits_per_byte, lower is better)"), "2.00x");
  EXPECT_EQ(cell(t, {"moe"}, "arith (acc)"), "< 2.00x");
  // 0.3 -> 0.5 between 100 and 200 reaches 0.4 halfway, at sqrt(100 * 200): 400 / 141.42.
  EXPECT_EQ(cell(t, {"moe"}, "logic (acc)"), "2.83x");
  EXPECT_EQ(cell(t, {"moe"}, "ppl (bits_per_byte, lower is better)"), "n/a");
}

TEST_F(ReportTest, AccuracyByDepthForRecurrentArmsOnly) {
  const Table t = build_experiment_report(analysis()).by_depth;
  EXPECT_EQ(t.header, (std::vector<std::string>{"arm", "task", "depth 1", "depth 4", "depth 8"}));
  ASSERT_EQ(t.rows.size(), 3u);  // dreamer x 3 tasks; dense and moe ran one depth
  EXPECT_TRUE(starts_with(cell(t, {"dreamer", "arith (acc)"}, "depth 1"), "0.300 ["));
  EXPECT_TRUE(starts_with(cell(t, {"dreamer", "arith (acc)"}, "depth 4"), "0.700 ["));
  EXPECT_TRUE(starts_with(cell(t, {"dreamer", "arith (acc)"}, "depth 8"), "0.750 ["));
  EXPECT_TRUE(starts_with(cell(t, {"dreamer", "logic (acc)"}, "depth 4"), "0.300 ["));
  EXPECT_EQ(cell(t, {"dreamer", "ppl (bits_per_byte, lower is better)"}, "depth 4"), "1.000");
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

TEST_F(ReportTest, FindingsClaimOnlySignificantDifferences) {
  const auto f = build_experiment_report(analysis()).findings;
  std::ostringstream all;
  for (const auto& line : f) all << line << "\n";
  // The line starting with `prefix` contains each of `parts`.
  auto has = [&](const std::string& prefix, const std::vector<std::string>& parts) {
    for (const auto& line : f)
      if (starts_with(line, prefix))
        return std::all_of(parts.begin(), parts.end(),
                           [&](const std::string& p) { return line.find(p) != std::string::npos; });
    return false;
  };
  // Significant (paired): 40 vs 0 discordant.
  EXPECT_TRUE(
      has("arith (acc): dreamer 0.700 [", {" vs dense 0.500 [",
                                           ": dreamer is higher (paired, n=100 items x 2 seeds, "
                                           "p < 0.0001; difference +0.200 ["}))
      << all.str();
  // Not significant (paired): 50 vs 70 discordant, p = 0.0824.
  EXPECT_TRUE(
      has("logic (acc): dreamer 0.300 [", {" vs dense 0.400 [",
                                           ": no difference detected at this size (n=100 items x 2 "
                                           "seeds, p = 0.0824; difference -0.100 ["}))
      << all.str();
  // Significant (unpaired): moe's normal interval lies below dense's bootstrap interval.
  EXPECT_TRUE(has("arith (acc): moe 0.200 [0.122, 0.278]† vs dense 0.500 [",
                  {": dense is higher (n=100, 1 vs 2 seeds; unpaired: the 95% intervals do not "
                   "overlap)."}))
      << all.str();
  EXPECT_TRUE(has("logic (acc): moe 0.500 vs dense 0.400 [", {": not compared"})) << all.str();
  // The averages' intervals overlap: no claim.
  EXPECT_TRUE(
      has("Highest average over the higher-is-better tasks: dreamer (0.500 [",
          {"vs reference dense (0.450 [",
           "the 95% intervals overlap: no difference detected at this size", "others: moe 0.350."}))
      << all.str();
  // The tokens ratio is claimed only with an interval that excludes 1.
  EXPECT_TRUE(has(
      "Training tokens dreamer needs to reach dense's final value, relative to dense: ",
      {"arith 2.38x fewer tokens (95% interval [",
       "logic no claim (not reached, < 1.00x; no interval", "ppl no claim (2.00x; no interval"}))
      << all.str();
  EXPECT_TRUE(has("Training tokens moe needs",
                  {"arith no claim (not reached, < 2.00x;", "logic no claim (2.83x;", "ppl n/a."}))
      << all.str();
  EXPECT_TRUE(has("dreamer, arith (acc): 0.300 [",
                  {"at depth 1, 0.750 [", "at depth 8; highest point estimate at depth 8 (0.750)",
                   "depth 8 vs depth 1: depth 8 is higher (paired, n=100 items x 2 seeds, "
                   "p < 0.0001; difference +0.450 ["}))
      << all.str();
  EXPECT_TRUE(has("Intervals marked † are normal approximations", {})) << all.str();
  EXPECT_TRUE(
      has("Not finished, so their numbers are partial: exp/moe/seed0 (running, 200 "
          "tokens trained).",
          {}))
      << all.str();
  EXPECT_EQ(all.str().find("reached dense's final value on"), std::string::npos) << all.str();
}

TEST_F(ReportTest, RatioWordingFollowsItsInterval) {
  TokensRatio r;
  r.reached = true;
  r.ratio = 2.0;
  EXPECT_EQ(describe_ratio(r), "no claim (2.00x; no interval: no per-item samples or stderrs)");
  r.interval = Interval{1.5, 2.5, IntervalMethod::kBootstrap};
  EXPECT_EQ(describe_ratio(r), "2.00x fewer tokens (95% interval [1.50x, 2.50x])");
  r.interval = Interval{0.8, 3.1, IntervalMethod::kNormal};
  EXPECT_EQ(describe_ratio(r),
            "no difference detected at this size (2.00x, 95% interval [0.80x, 3.10x]† includes "
            "1)");
  r.ratio = 0.5;
  r.interval = Interval{0.3, 0.8, IntervalMethod::kBootstrap};
  EXPECT_EQ(describe_ratio(r), "2.00x more tokens (0.50x, 95% interval [0.30x, 0.80x])");
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
  EXPECT_NE(markdown.find("| dreamer | dreamer | 2 | 1M | 500K | 2 GFLOP | 1.5 GiB | 0.700 ["),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("### Paired comparison against the reference"), std::string::npos);
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
