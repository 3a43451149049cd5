// Generation batches cut to minimise the lockstep steps (eval/batching.h), and the phase
// timings greedy generation reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "data/tokenizer.h"
#include "eval/batching.h"
#include "eval/decoding.h"
#include "tests/eval/fake_models.h"

namespace dreamer::eval {
namespace {

// Every prompt appears once, each batch is a run of the longest-first order of at most `cap`.
void expect_partition(const std::vector<size_t>& lengths,
                      const std::vector<std::vector<size_t>>& batches, size_t cap) {
  std::vector<size_t> seen;
  for (const auto& b : batches) {
    ASSERT_FALSE(b.empty());
    EXPECT_LE(b.size(), cap);
    seen.insert(seen.end(), b.begin(), b.end());
  }
  std::vector<size_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  EXPECT_EQ(seen, order);
}

TEST(GenerationBatches, AnOutlierGetsItsOwnBatchInsteadOfStallingTheOthers) {
  // Equal chunks of 3: {100, 10, 9} and {8}: (100 - 9 + 5) + (0 + 5) = 101 steps. Alone, the
  // long prompt costs 5 steps and the rest 10 - 8 + 5 = 7.
  const std::vector<size_t> lengths = {10, 100, 8, 9};
  const auto batches = group_for_generation(lengths, 3, 5);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::vector<size_t>{1});
  EXPECT_EQ(batches[1], (std::vector<size_t>{0, 3, 2}));
  EXPECT_EQ(generation_steps(lengths, batches, 5), 12);
  EXPECT_EQ(generation_steps(lengths, group_by_similar_length(lengths, 3), 5), 101);
}

TEST(GenerationBatches, CloseLengthsShareOneFullBatch) {
  // Splitting {7, 6, 6, 5} would cost a second budget (5) to save at most 2 steps of spread.
  const std::vector<size_t> lengths = {6, 7, 5, 6};
  const auto batches = group_for_generation(lengths, 4, 5);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(generation_steps(lengths, batches, 5), 7);
  // With no budget to share, every distinct length is its own batch: no step is wasted.
  EXPECT_EQ(generation_steps(lengths, group_for_generation(lengths, 4, 0), 0), 0);
}

TEST(GenerationBatches, NeverMoreStepsThanEqualChunksAndOptimalOnSmallCases) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 9, cap = 1 + rng() % 4;
    const int64_t budget = rng() % 20;
    std::vector<size_t> lengths(n);
    for (auto& l : lengths) l = 1 + rng() % 60;
    const auto batches = group_for_generation(lengths, static_cast<int64_t>(cap), budget);
    expect_partition(lengths, batches, cap);
    const int64_t steps = generation_steps(lengths, batches, budget);
    EXPECT_LE(steps, generation_steps(lengths, group_by_similar_length(lengths, cap), budget));
    // Brute force over every set of cut points in the longest-first order.
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
    int64_t best = std::numeric_limits<int64_t>::max();
    for (uint32_t cuts = 0; cuts < (1u << (n - 1)); ++cuts) {
      std::vector<std::vector<size_t>> split(1);
      bool fits = true;
      for (size_t i = 0; i < n; ++i) {
        if (i > 0 && (cuts >> (i - 1) & 1)) split.emplace_back();
        split.back().push_back(order[i]);
        fits = fits && split.back().size() <= cap;
      }
      if (fits) best = std::min(best, generation_steps(lengths, split, budget));
    }
    EXPECT_EQ(steps, best) << "trial " << trial;
  }
}

TEST(GenerationTimings, CountsBatchesStepsAndGeneratedTokens) {
  data::ByteTokenizer tok;
  testing::ScriptedModel model(2, "abcdef");  // generates after any two-token prompt
  ScoringOptions scoring;
  scoring.batch_size = 2;
  GenerationOptions gen;
  gen.max_new_tokens = 3;
  GenerationTimings timings;
  gen.timings = &timings;
  // Prompts of 2 and 2 bytes share one batch: a prefill of 2 x 2 tokens, then 2 more steps
  // (the third token is chosen from the second step's logits); no prompt tails.
  const auto out = greedy_generate_detailed(model, tok, {"hi", "yo"}, gen, scoring);
  EXPECT_EQ(out[0].text, "abc");
  EXPECT_EQ(timings.batches, 1);
  EXPECT_EQ(timings.prefill_tokens, 4);
  EXPECT_EQ(timings.steps, 2);
  EXPECT_EQ(timings.prompt_steps, 0);
  EXPECT_EQ(timings.row_steps, 4);
  EXPECT_EQ(timings.generated_tokens, 6);
  EXPECT_GE(timings.prefill_s, 0.0);
  EXPECT_GE(timings.step_s, 0.0);
  // 3 and 2 bytes: one batch (1 + 3 steps, against 3 + 3 apart). The prefill takes the shortest
  // (2 x 2 tokens); the first step still feeds "hey"'s last byte, and "hey" ends one step later.
  timings = {};
  greedy_generate_detailed(model, tok, {"hey", "hi"}, gen, scoring);
  EXPECT_EQ(timings.batches, 1);
  EXPECT_EQ(timings.prefill_tokens, 4);
  EXPECT_EQ(timings.steps, 3);
  EXPECT_EQ(timings.prompt_steps, 1);
  EXPECT_EQ(timings.row_steps, 6);
  EXPECT_EQ(timings.generated_tokens, 6);
}

}  // namespace
}  // namespace dreamer::eval
