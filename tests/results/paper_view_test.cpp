// The paper view on a small constructed database: each claim's measured figure is the one the
// rows below imply (worked out by hand in the comments), beside the paper's and their ratio.
#include <gtest/gtest.h>

#include "results/paper_view.h"
#include "results/store.h"
#include "tests/results/report_fixture.h"
#include "tests/test_util.h"

namespace dreamer::testing {
namespace {

using results::Database;
using results::Statement;

void run(Database& db, const std::string& experiment, const std::string& arm,
         const std::string& family) {
  Statement(db, R"sql(
      INSERT INTO runs(run_id, experiment, arm, seed, family, config_json, train_json, params,
                       active_params, flops_per_token, memory_bytes, default_depth, status, tokens_trained)
      VALUES (?1, ?2, ?3, 0, ?4, '{}', '{}', 1e6, 1e6, 1e9, 1e9, 1, 'finished', 400))sql")
      .bind_all(experiment + "/" + arm + "/seed0", experiment, arm, family)
      .run();
  for (const auto& [name, tokens] : {std::pair{"ck100", 100}, {"ck200", 200}, {"ck400", 400}})
    Statement(db,
              "INSERT INTO checkpoints(run_id, name, step, tokens, path, created_at) VALUES (?1, "
              "?2, ?3, ?3, '/ck', 'x')")
        .bind_all(experiment + "/" + arm + "/seed0", std::string(name),
                  static_cast<int64_t>(tokens))
        .run();
}

void eval(Database& db, const std::string& experiment, const std::string& arm,
          const std::string& ck, const std::string& task, const std::string& metric, double value) {
  Statement(db, R"sql(
      INSERT INTO eval_results(run_id, checkpoint, task, depth, metric, value, n, stderr, settings_json, created_at)
      VALUES (?1, ?2, ?3, 1, ?4, ?5, 100, NULL, '{}', 'x'))sql")
      .bind_all(experiment + "/" + arm + "/seed0", ck, task, metric, value)
      .run();
}

std::string make_paper_db() {
  const std::string file = temp_dir() + "/paper.db";
  results::ResultStore store(file);
  Database& db = store.db();
  db.exec(R"sql(
      INSERT INTO experiments(name, file, spec_json, reference_arm, created_at, updated_at) VALUES
        ('paper_main_table_small', 'm.json', '{}', 'moeut', 'x', 'x'),
        ('paper_token_efficiency_small', 't.json', '{}', 'moeut', 'x', 'x'),
        ('unrelated', 'u.json', '{}', NULL, 'x', 'x');
      INSERT INTO experiment_tasks(experiment, task, metric, higher_is_better) VALUES
        ('paper_main_table_small', 'gsm8k', 'acc', 1), ('paper_main_table_small', 'mathqa', 'acc', 1),
        ('paper_main_table_small', 'gsm8k_ppl', 'word_perplexity', 0),
        ('paper_token_efficiency_small', 'mathqa', 'acc', 1);
  )sql");
  // Main table: two Dreamer arms and a baseline. Best Dreamer GSM8K: DR+DA 0.1126 (not the
  // baseline's 0.5); best MathQA: DR+DA+EA 0.254; lowest perplexity: DR+DA 11.8.
  run(db, "paper_main_table_small", "DR+DA+EA", "dreamer");
  run(db, "paper_main_table_small", "DR+DA", "dreamer");
  run(db, "paper_main_table_small", "moeut", "moeut");
  for (const auto& [arm, g, q, p] :
       {std::tuple{"DR+DA+EA", 0.05, 0.254, 12.5}, std::tuple{"DR+DA", 0.1126, 0.22, 11.8},
        std::tuple{"moeut", 0.5, 0.6, 3.0}}) {
    eval(db, "paper_main_table_small", arm, "ck400", "gsm8k", "acc", g);
    eval(db, "paper_main_table_small", arm, "ck400", "mathqa", "acc", q);
    eval(db, "paper_main_table_small", arm, "ck400", "gsm8k_ppl", "word_perplexity", p);
  }
  // Token efficiency: MoEUT reaches its final 0.4 at 400 tokens; DR+DA+EA reaches 0.4 at 100:
  // 400 / 100 = 4x fewer tokens.
  run(db, "paper_token_efficiency_small", "DR+DA+EA", "dreamer");
  run(db, "paper_token_efficiency_small", "moeut", "moeut");
  for (const auto& [ck, d, m] : {std::tuple{"ck100", 0.4, 0.1}, std::tuple{"ck200", 0.45, 0.2},
                                 std::tuple{"ck400", 0.5, 0.4}}) {
    eval(db, "paper_token_efficiency_small", "DR+DA+EA", ck, "mathqa", "acc", d);
    eval(db, "paper_token_efficiency_small", "moeut", ck, "mathqa", "acc", m);
  }
  return file;
}

const std::vector<std::string>& find_row(const results::Table& t, const std::string& prefix) {
  for (const auto& r : t.rows)
    if (r[0].rfind(prefix, 0) == 0) return r;
  throw std::runtime_error("no row " + prefix);
}

TEST(PaperView, ClaimsBesideTheMeasuredFiguresAndTheirRatio) {
  const std::string db = make_paper_db();
  const auto markdown = results::paper_view({db});
  // Rebuild the table from the same database to read cells (the markdown is its rendering).
  results::ReadOnlyDatabase read(db);
  std::vector<results::ExperimentAnalysis> analyses;
  for (const auto& name : results::experiment_names(read))
    if (name.rfind("paper_", 0) == 0)
      analyses.push_back(results::analyse(results::load_experiment(read, name)));
  const auto t = results::paper_table(analyses);

  const auto& gsm = find_row(t, "GSM8K");
  EXPECT_EQ(gsm[1], "56.3");
  EXPECT_EQ(gsm[3], "11.3");  // DR+DA's 0.1126, not the baseline's 0.5
  EXPECT_EQ(gsm[4], "paper_main_table_small/DR+DA");
  EXPECT_EQ(gsm[5], "0.20");  // 11.26 / 56.3
  const auto& mathqa = find_row(t, "MathQA");
  EXPECT_EQ(mathqa[3], "25.4");
  EXPECT_EQ(mathqa[5], "0.50");                           // 25.4 / 50.8
  EXPECT_EQ(find_row(t, "MATH accuracy")[3], "not run");  // no math_lenient rows
  EXPECT_EQ(find_row(t, "average")[3], "not run");        // needs all four benchmarks
  const auto& ppl = find_row(t, "held-out perplexity");
  // The lowest Dreamer perplexity (gsm8k_ppl stands in), named by its metric.
  EXPECT_EQ(ppl[3], "11.80 word_perplexity (gsm8k_ppl)");
  EXPECT_EQ(ppl[5], "2.00");  // 11.8 / 5.9
  const auto& tokens = find_row(t, "fewer training tokens");
  EXPECT_EQ(tokens[1], "2-8x");
  EXPECT_EQ(tokens[3], "4.00-4.00x");
  EXPECT_EQ(tokens[5], "2.00-0.50");
  EXPECT_EQ(find_row(t, "outperforms")[3], "not run");
  EXPECT_EQ(find_row(t, "expert-selection")[3], "not run");
  EXPECT_NE(markdown.find("| GSM8K accuracy"), std::string::npos);
  EXPECT_EQ(markdown.find("unrelated"), std::string::npos);
}

void expert_metric(Database& db, const std::string& arm, const std::string& site, int64_t depth,
                   double value) {
  Statement(db, R"sql(
      INSERT INTO expert_metrics(run_id, checkpoint, task, recurrences, site, depth, metric, value)
      VALUES (?1, 'ck400', 'gsm8k_ppl', 1, ?2, ?3, 'unique_experts_per_path', ?4))sql")
      .bind_all("paper_expert_diversity_small/" + arm + "/seed0", site, depth, value)
      .run();
}

results::Table paper_table_of(const std::string& db) {
  results::ReadOnlyDatabase read(db);
  std::vector<results::ExperimentAnalysis> analyses;
  for (const auto& name : results::experiment_names(read))
    analyses.push_back(results::analyse(results::load_experiment(read, name)));
  return results::paper_table(analyses);
}

// Bits per byte is not a perplexity: the row shows it, with no ratio to the paper's 5.9.
// Expert diversity: a layered MoE (each pool serves one depth) has unique_experts_per_path 1 by
// construction, so it is no baseline for the ratio; a model that revisits its pools is.
std::string make_bpb_and_diversity_db(bool baseline_revisits_pools, bool with_main_table = true) {
  const std::string file = temp_dir() +
                           (baseline_revisits_pools ? "/paper_revisits" : "/paper_layered") +
                           (with_main_table ? ".db" : "_only.db");
  results::ResultStore store(file);
  Database& db = store.db();
  db.exec(R"sql(
      INSERT INTO experiments(name, file, spec_json, reference_arm, created_at, updated_at) VALUES
        ('paper_main_table_small', 'm.json', '{}', NULL, 'x', 'x'),
        ('paper_expert_diversity_small', 'e.json', '{}', NULL, 'x', 'x');
      INSERT INTO experiment_tasks(experiment, task, metric, higher_is_better) VALUES
        ('paper_main_table_small', 'gsm8k_ppl', 'bits_per_byte', 0),
        ('paper_expert_diversity_small', 'gsm8k_ppl', 'bits_per_byte', 0);
  )sql");
  run(db, "paper_main_table_small", "DR+DA+EA", "dreamer");
  eval(db, "paper_main_table_small", "DR+DA+EA", "ck400", "gsm8k_ppl", "bits_per_byte", 3.2);
  run(db, "paper_expert_diversity_small", "DR+DA+EA", "dreamer");
  run(db, "paper_expert_diversity_small", "moe", "moe_transformer");
  for (const auto& arm : {"DR+DA+EA", "moe"})
    eval(db, "paper_expert_diversity_small", arm, "ck400", "gsm8k_ppl", "bits_per_byte", 3.0);
  expert_metric(db, "DR+DA+EA", "ea", 0, 0.7);
  expert_metric(db, "DR+DA+EA", "ea@shared", 1, 0.7);
  expert_metric(db, "DR+DA+EA", "ea@shared", 2, 0.7);
  expert_metric(db, "moe", "ffn", 0, baseline_revisits_pools ? 0.35 : 1.0);
  expert_metric(db, "moe", "ffn@layer1", 1, 1.0);
  expert_metric(db, "moe", baseline_revisits_pools ? "ffn@layer1" : "ffn@layer2", 2, 1.0);
  if (!with_main_table) db.exec("DELETE FROM experiments WHERE name = 'paper_main_table_small'");
  return file;
}

TEST(PaperView, BitsPerByteIsNoPerplexityAndALayeredMoEIsNoDiversityBaseline) {
  {
    const auto t = paper_table_of(make_bpb_and_diversity_db(false));
    const auto& ppl = find_row(t, "held-out perplexity");
    EXPECT_EQ(ppl[3], "3.20 bits_per_byte (gsm8k_ppl)");
    EXPECT_EQ(ppl[5], "not comparable (bits_per_byte is not a perplexity)");
    const auto& diversity = find_row(t, "expert-selection");
    EXPECT_NE(diversity[3].find("not comparable: moe never revisit"), std::string::npos)
        << diversity[3];
    EXPECT_EQ(diversity[5], "—");
  }
  {
    const auto t = paper_table_of(make_bpb_and_diversity_db(true));
    const auto& diversity = find_row(t, "expert-selection");
    EXPECT_EQ(diversity[3], "2.00-2.00x");  // 0.7 / 0.35
    EXPECT_EQ(diversity[4], "paper_expert_diversity_small/DR+DA+EA vs moe");
    EXPECT_EQ(diversity[5], "1.00-0.18");  // 2 / 2 and 2 / 11
  }
}

TEST(PaperView, CommandPrintsTheViewAndADatabaseWithoutPaperExperimentsIsAnError) {
  const auto ok = run_cli("report " + make_paper_db() + " --paper");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("MathQA accuracy"), std::string::npos) << ok.output;
  const auto none = run_cli("report " + make_report_db() + " --paper");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.output.find("no paper_* experiments"), std::string::npos) << none.output;
}

