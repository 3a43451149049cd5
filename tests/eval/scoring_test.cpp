// Scoring against models whose answers are known: multiple choice (acc, acc_norm),
// log-likelihood, rolling perplexity, generation with stop strings, the runner's stderr, and
// cached batched decoding against full forwards of a real tiny Dreamer.
#include <gtest/gtest.h>

#include <cmath>

#include "data/tokenizer.h"
#include "eval/decoding.h"
#include "eval/loglikelihood.h"
#include "eval/metrics.h"
#include "eval/runner.h"
#include "tests/eval/fake_models.h"
#include "tests/models/tiny_configs.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::eval {
namespace {

using testing::ScriptedModel;
using testing::UnigramModel;

TEST(Metrics, MeanStderrIsSampleStdOverSqrtN) {
  // mean 0.75, sample variance ((3 * 0.0625) + 0.5625) / 3 = 0.25, sd 0.5, / sqrt(4).
  EXPECT_DOUBLE_EQ(*mean_stderr({1, 0, 1, 1}), 0.25);
  EXPECT_DOUBLE_EQ(*mean_stderr({2, 2, 2}), 0.0);
  EXPECT_FALSE(mean_stderr({1}).has_value());
  EXPECT_DOUBLE_EQ(mean({1, 0, 1, 1}), 0.75);
}

TEST(Loglikelihood, ContinuationLogprobIsTheSumOverItsTokens) {
  UnigramModel model("6", 5.0);
  data::ByteTokenizer tok;
  const auto req = encode_pair(tok, "Answer: ", "66x");
  // The trailing space moved to the continuation, as lm-eval does.
  EXPECT_EQ(tok.decode(req.context), "Answer:");
  EXPECT_EQ(tok.decode(req.continuation), " 66x");
  const auto r = score_tokens(model, {req}, {}).at(0);
  EXPECT_NEAR(r.logprob, 2 * model.logp(true) + 2 * model.logp(false), 1e-9);
  EXPECT_FALSE(r.is_greedy);
  EXPECT_EQ(r.n_tokens, 4);
  EXPECT_TRUE(score_tokens(model, {encode_pair(tok, "a", "66")}, {}).at(0).is_greedy);
  // Empty context: the end-of-text token stands in.
  EXPECT_EQ(encode_pair(tok, "", "x").context, std::vector<int64_t>{256});
}

TEST(Loglikelihood, RollingWindowsCoverEveryTokenOnceWithFullContext) {
  std::vector<int64_t> tokens;
  for (int64_t i = 1; i <= 10; ++i) tokens.push_back(i);
  const auto w = rolling_windows(tokens, 0, 4);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].context, (std::vector<int64_t>{0}));
  EXPECT_EQ(w[0].continuation, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(w[1].context, (std::vector<int64_t>{4}));
  EXPECT_EQ(w[1].continuation, (std::vector<int64_t>{5, 6, 7, 8}));
  EXPECT_EQ(w[2].context, (std::vector<int64_t>{6, 7, 8}));  // 4 inputs: 6 7 8 9
  EXPECT_EQ(w[2].continuation, (std::vector<int64_t>{9, 10}));
}

TaskSpec mc_task(const std::string& prompt = "Q: {{q}}\nA:") {
  return TaskSpec::from_json({{"name", "mc"},
                              {"output_type", "multiple_choice"},
                              {"data", {{"path", "unused"}}},
                              {"prompt", prompt},
                              {"choices", {{"field", "choices"}}},
                              {"gold", {{"field", "gold"}}}});
}

TEST(MultipleChoice, AccPicksTheLikeliestAndAccNormTheLikeliestPerByte) {
  // With p('6') high: " 6" has log p = lp(other) + lp(6); " 66666" = lp(other) + 5 lp(6), lower
  // in total but higher per byte of the choice text.
  UnigramModel model("6", 5.0);
  const double lo = model.logp(false), hi = model.logp(true);
  ASSERT_GT(lo + hi, lo + 5 * hi);
  ASSERT_LT((lo + hi) / 1, (lo + 5 * hi) / 5);
  TaskData data;
  data.docs = {{{"q", "a"}, {"choices", {"7", "6", "66666"}}, {"gold", 2}},
               {{"q", "b"}, {"choices", {"6", "7"}}, {"gold", 0}}};
  RunOptions options;
  options.keep_samples = true;
  const auto result = run_task(model, data::ByteTokenizer(), mc_task(), data, options);
  ASSERT_EQ(result.scores.size(), 2u);
  EXPECT_EQ(result.scores[0].metric, "acc");
  EXPECT_DOUBLE_EQ(result.scores[0].value, 0.5);  // doc 0 picks "6" (wrong), doc 1 right
  EXPECT_EQ(result.scores[1].metric, "acc_norm");
  EXPECT_DOUBLE_EQ(result.scores[1].value, 1.0);
  EXPECT_DOUBLE_EQ(*result.scores[0].stderr_, std::sqrt(0.5 / 2));
  EXPECT_EQ(result.scores[0].depth, 1);
  ASSERT_EQ(result.samples.size(), 2u);
  EXPECT_EQ(result.samples[0].output, "6");
  EXPECT_NEAR(result.samples[0].details["loglikelihoods"][2].get<double>(), lo + 5 * hi, 1e-9);
}

