// `dreamer score`: outputs made elsewhere are scored with lm-eval's own per-sample values
// (tests/fixtures/lmeval), stored like any eval, and exported as lm-eval samples records.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "results/store.h"
#include "tests/test_util.h"
#include "util/json_reader.h"

namespace dreamer::testing {
namespace {

const std::string kData = DREAMER_SHARED_DATA_DIR;
const std::string kFixtures = std::string(DREAMER_SOURCE_DIR) + "/tests/fixtures/lmeval/";

double value_of(const std::string& db, const std::string& task, const std::string& metric) {
  results::Database d(db);
  results::Statement s(d, "SELECT value FROM eval_results WHERE task = '" + task +
                              "' AND metric = '" + metric + "'");
  if (!s.step()) return -1;
  return s.column_double(0);
}

TEST(CliScore, ConstructedHendrycksOutputsGetLmEvalsScores) {
  const auto dir = temp_dir();
  const auto fx = read_json_file(kFixtures + "math.json")["hendrycks_prealgebra_outputs"];
  const std::string predictions = dir + "/outputs.jsonl", db = dir + "/r.db";
  std::ofstream out(predictions);
  double sum = 0;
  for (const auto& o : fx) {
    out << nlohmann::json{{"doc_id", o["doc_id"]}, {"output", o["output"]}}.dump() << "\n";
    sum += o["exact_match"].get<double>();
  }
  out.close();
  auto r = run_cli("score --task hendrycks_math_prealgebra --predictions " + predictions +
                   " --db " + db + " --data-dir " + kData);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("60 documents scored"), std::string::npos) << r.output;
  EXPECT_DOUBLE_EQ(value_of(db, "hendrycks_math_prealgebra", "exact_match,none"),
                   sum / static_cast<double>(fx.size()));

  // The stored samples export as lm-eval records, one line each, with lm-eval's values.
  r = run_cli("query " + db + " samples --format jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    const auto record = nlohmann::json::parse(line);
    const auto& expected = fx[record["doc_id"].get<size_t>()];
    EXPECT_EQ(record["exact_match"], expected["exact_match"].get<double>()) << line;
    EXPECT_EQ(record["resps"][0][0], expected["output"]);
    EXPECT_EQ(record["filter"], "none");
    EXPECT_EQ(record["metrics"], nlohmann::json::array({"exact_match"}));
    EXPECT_EQ(record["doc_hash"].get<std::string>().size(), 64u);
    EXPECT_EQ(record["dreamer"]["task"], "hendrycks_math_prealgebra");
    ++n;
  }
  EXPECT_EQ(n, fx.size());
}

TEST(CliScore, LmEvalMultipleChoiceSamplesFileGetsItsOwnScores) {
  const auto dir = temp_dir();
  const std::string db = dir + "/r.db";
  const auto r = run_cli("score --task mathqa --predictions " + kFixtures +
                         "samples_mathqa.jsonl --db " + db + " --data-dir " + kData);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto means = read_json_file(kFixtures + "mc.json")["mathqa_means"];
  for (const std::string m : {"acc", "acc_norm", "acc_bytes"})
    EXPECT_DOUBLE_EQ(value_of(db, "mathqa", m), means[m].get<double>()) << m;
  EXPECT_EQ(r.output.find("warning"), std::string::npos) << r.output;  // prompts all agree
}

TEST(CliScore, BadPredictionsGiveOneClearError) {
  const auto dir = temp_dir();
  const std::string bad = dir + "/bad.jsonl";
  std::ofstream(bad)
      << "{\"doc_id\": 0, \"output\": \"1\"}\n{\"doc_id\": 999999, \"output\": \"2\"}\n";
  auto r = run_cli("score --task gsm8k --predictions " + bad + " --db " + dir +
                   "/r.db --data-dir " + kData);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("bad.jsonl:2: doc_id 999999 is not a document of task gsm8k"),
            std::string::npos)
      << r.output;
  std::ofstream(bad) << "{\"doc\": 0}\n";
  r = run_cli("score --task gsm8k --predictions " + bad + " --db " + dir + "/r.db --data-dir " +
              kData);
  EXPECT_NE(r.output.find("bad.jsonl:1: expected an object with an integer \"doc_id\""),
            std::string::npos)
      << r.output;
  r = run_cli("score --task mmlu_math --predictions " + bad + " --data-dir " + kData);
  EXPECT_NE(r.output.find("is a group of tasks"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dreamer::testing
