// Every data/ synthetic task is an eval source, with its splits and strict parameters.
#include <gtest/gtest.h>

#include "data/synthetic_task.h"
#include "eval/synthetic_source.h"
#include "util/errors.h"

namespace dreamer::testing {
namespace {

TEST(SyntheticSources, EveryDataTaskIsASourceThatHonoursItsSplit) {
  const auto sources = eval::builtin_synthetic_sources();
  for (const auto& name : data::task_names()) {
    const auto& source = sources.get(name, "$.source");
    auto ood = source(20, 7, {{"steps", {1, 2}}, {"split", "test_ood"}}, "$.params");
    ASSERT_EQ(ood.size(), 20u) << name;
    // The same examples the data module gives for that spec: the source adds nothing of its own.
    data::SyntheticTask task(
        data::TaskSpec::from_json({{"task", name}, {"steps", {1, 2}}, {"split", "test_ood"}}));
    auto expected = task.examples(20, 7);
    for (size_t i = 0; i < ood.size(); ++i) {
      EXPECT_EQ(ood[i].prompt, expected[i].prompt) << name;
      EXPECT_EQ(ood[i].answer, expected[i].answer) << name;
    }
    auto id = source(50, 7, {{"steps", {1, 2}}, {"split", "test_id"}}, "$.params");
    for (const auto& ex : id)
      EXPECT_TRUE(data::in_held_out_bucket(ex.prompt)) << name << ": " << ex.prompt;
  }
}

TEST(SyntheticSources, BadParametersNameTheirPath) {
  const auto sources = eval::builtin_synthetic_sources();
  const auto& source = sources.get("modular_arithmetic", "$.source");
  try {
    source(3, 0, {{"steps", {1, 2}}, {"colour", 1}}, "task.json:$.data.synthetic.params");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "task.json:$.data.synthetic.params.colour") << e.what();
  }
  EXPECT_THROW(source(3, 0, {{"task", "graph_reachability"}}, "$.p"), InputError);
  EXPECT_THROW(sources.get("sudoku", "$.source"), InputError);
}

}  // namespace
}  // namespace dreamer::testing
