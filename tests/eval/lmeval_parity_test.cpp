// The shipped lm-eval tasks against values lm-evaluation-harness itself computed (commit
// 4e7e0d47) on the shared data: tests/fixtures/lmeval/make_*.py ran lm-eval's own sampler,
// prompt pieces, answer extraction, normalisers and process_results to write the fixtures.
#include <gtest/gtest.h>

#include <map>

#include "eval/documents.h"
#include "eval/extraction.h"
#include "eval/lmeval_math.h"
#include "eval/normalize.h"
#include "eval/predictions.h"
#include "eval/prompt.h"
#include "eval/python_random.h"
#include "eval/runner.h"
#include "eval/sha256.h"
#include "eval/task_spec.h"
#include "util/json_reader.h"

namespace dreamer::eval {
namespace {

const std::string kData = DREAMER_SHARED_DATA_DIR;
const std::string kFixtures = std::string(DREAMER_SOURCE_DIR) + "/tests/fixtures/lmeval/";
const std::vector<std::string> kTaskDirs = {std::string(DREAMER_SOURCE_DIR) + "/eval/tasks"};

const nlohmann::json& fixture(const std::string& name) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, read_json_file(kFixtures + name)).first;
  return it->second;
}

std::string joined(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

TEST(PythonRandom, DrawsWhatCPythonDraws) {
  const auto& f = fixture("gsm8k.json");
  PythonRandom r(1234);
  for (const auto& v : f["random_1234_getrandbits32"])
    EXPECT_EQ(r.getrandbits(32), v.get<uint64_t>());
  for (const auto& s : f["random_samples"]) {
    PythonRandom rng(s["seed"].get<uint64_t>());
    const auto got = rng.sample(s["n"].get<size_t>(), s["k"].get<size_t>());
    EXPECT_EQ(nlohmann::json(got), s["sample"]) << s.dump();
  }
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(LmEvalGsm8k, EveryPromptOfTheFirst50DocumentsEqualsLmEvals) {
  const auto& f = fixture("gsm8k.json");
  const auto task = load_task("gsm8k", kTaskDirs);
  const auto data = load_task_data(task, kData, builtin_synthetic_sources(), 50);
  const auto train = read_jsonl(kData + "/gsm8k/train.jsonl");
  const PromptBuilder prompts(task, data.shots);
  ASSERT_EQ(data.docs.size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    const auto& expected = f["gsm8k_docs"][i];
    std::vector<nlohmann::json> shots;
    for (const auto& index : expected["shots"]) shots.push_back(train[index.get<size_t>()]);
    EXPECT_EQ(data.shots_of(i), shots) << "doc " << i;
    EXPECT_EQ(sha256_hex(prompts.context(data.docs[i], data.shots_of(i))),
              expected["prompt_sha256"].get<std::string>())
        << "doc " << i;
  }
  EXPECT_EQ(prompts.context(data.docs[0], data.shots_of(0)), f["gsm8k_prompt_0"]);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(data.doc_hashes[i], f["gsm8k_doc_hash"][i]);
  EXPECT_EQ(sha256_hex(prompts.reference(data.docs[0])), f["gsm8k_target_hash_0"]);
}

TEST(LmEvalGsm8k, CotPromptsUseTheEightExemplars) {
  const auto& f = fixture("gsm8k.json");
  const auto task = load_task("gsm8k_cot", kTaskDirs);
  const auto data = load_task_data(task, kData, builtin_synthetic_sources(), 5);
  const PromptBuilder prompts(task, data.shots);
  EXPECT_EQ(prompts.context(data.docs[0], data.shots_of(0)), f["gsm8k_cot_prompt_0"]);
  EXPECT_EQ(sha256_hex(prompts.context(data.docs[1], data.shots_of(1))),
            f["gsm8k_cot_prompt_1_sha256"]);
  for (size_t i = 0; i < 5; ++i)
    EXPECT_EQ(prompts.reference(data.docs[i]), f["gsm8k_cot_targets"][i]);
}

TEST(LmEvalGsm8k, NumFewshotOverrideAndSeed) {
  const auto task = load_task("gsm8k", kTaskDirs);
  DataOptions options;
  options.limit = 2;
  options.num_fewshot = 0;
  const auto zero = load_task_data(task, kData, builtin_synthetic_sources(), options);
  const auto test = read_jsonl(kData + "/gsm8k/test.jsonl");
  EXPECT_EQ(PromptBuilder(task, zero.shots).context(zero.docs[0], zero.shots_of(0)),
            "Question: " + test[0]["question"].get<std::string>() + "\nAnswer:");
  // Another seed draws other shots (lm-eval's --seed); 1234 draws the fixture's.
  options.num_fewshot = 5;
  options.fewshot_seed = 7;
  const auto other = load_task_data(task, kData, builtin_synthetic_sources(), options);
  const auto train = read_jsonl(kData + "/gsm8k/train.jsonl");
  EXPECT_NE(other.shots_of(0)[0], train[fixture("gsm8k.json")["gsm8k_docs"][0]["shots"][0]]);
}

TEST(LmEvalMath, ReferencesOfAll5000SolutionsEqualLmEvals) {
  const auto& f = fixture("math.json");
  const auto docs = read_jsonl(kData + "/math/test.jsonl");
  const auto hendrycks = load_task("hendrycks_math_algebra", kTaskDirs);
  const auto minerva = load_task("minerva_math_algebra", kTaskDirs);
  std::vector<std::string> h, m;
  for (const auto& d : docs) {
    h.push_back(Filter(hendrycks.target_filter).apply(d["solution"].get<std::string>()));
    m.push_back(Filter(minerva.target_filter).apply(d["solution"].get<std::string>()));
  }
  for (size_t i = 0; i < 25; ++i) {
    EXPECT_EQ(h[i], f["hendrycks_refs_first"][i]);
    EXPECT_EQ(m[i], f["minerva_refs_first"][i]);
  }
  EXPECT_EQ(sha256_hex(joined(h, "\n")), f["hendrycks_refs_sha256"]);
  EXPECT_EQ(sha256_hex(joined(m, "\n")), f["minerva_refs_sha256"]);
  for (size_t i = 0; i < 3; ++i) {
    std::vector<std::string> lines;
    read_jsonl(kData + "/math/test.jsonl", &lines);
    EXPECT_EQ(lmeval_doc_hash(lines[i]), f["math_doc_hash"][i]);
  }
}

TEST(LmEvalMath, StripStringAndIsEquivIncludingWherePythonRaises) {
  const auto& f = fixture("math.json");
  for (const auto& c : f["strip_string"]) {
    const auto got = lmeval::strip_string(c["input"].get<std::string>());
    if (c["output"].is_object()) {
      EXPECT_FALSE(got.has_value()) << c.dump();  // Python raised
    } else {
      EXPECT_EQ(got.value_or("<raised>"), c["output"].get<std::string>()) << c.dump();
    }
  }
  const AnswerMatcher matcher(load_task("hendrycks_math_algebra", kTaskDirs).match);
  for (const auto& c : f["is_equiv"])
    EXPECT_EQ(matcher.match(c["a"].get<std::string>(), c["b"].get<std::string>()),
              c["equiv"].get<bool>())
        << c.dump();
}

TEST(LmEvalMath, HendrycksScoresOfConstructedOutputsEqualProcessResults) {
  const auto& f = fixture("math.json");
  const auto task = load_task("hendrycks_math_prealgebra", kTaskDirs);
  const auto data = load_task_data(task, kData, builtin_synthetic_sources(), 60);
  std::vector<std::optional<ExternalGeneration>> outputs(data.docs.size());
  for (const auto& o : f["hendrycks_prealgebra_outputs"])
    outputs[o["doc_id"].get<size_t>()] = ExternalGeneration{o["output"].get<std::string>(), {}};
  const auto result = score_generations(task, data, outputs, true);
  ASSERT_EQ(result.samples.size(), 60u);
  double sum = 0;
  for (const auto& o : f["hendrycks_prealgebra_outputs"]) {
    const auto& record = result.samples[o["doc_id"].get<size_t>()].details["records"][0];
    EXPECT_EQ(record["exact_match"].get<double>(), o["exact_match"].get<double>()) << o.dump();
    sum += o["exact_match"].get<double>();
  }
  ASSERT_EQ(result.scores.size(), 1u);
  EXPECT_EQ(result.scores[0].metric, "exact_match,none");
  EXPECT_DOUBLE_EQ(result.scores[0].value, sum / 60);
}

TEST(LmEvalMath, MinervaExtractionNormalisationAndPrompt) {
  const auto& f = fixture("math.json");
  for (const auto& o : f["minerva_outputs"]) {
    const auto raw = lmeval::minerva_unnormalized_answer(o["output"].get<std::string>());
    EXPECT_EQ(raw, o["unnormalized"]) << o.dump();
    EXPECT_EQ(lmeval::minerva_normalize(raw), o["normalized"]) << o.dump();
  }
  const auto task = load_task("minerva_math_algebra", kTaskDirs);
  const auto data = load_task_data(task, kData, builtin_synthetic_sources(), 1);
  EXPECT_EQ(PromptBuilder(task, data.shots).context(data.docs[0], data.shots_of(0)),
            f["minerva_algebra_prompt_0"]);
}

TEST(LmEvalMathQa, ChoicesOfAll1000ItemsEqualLmEvalsParsing) {
  const auto& f = fixture("mc.json");
  const auto task = load_task("mathqa", kTaskDirs);
  const auto data = load_task_data(task, kData, builtin_synthetic_sources());
  const PromptBuilder prompts(task, data.shots);
  std::vector<std::string> lines;
  for (size_t i = 0; i < data.docs.size(); ++i) {
    const auto choices = prompts.choices(data.docs[i]);
    lines.push_back(joined(choices, "\x1f"));
    const auto key = std::to_string(i);
    if (f["mathqa_choices_some"].contains(key)) {
      EXPECT_EQ(nlohmann::json(choices), f["mathqa_choices_some"][key]) << i;
    }
  }
  EXPECT_EQ(sha256_hex(joined(lines, "\n")), f["mathqa_choices_sha256"]);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(data.doc_hashes[i], f["mathqa_doc_hash"][i]);
}

TEST(LmEvalMathQa, AccAccNormAccBytesOfLmEvalSamplesEqualProcessResults) {
  const auto task = load_task("mathqa", kTaskDirs);
  const auto data = load_task_data(task, kData, builtin_synthetic_sources());
  const auto predictions = read_predictions(kFixtures + "samples_mathqa.jsonl", task, data);
  const auto result = score_choice_loglikelihoods(task, data, predictions.choices, true);
  const auto samples = read_jsonl(kFixtures + "samples_mathqa.jsonl");
  ASSERT_EQ(result.samples.size(), samples.size());
  std::map<std::string, double> sums;
  for (size_t k = 0; k < samples.size(); ++k) {
    const auto& record = result.samples[k].details["records"][0];
    EXPECT_EQ(record["doc_id"], samples[k]["doc_id"]);
    for (const std::string m : {"acc", "acc_norm", "acc_bytes"}) {
      EXPECT_EQ(record[m].get<double>(), samples[k][m].get<double>()) << m << " " << k;
      sums[m] += samples[k][m].get<double>();
    }
    EXPECT_EQ(record["resps"], samples[k]["resps"]);
    EXPECT_EQ(record["target"], samples[k]["target"]);
  }
  // lm-eval's prompt "Question: {{Problem}}\nAnswer:" equals the task's on every item.
  EXPECT_EQ(result.settings["external_prompts_differing"], 0);
  std::map<std::string, double> scores;
  for (const auto& s : result.scores) scores[s.metric] = s.value;
  for (const auto& [m, sum] : sums) EXPECT_DOUBLE_EQ(scores[m], sum / samples.size()) << m;
}

TEST(LmEvalMmlu, PerSubjectDescriptionsAndPrompts) {
  const auto& f = fixture("mc.json");
  const auto selection = load_tasks("mmlu_math", kTaskDirs);
  ASSERT_TRUE(selection.group.has_value());
  ASSERT_EQ(selection.tasks.size(), 5u);
  for (const auto& task : selection.tasks) {
    const auto subject = task.name.substr(5);
    const auto& expected = f["mmlu"][subject];
    const auto data = load_task_data(task, kData, builtin_synthetic_sources());
    EXPECT_EQ(data.docs.size(), expected["n"].get<size_t>()) << subject;
    const PromptBuilder prompts(task, data.shots);
    EXPECT_EQ(prompts.context(data.docs[0], data.shots_of(0)), expected["prompt_0"]) << subject;
    EXPECT_EQ(std::to_string(prompts.gold(data.docs[0])), expected["target_0"]) << subject;
  }
}

}  // namespace
}  // namespace dreamer::eval
