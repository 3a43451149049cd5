// Group aggregation (lm-eval api/group.py formulas, hand-computed), generation budgets and
// prompt truncation, lm-eval's argmax and character counting.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "data/tokenizer.h"
#include "eval/decoding.h"
#include "eval/group.h"
#include "eval/runner.h"
#include "tests/eval/fake_models.h"
#include "util/errors.h"

namespace dreamer::eval {
namespace {

using testing::ScriptedModel;

TEST(Group, MicroMacroAndPooledStderrAsLmEval) {
  GroupSpec group;
  group.name = "g";
  group.tasks = {"a", "b"};
  group.aggregate = {"acc"};
  TaskResult a, b;
  a.task = "a";
  b.task = "b";
  // a: per-document {1, 0, 1, 0}: mean 0.5, stderr sqrt(1/3)/2; b: {1, 1}: mean 1, stderr 0.
  a.scores = {{1, "acc", 0.5, 4, std::sqrt(1.0 / 3.0) / 2}, {1, "acc_norm", 0.25, 4, 0.25}};
  b.scores = {{1, "acc", 1.0, 2, 0.0}};
  const auto g = aggregate_group(group, {a, b});
  ASSERT_EQ(g.scores.size(), 2u);  // acc_norm is not aggregated
  EXPECT_EQ(g.task, "g");
  EXPECT_EQ(g.scores[0].metric, "acc");
  EXPECT_DOUBLE_EQ(g.scores[0].value, 4.0 / 6.0);  // = the mean over all six documents
  EXPECT_EQ(g.scores[0].n, 6);
  EXPECT_EQ(g.scores[1].metric, "acc_macro");
  EXPECT_DOUBLE_EQ(g.scores[1].value, 0.75);
  // pooled: sqrt(((4-1) * (1/12) * 4 + (2-1) * 0 * 2) / (6 - 2) / 6) = sqrt(1/24)
  EXPECT_NEAR(*g.scores[0].stderr_, std::sqrt(1.0 / 24.0), 1e-12);
  EXPECT_EQ(macro_metric_name("exact_match,none"), "exact_match_macro,none");
}

TEST(Generation, RecordsWhetherTheBudgetStoppedIt) {
  data::ByteTokenizer tok;
  ScriptedModel model(2, "abc");  // then end of text
  ScoringOptions scoring;
  GenerationOptions gen;
  gen.max_new_tokens = 2;
  auto g = greedy_generate_detailed(model, tok, {"hi"}, gen, scoring);
  EXPECT_EQ(g[0].text, "ab");
  EXPECT_TRUE(g[0].hit_max_new_tokens);
  EXPECT_EQ(g[0].new_tokens, 2);
  gen.max_new_tokens = 10;
  g = greedy_generate_detailed(model, tok, {"hi"}, gen, scoring);
  EXPECT_EQ(g[0].text, "abc");
  EXPECT_FALSE(g[0].hit_max_new_tokens);  // end of text
  gen.until = {"b"};
  g = greedy_generate_detailed(model, tok, {"hi"}, gen, scoring);
  EXPECT_EQ(g[0].text, "a");
  EXPECT_FALSE(g[0].hit_max_new_tokens);  // a stop string
}

TEST(Generation, PromptsAreLeftTruncatedToMaxLengthMinusTheBudget) {
  data::ByteTokenizer tok;
  // The script starts after a 3-token prompt: "hello" (5 bytes) only gets it when cut to 3.
  ScriptedModel model(3, "ab");
  ScoringOptions scoring;
  GenerationOptions gen;
  gen.max_new_tokens = 2;
  EXPECT_EQ(greedy_generate_detailed(model, tok, {"hello"}, gen, scoring)[0].text, "");
  gen.max_length = 5;
  const auto g = greedy_generate_detailed(model, tok, {"hello"}, gen, scoring);
  EXPECT_EQ(g[0].text, "ab");
  EXPECT_EQ(g[0].prompt_tokens_dropped, 2);
  gen.max_length = 2;
  EXPECT_THROW(greedy_generate_detailed(model, tok, {"hello"}, gen, scoring), InputError);
}

TEST(LmEvalArgmax, FirstMaximumFirstNanAndCodePoints) {
  EXPECT_EQ(numpy_argmax({-3, -1, -1, -2}), 1u);
  EXPECT_EQ(numpy_argmax({-3, std::nan(""), 5}), 1u);
  EXPECT_EQ(numpy_argmax({-5, -std::numeric_limits<double>::infinity()}), 0u);
  EXPECT_EQ(python_len("cm \u00b2"), 4u);  // 5 bytes
  EXPECT_EQ(python_len(""), 0u);
}

}  // namespace
}  // namespace dreamer::eval