TEST(Perplexity, UniformModelHasBitsPerByteLog2Vocab) {
  UnigramModel uniform("", 0.0);
  const auto task = TaskSpec::from_json({{"name", "ppl"},
                                         {"output_type", "loglikelihood_rolling"},
                                         {"data", {{"path", "unused"}}},
                                         {"prompt", "{{text}}"},
                                         {"max_length", 7}});
  TaskData data;
  data.docs = {{{"text", "a short document"}},
               {{"text", "and a second, longer one with more words"}}};
  const auto result = run_task(uniform, data::ByteTokenizer(), task, data, {});
  std::map<std::string, double> v;
  for (const auto& s : result.scores) v[s.metric] = s.value;
  EXPECT_NEAR(v["bits_per_byte"], std::log2(257.0), 1e-9);
  EXPECT_NEAR(v["perplexity"], 257.0, 1e-6);
  EXPECT_NEAR(v["byte_perplexity"], 257.0, 1e-6);
  // 11 words, 56 bytes: word perplexity = 257^(56/11).
  EXPECT_NEAR(std::log(v["word_perplexity"]), 56.0 / 11.0 * std::log(257.0), 1e-9);
}

TEST(Generation, StopsAtStopStringsAndScoresEveryFilter) {
  // Every prompt is 4 bytes; the model answers "7\nQ" whatever the question.
  ScriptedModel model(4, "x 7\nQ");
  const auto task = TaskSpec::from_json(
      {{"name", "gen"},
       {"output_type", "generate_until"},
       {"data", {{"path", "unused"}}},
       {"prompt", "{{prompt}}"},
       {"target", "{{answer}}"},
       {"generation", {{"until", nlohmann::json::array({"\n"})}, {"max_new_tokens", 16}}},
       {"filters",
        {{{"name", "whole"}, {"type", "whole"}},
         {{"name", "digits"}, {"type", "regex"}, {"pattern", "([0-9]+)"}}}}});
  TaskData data;
  data.docs = {{{"prompt", "1+6="}, {"answer", "7"}},
               {{"prompt", "2+6="}, {"answer", "8"}},
               {{"prompt", "3+4="}, {"answer", "7"}}};
  RunOptions options;
  options.keep_samples = true;
  options.batch_size = 2;
  const auto result = run_task(model, data::ByteTokenizer(), task, data, options);
  ASSERT_EQ(result.samples.size(), 3u);
  EXPECT_EQ(result.samples[0].output, "x 7");
  ASSERT_EQ(result.scores.size(), 2u);
  EXPECT_EQ(result.scores[0].metric, "exact_match,whole");
  EXPECT_DOUBLE_EQ(result.scores[0].value, 0.0);
  EXPECT_EQ(result.scores[1].metric, "exact_match,digits");
  EXPECT_DOUBLE_EQ(result.scores[1].value, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*result.scores[1].stderr_, 1.0 / 3.0);  // sd of {1,0,1} is sqrt(1/3)
  EXPECT_EQ(result.settings["task"]["generation"]["until"][0], "\n");
}

TEST(Generation, EndOfTextAndTokenBudgetStopGeneration) {
  data::ByteTokenizer tok;
  ScriptedModel model(2, "abc");  // then end of text
  ScoringOptions scoring;
  GenerationOptions gen;
  gen.max_new_tokens = 10;
  EXPECT_EQ(greedy_generate(model, tok, {"hi"}, gen, scoring), std::vector<std::string>{"abc"});
  gen.max_new_tokens = 2;
  EXPECT_EQ(greedy_generate(model, tok, {"hi"}, gen, scoring), std::vector<std::string>{"ab"});
  gen.until = {"c"};
  gen.max_new_tokens = 10;
  EXPECT_EQ(greedy_generate(model, tok, {"hi"}, gen, scoring), std::vector<std::string>{"ab"});
}

