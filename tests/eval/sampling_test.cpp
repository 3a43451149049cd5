// Sampled generation, repeats with maj@k / pass@k, and gen_prefix: distributions and scores
// against values worked out by hand, seeds that reproduce and seeds that differ.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data/tokenizer.h"
#include "eval/decoding.h"
#include "eval/prompt.h"
#include "eval/runner.h"
#include "eval/sampling.h"
#include "eval/voting.h"
#include "tests/eval/fake_models.h"
#include "util/errors.h"

namespace dreamer::eval {
namespace {

using testing::UnigramModel;

torch::Tensor log_probs(const std::vector<double>& p) {
  return torch::log(torch::tensor(p, torch::kDouble));
}

std::vector<double> as_vector(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

TEST(Sampling, TemperatureTopKAndTopPShapeTheDistribution) {
  const auto logits = log_probs({0.5, 0.3, 0.2});
  SamplingOptions o;
  o.do_sample = true;
  auto p = as_vector(sampling_distribution(logits, o));
  EXPECT_NEAR(p[0], 0.5, 1e-12);
  EXPECT_NEAR(p[2], 0.2, 1e-12);
  // Temperature 2: p_i^(1/2) renormalised.
  o.temperature = 2.0;
  p = as_vector(sampling_distribution(logits, o));
  const double z = std::sqrt(0.5) + std::sqrt(0.3) + std::sqrt(0.2);
  EXPECT_NEAR(p[0], std::sqrt(0.5) / z, 1e-12);
  EXPECT_NEAR(p[1], std::sqrt(0.3) / z, 1e-12);
  // top_p 0.6: 0.5 is below it, so the 0.3 token that crosses it stays; 0.2 goes.
  o.temperature = 1.0;
  o.top_p = 0.6;
  p = as_vector(sampling_distribution(logits, o));
  EXPECT_NEAR(p[0], 0.5 / 0.8, 1e-12);
  EXPECT_NEAR(p[1], 0.3 / 0.8, 1e-12);
  EXPECT_EQ(p[2], 0.0);
  // top_p below the first token's mass keeps that token alone; top_k 2 drops the third.
  o.top_p = 0.1;
  EXPECT_NEAR(as_vector(sampling_distribution(logits, o))[0], 1.0, 1e-12);
  o.top_p = 1.0;
  o.top_k = 2;
  p = as_vector(sampling_distribution(logits, o));
  EXPECT_NEAR(p[1], 0.3 / 0.8, 1e-12);
  EXPECT_EQ(p[2], 0.0);
}

TEST(Sampling, DrawsFollowTheDistributionAndRepeatWithTheSeed) {
  const auto logits = log_probs({0.5, 0.3, 0.2}).to(torch::kFloat).unsqueeze(0);
  SamplingOptions o;
  o.do_sample = true;
  auto draw = [&](uint64_t seed, int n) {
    std::mt19937_64 stream(seed);
    std::vector<int64_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(sample_tokens(logits, o, {&stream}).item<int64_t>());
    return ids;
  };
  const auto a = draw(7, 20000);
  std::vector<double> freq(3, 0.0);
  for (auto id : a) freq[id] += 1.0 / a.size();
  // Binomial sd at n = 20000 is at most 0.0036; 0.015 is four of them.
  EXPECT_NEAR(freq[0], 0.5, 0.015);
  EXPECT_NEAR(freq[1], 0.3, 0.015);
  EXPECT_NEAR(freq[2], 0.2, 0.015);
  EXPECT_EQ(draw(7, 200), std::vector<int64_t>(a.begin(), a.begin() + 200));
  EXPECT_NE(draw(8, 200), std::vector<int64_t>(a.begin(), a.begin() + 200));
  EXPECT_NE(sample_stream_seed(1234, 0, 1), sample_stream_seed(1234, 1, 0));
}

TaskSpec sampled_task(int64_t repeats, int64_t seed) {
  return TaskSpec::from_json(
      {{"name", "sampled"},
       {"output_type", "generate_until"},
       {"data", {{"path", "unused"}}},
       {"prompt", "{{prompt}}"},
       {"target", "{{answer}}"},
       {"repeats", repeats},
       {"generation",
        {{"max_new_tokens", 12}, {"do_sample", true}, {"temperature", 1.0}, {"seed", seed}}}});
}

TaskData three_docs() {
  TaskData data;
  data.docs = {{{"prompt", "ab"}, {"answer", "x"}},
               {{"prompt", "cd"}, {"answer", "y"}},
               {{"prompt", "efg"}, {"answer", "z"}}};
  return data;
}

// Every response of every document, in order.
std::vector<std::string> responses(const TaskResult& r) {
  std::vector<std::string> out;
  for (const auto& s : r.samples) {
    if (!s.details.contains("responses")) {
      out.push_back(s.output);
      continue;
    }
    for (const auto& g : s.details["responses"]) out.push_back(g["text"].get<std::string>());
  }
  return out;
}

TEST(Sampling, SeededGenerationIsTheSameInAnyBatchAndDiffersAcrossSeeds) {
  // Eight equally likely bytes (and rarely any other): outputs are random strings.
  UnigramModel model("abcdefgh", 8.0);
  const data::ByteTokenizer tok;
  RunOptions options;
  options.keep_samples = true;
  options.diversity = false;
  options.batch_size = 1;
  const auto one = responses(run_task(model, tok, sampled_task(3, 5), three_docs(), options));
  options.batch_size = 8;
  const auto batched = responses(run_task(model, tok, sampled_task(3, 5), three_docs(), options));
  const auto other = responses(run_task(model, tok, sampled_task(3, 6), three_docs(), options));
  ASSERT_EQ(one.size(), 9u);
  EXPECT_EQ(one, batched);
  EXPECT_NE(one, other);
  // The repeats of one document differ from each other.
  EXPECT_EQ(std::set<std::string>(one.begin(), one.begin() + 3).size(), 3u);
  // --limit keeps the first documents' responses: they depend on the doc id, not the count.
  auto first = three_docs();
  first.docs.resize(1);
  const auto limited = responses(run_task(model, tok, sampled_task(3, 5), first, options));
  EXPECT_EQ(limited, std::vector<std::string>(one.begin(), one.begin() + 3));
}

TEST(Sampling, GreedyIsTheDefaultAndSamplingSettingsNeedDoSample) {
  auto j = sampled_task(1, 0).to_json();
  EXPECT_TRUE(j["generation"]["do_sample"].get<bool>());
  nlohmann::json greedy = {{"name", "g"},
                           {"output_type", "generate_until"},
                           {"data", {{"path", "unused"}}},
                           {"prompt", "{{prompt}}"},
                           {"target", "{{answer}}"}};
  const auto spec = TaskSpec::from_json(greedy);
  EXPECT_FALSE(spec.generation.do_sample);
  EXPECT_FALSE(spec.to_json()["generation"].contains("do_sample"));  // stored specs unchanged
  auto message = [](nlohmann::json bad) {
    try {
      TaskSpec::from_json(bad, "task.json:$");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto bad = greedy;
  bad["generation"] = {{"temperature", 0.7}};
  EXPECT_NE(message(bad).find("task.json:$.generation.temperature"), std::string::npos);
  bad = greedy;
  bad["repeats"] = 4;
  EXPECT_NE(message(bad).find("task.json:$.repeats"), std::string::npos) << message(bad);
  bad = sampled_task(2, 0).to_json();
  bad["filters"] = {{{"name", "maj"}, {"type", "whole"}, {"take_first_k", 3}}};
  EXPECT_NE(message(bad).find("$.filters[0].take_first_k"), std::string::npos) << message(bad);
  bad["filters"] = {{{"name", "pass"}, {"type", "whole"}, {"reduce", "pass_at_k"}, {"k", 3}}};
  EXPECT_NE(message(bad).find("$.filters[0].k"), std::string::npos) << message(bad);
}

TEST(Voting, MajorityVoteKeepsTheFirstOfTiedAnswers) {
  EXPECT_EQ(majority_vote({"3", "5", "5", "3"}), "3");
  EXPECT_EQ(majority_vote({"3", "5", "5"}), "5");
  EXPECT_EQ(majority_vote({"[invalid]", "2", "[invalid]"}), "[invalid]");
}

TEST(Voting, PassAtKIsOneMinusTheChanceThatKDrawsMissEveryCorrectResponse) {
  EXPECT_DOUBLE_EQ(pass_at_k(5, 2, 1), 0.4);
  EXPECT_NEAR(pass_at_k(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-12);     // 1 - C(3,2)/C(5,2)
  EXPECT_NEAR(pass_at_k(10, 3, 4), 1.0 - 35.0 / 210.0, 1e-12);  // 1 - C(7,4)/C(10,4)
  EXPECT_DOUBLE_EQ(pass_at_k(5, 4, 2), 1.0);  // only one wrong response: any two hit
  EXPECT_DOUBLE_EQ(pass_at_k(5, 0, 3), 0.0);
  EXPECT_THROW(pass_at_k(3, 1, 4), InputError);
}

TEST(Repeats, MajAtKAndPassAtKOfConstructedResponses) {
  // gsm8k_cot_self_consistency's filters on five responses per document.
  auto j = sampled_task(5, 0).to_json();
  const std::string answer = "The answer is (\\-?[0-9\\.\\,]*[0-9]+)";
  j["filters"] = {
      {{"name", "score-first"}, {"type", "regex"}, {"pattern", answer}},
      {{"name", "maj@5"}, {"type", "regex"}, {"pattern", answer}, {"reduce", "majority_vote"}},
      {{"name", "maj@3"},
       {"type", "regex"},
       {"pattern", answer},
       {"take_first_k", 3},
       {"reduce", "majority_vote"}},
      {{"name", "pass@2"},
       {"type", "regex"},
       {"pattern", answer},
       {"reduce", "pass_at_k"},
       {"k", 2}}};
  const auto task = TaskSpec::from_json(j);
  TaskData data;
  data.docs = {{{"prompt", "p"}, {"answer", "7"}}, {{"prompt", "q"}, {"answer", "3"}}};
  auto said = [](std::vector<std::string> answers) {
    ExternalGeneration g;
    for (auto& a : answers) g.outputs.push_back(a == "-" ? "no idea" : "The answer is " + a);
    g.output = g.outputs.front();
    return std::optional<ExternalGeneration>(g);
  };
  // Doc 0: first wrong; 7 wins overall (3 of 5); the first three tie 1-1-1, so "1" (first).
  // Doc 1: first right; overall 5 and "[invalid]" tie at two and 5 came first; the first
  // three are 3, 5, 5 -> 5.
  const auto result = score_generations(
      task, data, {said({"1", "7", "2", "7", "7"}), said({"3", "5", "5", "-", "-"})}, true);
  std::map<std::string, double> v;
  for (const auto& s : result.scores) v[s.metric] = s.value;
  EXPECT_DOUBLE_EQ(v["exact_match,score-first"], 0.5);  // doc 1 only
  EXPECT_DOUBLE_EQ(v["exact_match,maj@5"], 0.5);        // doc 0 only
  EXPECT_DOUBLE_EQ(v["exact_match,maj@3"], 0.0);
  // pass@2 with n = 5: doc 0 has c = 3 -> 1 - C(2,2)/C(5,2) = 0.9; doc 1 c = 1 -> 0.4.
  EXPECT_NEAR(v["exact_match,pass@2"], (0.9 + 0.4) / 2, 1e-12);
  // The record holds all five responses, as lm-eval's resps does.
  const auto& record = result.samples[0].details["records"][1];
  EXPECT_EQ(record["filter"], "maj@5");
  EXPECT_EQ(record["resps"][0].size(), 5u);
  EXPECT_EQ(record["filtered_resps"][0], "7");
  // Fewer responses than the task's repeats: an error naming the document.
  EXPECT_THROW(score_generations(task, data, {said({"1"}), std::nullopt}, false), InputError);
}

TEST(Repeats, SelfConsistencyTaskIsLmEvalsYaml) {
  // lm_eval/tasks/gsm8k/gsm8k-cot-self-consistency.yaml at 4e7e0d47, over gsm8k-cot.yaml.
  const auto task = load_task("gsm8k_cot_self_consistency", task_search_dirs());
  EXPECT_EQ(task.repeats, 64);
  EXPECT_TRUE(task.generation.do_sample);
  EXPECT_DOUBLE_EQ(task.generation.temperature, 0.2);
  EXPECT_EQ(task.generation.until, (std::vector<std::string>{"Q:", "\n\n"}));
  ASSERT_EQ(task.filters.size(), 3u);
  EXPECT_EQ(task.filters[0].name, "score-first");
  EXPECT_EQ(task.filters[0].reduce, Reduction::kTakeFirst);
  EXPECT_EQ(task.filters[1].name, "maj@64");
  EXPECT_EQ(task.filters[1].reduce, Reduction::kMajorityVote);
  EXPECT_EQ(task.filters[1].take_first_k, 0);
  EXPECT_EQ(task.filters[2].name, "maj@8");
  EXPECT_EQ(task.filters[2].take_first_k, 8);
  for (const auto& f : task.filters) EXPECT_EQ(f.pattern, "The answer is (\\-?[0-9\\.\\,]*[0-9]+)");
  EXPECT_EQ(task.prompt, "Q: {{question}}\nA:");  // gsm8k_cot's
  EXPECT_EQ(task.shots.exemplars.size(), 8u);
}

TaskSpec prefixed(const std::string& prompt, const std::string& gen_prefix) {
  return TaskSpec::from_json({{"name", "p"},
                              {"output_type", "generate_until"},
                              {"data", {{"path", "unused"}}},
                              {"prompt", prompt},
                              {"target", "{{a}}"},
                              {"gen_prefix", gen_prefix}});
}

TEST(GenPrefix, EndsTheQuestionAndPrecedesEveryShotsAnswerAsInLmEval) {
  // lm-eval build_qa_turn: question, the target delimiter unless there is whitespace at the
  // join, gen_prefix; in shots a space (unless whitespace) and the answer follow.
  const std::vector<nlohmann::json> shots = {{{"q", "1+1"}, {"a", "2"}}};
  const nlohmann::json doc = {{"q", "2+2"}, {"a", "4"}};
  {
    const auto task = prefixed("Q: {{q}}", "Answer:");
    EXPECT_EQ(PromptBuilder(task, shots).context(doc), "Q: 1+1 Answer: 2\n\nQ: 2+2 Answer:");
  }
  {
    const auto task = prefixed("Q: {{q}}\n", "Answer:");
    EXPECT_EQ(PromptBuilder(task, shots).context(doc), "Q: 1+1\nAnswer: 2\n\nQ: 2+2\nAnswer:");
  }
  {
    const auto task = prefixed("Q: {{q}}", "A: ");
    EXPECT_EQ(PromptBuilder(task, shots).context(doc), "Q: 1+1 A: 2\n\nQ: 2+2 A: ");
  }
  {
    // A template, rendered per document.
    const auto task = prefixed("Q: {{q}}", "{{q}} =");
    EXPECT_EQ(PromptBuilder(task, shots).context(doc), "Q: 1+1 1+1 = 2\n\nQ: 2+2 2+2 =");
  }
  // Without one the prompt is as before: the question alone, shots joined by the delimiter.
  const auto plain = prefixed("Q: {{q}}", "");
  EXPECT_EQ(PromptBuilder(plain, shots).context(doc), "Q: 1+1 2\n\nQ: 2+2");
  EXPECT_FALSE(plain.to_json().contains("gen_prefix"));
}

TEST(GenPrefix, TheModelContinuesAfterIt) {
  // The scripted model answers " 5" after exactly 11 prompt bytes ("2+3 Answer:"); after the
  // bare question (3 bytes) it would end the text at once.
  testing::ScriptedModel model(11, " 5");
  auto task = prefixed("{{q}}", "Answer:");
  TaskData data;
  data.docs = {{{"q", "2+3"}, {"a", "5"}}};
  RunOptions options;
  options.keep_samples = true;
  options.diversity = false;
  const auto result = run_task(model, data::ByteTokenizer(), task, data, options);
  ASSERT_EQ(result.samples.size(), 1u);
  EXPECT_EQ(result.samples[0].prompt, "2+3 Answer:");
  EXPECT_EQ(result.samples[0].details["records"][0]["arguments"]["gen_args_0"]["arg_0"],
            "2+3 Answer:");
  EXPECT_EQ(result.samples[0].output, " 5");
  EXPECT_DOUBLE_EQ(result.scores[0].value, 1.0);
}

}  // namespace
}  // namespace dreamer::eval
