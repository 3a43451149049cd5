// `dreamer eval`: a run that stores results (and does not duplicate them when repeated), and
// one clear error with a non-zero exit for each kind of bad input.
#include <gtest/gtest.h>

#include <fstream>

#include "results/store.h"
#include "tests/models/tiny_configs.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

// A tiny DR+EA checkpoint and a synthetic task whose bytes fit its 64-token vocabulary.
struct Fixture {
  std::string dir = temp_dir();
  std::string checkpoint = dir + "/ck";
  std::string task = dir + "/modular.json";
  std::string db = dir + "/results.db";
  Fixture() {
    for (const auto& c : tiny_model_cases())
      if (c.name == "dreamer_DR_EA")
        train::save_checkpoint(checkpoint, *zoo::build_model(zoo::model_config_from_json(c.config)),
                               data::ByteTokenizer());
    std::ofstream(task) << R"({"name": "modular", "output_type": "generate_until",
      "data": {"synthetic": {"source": "modular_arithmetic", "n": 5, "seed": 1, "params": {"steps": [2, 2]}}},
      "prompt": "{{prompt}}", "target": "{{answer}}", "target_delimiter": "", "fewshot_delimiter": "\n",
      "shots": {"n": 1}, "generation": {"until": ["\n"], "max_new_tokens": 2}})";
  }
};

int64_t count(const std::string& db, const std::string& sql) {
  results::Database d(db);
  results::Statement s(d, sql);
  s.step();
  return s.column_int(0);
}

TEST(CliEval, StoresScoresPerDepthAndRerunsDoNotDuplicate) {
  Fixture f;
  const std::string args = "eval --checkpoint " + f.checkpoint + " --task " + f.task +
                           " --depths 1,2 --limit 3 --db " + f.db + " --samples";
  auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("exact_match,whole"), std::string::npos) << r.output;
  EXPECT_EQ(count(f.db, "SELECT COUNT(*) FROM eval_results"), 2);  // one metric x two depths
  EXPECT_EQ(count(f.db, "SELECT COUNT(*) FROM eval_results WHERE n = 3"), 2);
  EXPECT_EQ(count(f.db, "SELECT COUNT(*) FROM eval_samples"), 6);
  EXPECT_EQ(count(f.db, "SELECT COUNT(DISTINCT recurrences) FROM expert_counts"), 2);
  EXPECT_GT(count(f.db, "SELECT COUNT(*) FROM expert_metrics WHERE metric = 'universal_score'"), 0);
  // The prompt template and stop strings are stored with the score.
  EXPECT_EQ(count(f.db,
                  "SELECT COUNT(*) FROM eval_results WHERE settings_json LIKE '%{{prompt}}%' "
                  "AND json_extract(settings_json, '$.task.generation.until[0]') = char(10)"),
            2);
  const int64_t counts_before = count(f.db, "SELECT COUNT(*) FROM expert_counts");
  r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(count(f.db, "SELECT COUNT(*) FROM eval_results"), 2);
  EXPECT_EQ(count(f.db, "SELECT COUNT(*) FROM expert_counts"), counts_before);
}

TEST(CliEval, SamplingFlagsStoreEveryRepeatAndTheSettings) {
  Fixture f;
  auto r = run_cli("eval --checkpoint " + f.checkpoint + " --task " + f.task + " --limit 2 --db " +
                   f.db +
                   " --samples --temperature 0.7 --top-p 0.95 --sample-seed 3 --repeats 2 "
                   "--gen-prefix ' ='");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(count(f.db,
                  "SELECT COUNT(*) FROM eval_samples WHERE "
                  "json_array_length(details_json, '$.responses') = 2"),
            2);
  EXPECT_EQ(count(f.db,
                  "SELECT COUNT(*) FROM eval_results WHERE "
                  "json_extract(settings_json, '$.task.generation.temperature') = 0.7 AND "
                  "json_extract(settings_json, '$.task.generation.seed') = 3 AND "
                  "json_extract(settings_json, '$.task.repeats') = 2"),
            1);
  // The prompt ends with the gen_prefix (the template ends in a non-space, so a delimiter,
  // here "", joins them).
  EXPECT_EQ(count(f.db, "SELECT COUNT(*) FROM eval_samples WHERE prompt LIKE '% ='"), 2);
}

TEST(CliEval, BadInputGivesOneClearErrorAndNonZeroExit) {
  Fixture f;
  const std::string good = " --task " + f.task + " --db " + f.db;
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"eval --checkpoint " + f.dir + "/missing" + good, "checkpoint directory does not exist"},
      {"eval --checkpoint " + f.checkpoint + " --task no_such_task --db " + f.db,
       "unknown task \"no_such_task\""},
      {"eval --checkpoint " + f.checkpoint + good + " --depths 1,x",
       "--depths: expected positive integers"},
      {"eval --checkpoint " + f.checkpoint + good + " --depths 0", "--depths"},
      {"eval --checkpoint " + f.checkpoint + good + " --limit -3", "--limit"},
      {"eval --checkpoint " + f.checkpoint + good + " --bogus", "--bogus"},
      {"eval --task " + f.task, "give --checkpoint DIR or --experiment FILE"},
      {"eval --checkpoint " + f.checkpoint + good + " --experiment x.json", "excludes"},
      {"eval --checkpoint " + f.checkpoint + good + " --top-p 0.9",
       "--top-p: task modular decodes greedily: give --temperature to sample"},
      {"eval --checkpoint " + f.checkpoint + good + " --repeats 3",
       "--repeats: task modular decodes greedily"},
      {"eval --checkpoint " + f.checkpoint + good + " --arm dense", "--arm requires --experiment"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_LE(std::count(r.output.begin(), r.output.end(), '\n'), 3) << r.output;
  }
}

}  // namespace
}  // namespace dreamer::testing