// Greedy decoding without caches: a full forward over the whole sequence for every token.
std::string reference_decode(models::LanguageModel& model, const std::string& prompt, int64_t steps,
                             int64_t recurrences) {
  data::ByteTokenizer tok;
  auto ids = tok.encode(prompt);
  std::vector<int64_t> generated;
  models::ForwardOptions options;
  options.recurrences = recurrences;
  for (int64_t s = 0; s < steps; ++s) {
    auto out = model.forward(torch::tensor(ids).unsqueeze(0), nullptr, options);
    const int64_t next = out.logits[0][-1].argmax().item<int64_t>();
    ids.push_back(next);
    generated.push_back(next);
  }
  return tok.decode(generated);
}

TEST(Decoding, CachedBatchedGreedyEqualsFullForwards) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  const auto cases = testing::tiny_model_cases();
  const auto it = std::find_if(cases.begin(), cases.end(),
                               [](const auto& c) { return c.name == "dreamer_DR_DA_EA"; });
  ASSERT_NE(it, cases.end());
  auto model = zoo::build_model(zoo::model_config_from_json(it->config));
  model->eval();
  // Bytes below the tiny vocabulary (64); two prompts share a length and are batched together.
  const std::vector<std::string> prompts = {"12+3=", "4*5=", "7-2=", "9+9+9="};
  for (int64_t recurrences : {1, 3}) {
    ScoringOptions scoring;
    scoring.batch_size = 4;
    scoring.recurrences = recurrences;
    int64_t traces = 0;
    scoring.on_trace = [&](const models::RoutingTrace& t) { traces += !t.empty(); };
    GenerationOptions gen;
    gen.max_new_tokens = 6;
    gen.stop_at_eos = false;
    const auto outputs = greedy_generate(*model, data::ByteTokenizer(), prompts, gen, scoring);
    for (size_t i = 0; i < prompts.size(); ++i)
      EXPECT_EQ(outputs[i], reference_decode(*model, prompts[i], 6, recurrences))
          << prompts[i] << " R=" << recurrences;
    EXPECT_GT(traces, 0);
  }
}

TEST(Runner, RecurrentModelsAreScoredAtEveryDepthWithRoutingMetrics) {
  torch::manual_seed(4);
  const auto cases = testing::tiny_model_cases();
  const auto it = std::find_if(cases.begin(), cases.end(),
                               [](const auto& c) { return c.name == "dreamer_DR_EA"; });
  auto model = zoo::build_model(zoo::model_config_from_json(it->config));
  TaskData data;
  data.docs = {{{"q", "1"}, {"choices", {"2", "3"}}, {"gold", 0}},
               {{"q", "4"}, {"choices", {"5", "6"}}, {"gold", 1}}};
  RunOptions options;
  options.depths = {1, 2};
  // Tiny models have 64 token ids: prompts use only bytes below 64.
  const auto result = run_task(*model, data::ByteTokenizer(), mc_task("{{q}}="), data, options);
  ASSERT_EQ(result.scores.size(), 4u);
  EXPECT_EQ(result.scores[0].depth, 1);
  EXPECT_EQ(result.scores[2].depth, 2);
  ASSERT_EQ(result.routing.size(), 2u);
  EXPECT_EQ(result.routing[1].depth, 2);
  bool saw_depth2 = false, saw_bias = false;
  for (const auto& c : result.routing[1].counts) saw_depth2 |= c.depth == 2;
  for (const auto& m : result.routing[1].metrics) saw_bias |= m.metric == "selection_bias_range";
  EXPECT_TRUE(saw_depth2);
  EXPECT_TRUE(saw_bias);
}

TEST(Runner, TokensOutsideTheModelVocabularyAreAnInputError) {
  torch::manual_seed(4);
  const auto cases = testing::tiny_model_cases();
  const auto it = std::find_if(cases.begin(), cases.end(),
                               [](const auto& c) { return c.name == "dreamer_DR"; });
  auto model = zoo::build_model(zoo::model_config_from_json(it->config));  // 64 token ids
  TaskData data;
  data.docs = {{{"q", "1"}, {"choices", {"2", "3"}}, {"gold", 0}}};
  try {
    run_task(*model, data::ByteTokenizer(), mc_task(), data, {});  // "Q: " has byte 81
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("outside the model's vocabulary of 64"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dreamer::eval