// Each paper experiment is run into its own database (merge joins the shards of one experiment
// only), so the view reads several: claims from each file fill their rows; an experiment held by
// two files is an error naming both; a plain report takes exactly one database.
TEST(PaperView, SeveralDatabasesEachFillTheirClaimsAndAnExperimentInTwoIsAnError) {
  const auto main_and_tokens = make_paper_db();
  const auto diversity_only = make_bpb_and_diversity_db(true, /*with_main_table=*/false);
  const auto both = run_cli("report " + main_and_tokens + " " + diversity_only + " --paper");
  ASSERT_EQ(both.exit_code, 0) << both.output;
  EXPECT_NE(both.output.find("Databases: " + main_and_tokens + ", " + diversity_only),
            std::string::npos)
      << both.output;
  // MathQA from the first file (25.4), diversity from the second (0.7 / 0.35 = 2x).
  EXPECT_NE(both.output.find("| 25.4 | paper_main_table_small/DR+DA+EA |"), std::string::npos)
      << both.output;
  EXPECT_NE(both.output.find("| 2.00-2.00x | paper_expert_diversity_small/DR+DA+EA vs moe |"),
            std::string::npos)
      << both.output;

  const auto twice = make_bpb_and_diversity_db(true);  // paper_main_table_small again
  const auto clash = run_cli("report " + main_and_tokens + " " + twice + " --paper");
  EXPECT_NE(clash.exit_code, 0);
  EXPECT_NE(clash.output.find(twice + ": holds experiment \"paper_main_table_small\", which " +
                              main_and_tokens + " holds too"),
            std::string::npos)
      << clash.output;

  const auto plain = run_cli("report " + main_and_tokens + " " + diversity_only + " --out " +
                             temp_dir() + "/two_reports");
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.output.find("one results database without --paper (got 2)"), std::string::npos)
      << plain.output;
}

}  // namespace
}  // namespace dreamer::testing
