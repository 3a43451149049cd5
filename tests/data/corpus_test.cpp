// Corpus readers: JSONL field mapping on real GSM8K, malformed lines, plain text splits,
// epoch shuffling.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "data/source.h"
#include "tests/data/data_test_util.h"

namespace dreamer::data {
namespace {

const std::string kGsm8kTrain = std::string(DREAMER_SHARED_DATA_DIR) + "/gsm8k/train.jsonl";

using testing::expect_input_error;
using testing::write_temp_file;

std::vector<std::string> gsm8k_lines() {
  std::ifstream in(kGsm8kTrain);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

TEST(JsonlSource, Gsm8kTemplateMapping) {
  const auto lines = gsm8k_lines();
  ASSERT_EQ(lines.size(), 7473u);  // data/README.md
  auto source = make_source({{"type", "jsonl"},
                             {"path", kGsm8kTrain},
                             {"template", "Question: {question}\nAnswer: {answer}"},
                             {"shuffle", false}});
  for (size_t i : {size_t{0}, size_t{1234}, lines.size() - 1}) {
    const auto record = nlohmann::json::parse(lines[i]);
    const std::string expected = "Question: " + record["question"].get<std::string>() +
                                 "\nAnswer: " + record["answer"].get<std::string>();
    EXPECT_EQ(source->document(0, i), expected);
    EXPECT_NE(source->document(0, i).find("####"), std::string::npos);  // the final-answer line
  }
  // Unshuffled epochs repeat the file in order.
  EXPECT_EQ(source->document(0, lines.size() + 5), source->document(0, 5));
}

TEST(JsonlSource, FieldsWithSeparatorEqualTheJoinedFields) {
  auto source = make_source({{"type", "jsonl"},
                             {"path", kGsm8kTrain},
                             {"fields", {"question", "answer"}},
                             {"separator", "\n\n"},
                             {"shuffle", false}});
  const auto record = nlohmann::json::parse(gsm8k_lines()[3]);
  EXPECT_EQ(source->document(0, 3),
            record["question"].get<std::string>() + "\n\n" + record["answer"].get<std::string>());
  // The recorded spec is the canonical template form and rebuilds the same source.
  auto rebuilt = make_source(source->to_json());
  EXPECT_EQ(rebuilt->document(0, 3), source->document(0, 3));
}

void expect_line_error(const std::string& content, const std::string& line,
                       const std::string& fragment) {
  const std::string file = write_temp_file("bad.jsonl", content);
  expect_input_error(
      [&] {
        make_source({{"type", "jsonl"}, {"path", file}, {"template", "{q} {a}"}});
      },
      file + ":" + line, fragment);
}

TEST(JsonlSource, MalformedLinesNameFileAndLine) {
  expect_line_error("{\"q\": \"1\", \"a\": \"2\"}\n{\"q\": \"1\", \"a\": \n", "2", "JSON object");
  expect_line_error("{\"q\": \"1\", \"a\": \"2\"}\n\n[1, 2]\n", "3",
                    "expected a JSON object, got array");
  expect_line_error("{\"q\": \"1\", \"a\": \"2\"}\n{\"q\": \"x\"}\n", "2", "missing field \"a\"");
  expect_line_error("{\"q\": {\"nested\": 1}, \"a\": \"2\"}\n", "1",
                    "expected a string or a number");
}

TEST(JsonlSource, NumbersAreMappedAndBlankLinesSkipped) {
  const std::string file = write_temp_file(
      "ok.jsonl", "{\"q\": \"six\", \"a\": 6}\n\n{\"q\": \"x\", \"a\": \"y\", \"extra\": 1}\n");
  auto source = make_source(
      {{"type", "jsonl"}, {"path", file}, {"template", "{{{q}}}={a}"}, {"shuffle", false}});
  EXPECT_EQ(source->document(0, 0), "{six}=6");
  EXPECT_EQ(source->document(0, 1), "{x}=y");
  EXPECT_EQ(source->document(0, 2), "{six}=6");  // two documents, then the next epoch
}

TEST(JsonlSource, SpecErrorsNameThePath) {
  auto expect_error = [](const nlohmann::json& spec, const std::string& where) {
    expect_input_error([&] { make_source(spec); }, where);
  };
  expect_error({{"type", "jsonl"}, {"path", kGsm8kTrain}}, "$");  // no mapping
  expect_error({{"type", "jsonl"}, {"path", kGsm8kTrain}, {"template", "{q}"}, {"fields", {"q"}}},
               "$");
  expect_error({{"type", "jsonl"}, {"path", kGsm8kTrain}, {"template", "{question"}}, "$.template");
  expect_error(
      {{"type", "jsonl"}, {"path", kGsm8kTrain}, {"template", "{question}"}, {"shufle", true}},
      "$.shufle");
  // A missing file is reported where the spec named it, with the file and the OS's reason.
  expect_input_error(
      [&] {
        make_source({{"type", "jsonl"}, {"path", "/nonexistent.jsonl"}, {"template", "{q}"}});
      },
      "$.path", "cannot read data file \"/nonexistent.jsonl\": No such file or directory");
  expect_error({{"type", "parquet"}}, "$.type");
}

TEST(TextSource, SplitsIntoFileParagraphsOrLines) {
  const std::string file = write_temp_file("t.txt", "one\ntwo\n\n\nthree\n  \nfour\n");
  auto docs = [&](const std::string& split) {
    auto source =
        make_source({{"type", "text"}, {"path", file}, {"split", split}, {"shuffle", false}});
    std::vector<std::string> out;
    // Unshuffled: index n wraps to 0 again, so read until the first document repeats.
    for (uint64_t i = 0; i == 0 || source->document(0, i) != out[0]; ++i)
      out.push_back(source->document(0, i));
    return out;
  };
  EXPECT_EQ(docs("paragraph"), (std::vector<std::string>{"one\ntwo", "three", "four"}));
  EXPECT_EQ(docs("line"), (std::vector<std::string>{"one", "two", "three", "four"}));
  EXPECT_EQ(docs("file"), (std::vector<std::string>{"one\ntwo\n\n\nthree\n  \nfour\n"}));
}

TEST(TextSource, ShuffledEpochsArePermutations) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string file = write_temp_file("lines.txt", text);
  auto source = make_source({{"type", "text"}, {"path", file}, {"split", "line"}});
  std::vector<std::string> epoch0, epoch1, other_seed;
  for (uint64_t i = 0; i < 50; ++i) {
    epoch0.push_back(source->document(1, i));
    epoch1.push_back(source->document(1, 50 + i));
    other_seed.push_back(source->document(2, i));
  }
  EXPECT_EQ(std::set<std::string>(epoch0.begin(), epoch0.end()).size(), 50u);
  EXPECT_EQ(std::set<std::string>(epoch1.begin(), epoch1.end()).size(), 50u);
  EXPECT_NE(epoch0, epoch1);
  EXPECT_NE(epoch0, other_seed);
  EXPECT_EQ(source->document(1, 7), epoch0[7]);  // random access agrees with the sequence
}

}  // namespace
}  // namespace dreamer::data
