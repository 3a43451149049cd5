// The metric table (eval/metrics.h): every score the eval runner emits has a direction, the
// names a task emits are the ones the planner accepts, and perplexities are lower-is-better.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "data/tokenizer.h"
#include "eval/metrics.h"
#include "eval/runner.h"
#include "results/experiment_data.h"
#include "results/query.h"
#include "results/store.h"
#include "tests/eval/fake_models.h"
#include "tests/test_util.h"
#include "util/errors.h"

namespace dreamer::eval {
namespace {

using testing::UnigramModel;

// One small task of each output type, and documents it can score.
std::vector<std::pair<TaskSpec, TaskData>> one_task_per_output_type() {
  std::vector<std::pair<TaskSpec, TaskData>> tasks;
  TaskData gen_docs;
  gen_docs.docs = {{{"q", "1+1="}, {"a", "2"}}, {{"q", "2+2="}, {"a", "4"}}};
  tasks.emplace_back(
      TaskSpec::from_json({{"name", "gen"},
                           {"output_type", "generate_until"},
                           {"data", {{"path", "unused"}}},
                           {"prompt", "{{q}}"},
                           {"target", "{{a}}"},
                           {"generation", {{"max_new_tokens", 2}}},
                           {"filters",
                            {{{"name", "strict"}, {"type", "regex"}, {"pattern", "([0-9]+)"}},
                             {{"name", "whole"}, {"type", "whole"}}}}}),
      gen_docs);
  TaskData mc_docs;
  mc_docs.docs = {{{"q", "a"}, {"choices", {"6", "7"}}, {"gold", 0}},
                  {{"q", "b"}, {"choices", {"6", "7"}}, {"gold", 1}}};
  tasks.emplace_back(TaskSpec::from_json({{"name", "mc"},
                                          {"output_type", "multiple_choice"},
                                          {"data", {{"path", "unused"}}},
                                          {"prompt", "Q: {{q}}\nA:"},
                                          {"choices", {{"field", "choices"}}},
                                          {"gold", {{"field", "gold"}}}}),
                     mc_docs);
  TaskData text_docs;
  text_docs.docs = {{{"text", "two words"}}, {{"text", "and three more"}}};
  tasks.emplace_back(TaskSpec::from_json({{"name", "ppl"},
                                          {"output_type", "loglikelihood_rolling"},
                                          {"data", {{"path", "unused"}}},
                                          {"prompt", "{{text}}"}}),
                     text_docs);
  return tasks;
}

TEST(MetricTable, EveryScoreTheRunnerEmitsIsListedAndHasADirection) {
  UnigramModel model("6", 2.0);
  std::set<OutputType> covered;
  for (const auto& [task, data] : one_task_per_output_type()) {
    const auto result = run_task(model, data::ByteTokenizer(), task, data, {});
    std::vector<std::string> emitted;
    for (const auto& s : result.scores) emitted.push_back(s.metric);
    // The runner's own output, compared with the table's list for this task.
    EXPECT_EQ(emitted, task_metrics(task)) << task.name;
    for (const auto& m : emitted) EXPECT_TRUE(metric_direction(m).has_value()) << m;
    covered.insert(task.output_type);
  }
  // Every output type the table lists was run above.
  for (const auto& kind : metric_kinds()) EXPECT_TRUE(covered.count(kind.output_type)) << kind.name;
}

TEST(MetricTable, PerplexitiesAndBitsAreLowerIsBetterAccuraciesHigher) {
  for (const char* m : {"perplexity", "byte_perplexity", "word_perplexity", "bits_per_byte"}) {
    EXPECT_EQ(metric_direction(m), Direction::kLowerIsBetter) << m;
    EXPECT_FALSE(higher_is_better(m)) << m;
  }
  for (const char* m : {"acc", "acc_norm", "exact_match,strict-match", "exact_match,whole"}) {
    EXPECT_EQ(metric_direction(m), Direction::kHigherIsBetter) << m;
    EXPECT_TRUE(higher_is_better(m, false)) << m;
  }
  EXPECT_FALSE(metric_direction("perplexit").has_value());
  EXPECT_FALSE(metric_direction("exact_match").has_value());  // needs its filter
  EXPECT_FALSE(metric_direction("exact_match,").has_value());
  EXPECT_FALSE(higher_is_better("someone_elses_metric", false));  // unknown: the fallback
}

TEST(MetricTable, DefaultsAreTheFirstFilterAccAndBitsPerByte) {
  const auto tasks = one_task_per_output_type();
  EXPECT_EQ(default_metric(tasks[0].first), "exact_match,strict");
  EXPECT_EQ(default_metric(tasks[1].first), "acc");
  EXPECT_EQ(default_metric(tasks[2].first), "bits_per_byte");
}

TEST(MetricTable, CheckMetricNamesThePathAndTheValidNames) {
  const auto ppl = one_task_per_output_type()[2].first;
  EXPECT_NO_THROW(check_metric(ppl, "perplexity", "x.json:$.eval.tasks[0].metric"));
  try {
    check_metric(ppl, "perplexit", "x.json:$.eval.tasks[0].metric");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "x.json:$.eval.tasks[0].metric");
    EXPECT_EQ(e.message(),
              "task \"ppl\" has no metric \"perplexit\" (its metrics: perplexity, "
              "byte_perplexity, bits_per_byte, word_perplexity)");
  }
  // A real metric of another output type is no metric of this task either.
  EXPECT_THROW(check_metric(ppl, "acc", "w"), InputError);
}

TEST(TaskSpecFilters, TwoFiltersWithOneNameAreAnError) {
  try {
    TaskSpec::from_json({{"name", "gen"},
                         {"output_type", "generate_until"},
                         {"data", {{"path", "unused"}}},
                         {"prompt", "{{q}}"},
                         {"target", "{{a}}"},
                         {"filters",
                          {{{"name", "x"}, {"type", "whole"}},
                           {{"name", "x"}, {"type", "regex"}, {"pattern", "(1)"}}}}});
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "$.filters[1].name") << e.what();
  }
}

TEST(MetricTable, TheReportTakesDirectionsFromTheTableNotFromOldRows) {
  // Databases written before the table stored perplexity as higher-is-better; the report must
  // still call the lower perplexity better. An unknown metric keeps its stored flag.
  const std::string file = dreamer::testing::temp_dir() + "/old.db";
  {
    results::ResultStore store(file);
    store.db().exec(R"sql(
        INSERT INTO experiments VALUES ('e', 'e.json', '{}', NULL, 't', 't');
        INSERT INTO experiment_tasks VALUES ('e', 'ppl', 'perplexity', 1),
          ('e', 'bytes', 'byte_perplexity', 1), ('e', 'mc', 'acc', 0), ('e', 'x', 'custom', 0);
    )sql");
  }
  const auto data = results::load_experiment(results::ReadOnlyDatabase(file), "e");
  std::map<std::string, bool> higher;
  for (const auto& t : data.tasks) higher[t.task] = t.higher_is_better;
  EXPECT_EQ(higher, (std::map<std::string, bool>{
                        {"bytes", false}, {"mc", true}, {"ppl", false}, {"x", false}}));
}

}  // namespace
}  // namespace dreamer::eval
