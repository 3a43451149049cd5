// Task files: strict parsing, templates, shipped tasks on the real data, prompts and choices.
#include <gtest/gtest.h>

#include "eval/documents.h"
#include "eval/prompt.h"
#include "eval/task_spec.h"
#include "eval/template.h"
#include "tests/test_util.h"
#include "util/fs.h"
#include "util/json_reader.h"

namespace dreamer::eval {
namespace {

const std::string kData = DREAMER_SHARED_DATA_DIR;
const std::vector<std::string> kTaskDirs = {std::string(DREAMER_SOURCE_DIR) + "/eval/tasks"};

nlohmann::json minimal_generate() {
  return {{"name", "t"},
          {"output_type", "generate_until"},
          {"data", {{"path", "gsm8k/test.jsonl"}}},
          {"prompt", "Q: {{question}}"},
          {"target", "{{answer}}"}};
}

std::string error_of(const nlohmann::json& j) {
  return testing::error_of([&] { TaskSpec::from_json(j); });
}

TEST(TaskSpec, UnknownKeysAreErrorsWithTheirJsonPath) {
  auto j = minimal_generate();
  j["promt"] = "x";
  EXPECT_EQ(error_of(j), "$.promt: unknown key");
  j = minimal_generate();
  j["generation"] = {{"max_new_tokens", 8}, {"stop", {"x"}}};
  EXPECT_EQ(error_of(j), "$.generation.stop: unknown key");
  j = minimal_generate();
  j["filters"] = {{{"name", "a"}, {"type", "regex"}, {"patern", "x"}}};
  EXPECT_EQ(error_of(j), "$.filters[0].patern: unknown key");
  j = minimal_generate();
  j["output_type"] = "generate";
  EXPECT_NE(error_of(j).find("$.output_type: expected one of"), std::string::npos);
  j = minimal_generate();
  j["filters"] = {{{"type", "regex"}, {"pattern", "(unclosed"}}};
  EXPECT_NE(error_of(j).find("$.filters[0].pattern: invalid regex"), std::string::npos);
  j = minimal_generate();
  j["prompt"] = "{{question.strip()}}";
  EXPECT_NE(error_of(j).find("$.prompt: template expression"), std::string::npos);
  EXPECT_EQ(error_of(minimal_generate()), "no error");
}

TEST(TaskSpec, TemplatesRenderFieldsIndicesAndTrim) {
  const nlohmann::json doc = {{"q", "  hi  "}, {"c", {"x", "y"}}, {"n", 3}};
  EXPECT_EQ(render_template("{{q|trim}}|{{ c[1] }}|{{n}}|{{q}}", doc, "$"), "hi|y|3|  hi  ");
  EXPECT_THROW(render_template("{{missing}}", doc, "$"), InputError);
  EXPECT_THROW(render_template("{{c[5]}}", doc, "$"), InputError);
}

TEST(TaskSpec, UnknownTaskNamesWhereItLooked) {
  try {
    load_task("no_such_task", kTaskDirs);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown task \"no_such_task\""), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(kTaskDirs[0]), std::string::npos);
  }
}

TEST(ShippedTasks, EveryTaskFileLoadsAndRendersOnTheRealData) {
  int count = 0, groups = 0;
  for (const auto& file : fs::list_directory(kTaskDirs[0])) {
    const auto name = fs::stem(file);
    if (name[0] == '_') continue;  // a template other task files include
    SCOPED_TRACE(name);
    const auto selection = load_tasks(name, kTaskDirs);
    if (selection.group) {
      EXPECT_EQ(selection.group->name, name);
      EXPECT_EQ(selection.tasks.size(), selection.group->tasks.size());
      ++groups;
      continue;
    }
    const auto& task = selection.tasks.at(0);
    EXPECT_EQ(task.name, name);
    const auto data = load_task_data(task, kData, builtin_synthetic_sources(), 3);
    EXPECT_EQ(data.docs.size(), 3u);
    EXPECT_EQ(static_cast<int64_t>(data.shots.size()), task.shots.n);
    const PromptBuilder prompts(task, data.shots);
    for (size_t i = 0; i < data.docs.size(); ++i) {
      EXPECT_FALSE(prompts.context(data.docs[i], data.shots_of(i)).empty());
      if (task.output_type != OutputType::kLoglikelihoodRolling) {
        EXPECT_FALSE(prompts.reference(data.docs[i]).empty());
      }
    }
    // The settings stored with a result parse back to the same task.
    EXPECT_EQ(TaskSpec::from_json(task.to_json()).to_json(), task.to_json());
    ++count;
  }
  EXPECT_GE(count, 25);
  EXPECT_EQ(groups, 3);  // hendrycks_math, minerva_math, mmlu_math
}

TEST(ShippedTasks, MathQaChoicesAndGoldForEveryItem) {
  const auto task = load_task("mathqa", kTaskDirs);
  const auto data = load_task_data(task, kData, builtin_synthetic_sources());
  ASSERT_EQ(data.docs.size(), 1000u);
  const PromptBuilder prompts(task, data.shots);
  for (const auto& doc : data.docs) {
    const auto choices = prompts.choices(doc);
    ASSERT_EQ(choices.size(), 5u) << doc["options"];
    // No choice swallowed the next option: choice i never holds option i+1's letter marker.
    // (Choices may contain " , " themselves, e.g. "112.5 , 158.5", and about 20 items repeat
    // their own marker, "a ) a ) 1055", which stays in the choice text as in lm-eval.)
    for (size_t i = 0; i < choices.size(); ++i) {
      EXPECT_FALSE(choices[i].empty()) << doc["options"];
      if (i + 1 < choices.size()) {
        EXPECT_EQ(choices[i].find(std::string(1, static_cast<char>('a' + i + 1)) + " ) "),
                  std::string::npos)
            << doc["options"];
      }
    }
    const auto gold = prompts.gold(doc);
    EXPECT_EQ(std::string(1, static_cast<char>('a' + gold)), doc["correct"].get<std::string>());
  }
  EXPECT_EQ(prompts.choices(data.docs[0]),
            (std::vector<std::string>{"12", "16", "18", "24", "26"}));
}

TEST(ShippedTasks, MmluMathIsTheFiveMathSubjects) {
  const auto selection = load_tasks("mmlu_math", kTaskDirs);
  size_t docs = 0;
  for (const auto& task : selection.tasks)
    docs += load_task_data(task, kData, builtin_synthetic_sources()).docs.size();
  EXPECT_EQ(docs, 1064u);  // the data README's count
  const auto data = load_task_data(selection.tasks[0], kData, builtin_synthetic_sources());
  const PromptBuilder prompts(selection.tasks[0], data.shots);
  const auto& doc = data.docs[0];
  EXPECT_EQ(prompts.target_text(doc),
            std::string(1, static_cast<char>('A' + doc["answer"].get<int>())));
  EXPECT_NE(prompts.context(doc).find("\nD. " + doc["choices"][3].get<std::string>() + "\nAnswer:"),
            std::string::npos);
  // A group is not one task.
  EXPECT_THROW(load_task("mmlu_math", kTaskDirs), InputError);
}

TEST(ShippedTasks, ShotsFromTheEvaluatedFileLeaveTheDocumentOut) {
  // lm-eval FirstNSampler on the test split: the first n documents other than the one scored;
  // every document is scored.
  const auto task = load_task("math_lenient", kTaskDirs);
  ASSERT_TRUE(task.shots.path.empty());
  const auto data = load_task_data(task, kData, builtin_synthetic_sources(), 6);
  const auto all = read_jsonl(kData + "/math/test.jsonl");
  ASSERT_EQ(data.docs.size(), 6u);
  EXPECT_EQ(data.docs[0], all[0]);
  EXPECT_EQ(data.shots_of(0), (std::vector<nlohmann::json>{all[1], all[2], all[3], all[4]}));
  EXPECT_EQ(data.shots_of(2), (std::vector<nlohmann::json>{all[0], all[1], all[3], all[4]}));
  EXPECT_EQ(data.shots_of(5), (std::vector<nlohmann::json>{all[0], all[1], all[2], all[3]}));
}

TEST(ShippedTasks, ShotsThatTheDataLacksAreAnErrorSayingWhy) {
  const auto task = load_task("hendrycks_math_algebra", kTaskDirs);
  DataOptions options;
  options.num_fewshot = 4;
  try {
    load_task_data(task, kData, builtin_synthetic_sources(), options);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("train split"), std::string::npos) << e.what();
  }
}

TEST(TaskSpec, IncludeMergesTheBaseFileUnderTheIncludingOne) {
  const auto task = load_task("mmlu_college_mathematics", kTaskDirs);
  EXPECT_EQ(task.description,
            "The following are multiple choice questions (with answers) about college "
            "mathematics.\n\n");
  EXPECT_EQ(task.data.where_in, std::vector<std::string>{"college_mathematics"});
  EXPECT_EQ(task.metrics, std::vector<std::string>{"acc"});  // from _mmlu.json
}

TEST(ShippedTasks, MissingDataFileNamesTheDataRoot) {
  const auto task = load_task("gsm8k", kTaskDirs);
  try {
    load_task_data(task, "/nonexistent_root", builtin_synthetic_sources());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent_root/gsm8k/test.jsonl"), std::string::npos);
  }
}

TEST(SyntheticTasks, APluggedInSourceBecomesDocuments) {
  SyntheticSources sources;
  sources.add("pairs",
              [](int64_t n, uint64_t seed, const nlohmann::json& params, const std::string&) {
                std::vector<data::Example> out;
                for (int64_t i = 0; i < n; ++i)
                  out.push_back({std::to_string(i) + "+1=", std::to_string(i + 1)});
                return out;
              });
  auto j = minimal_generate();
  j["data"] = {{"synthetic", {{"source", "pairs"}, {"n", 4}}}};
  j["prompt"] = "{{prompt}}";
  j["shots"] = {{"n", 1}};
  const auto task = TaskSpec::from_json(j);
  const auto data = load_task_data(task, "unused", sources);
  ASSERT_EQ(data.docs.size(), 4u);  // the shot pool is the documents, each left out of its own
  EXPECT_EQ(data.docs[1]["prompt"], "1+1=");
  EXPECT_EQ(data.docs[1]["answer"], "2");
  EXPECT_EQ(data.shots_of(0).at(0)["prompt"], "1+1=");
  EXPECT_EQ(data.shots_of(1).at(0)["prompt"], "0+1=");
  j["data"]["synthetic"]["source"] = "nope";
  EXPECT_THROW(load_task_data(TaskSpec::from_json(j), "unused", sources), InputError);
}

}  // namespace
}  // namespace dreamer::eval
