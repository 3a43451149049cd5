// Regression tests for what fuzzing found (docs/RELIABILITY.md); the inputs themselves are in
// fuzz/corpus/ and replayed by the fuzz_corpus_replay test.
#include <gtest/gtest.h>

#include <fstream>

#include "data/corpus_readers.h"
#include "eval/documents.h"
#include "tests/test_util.h"
#include "util/json_reader.h"

namespace dreamer {
namespace {

// A number beyond a double's range ("1e999") made nlohmann::json throw out_of_range, which the
// readers did not catch: the user saw an unlocated library message instead of the file.
TEST(FuzzFindings, AJsonNumberTooLargeIsAnInputErrorNamingTheFile) {
  const std::string dir = testing::temp_dir();
  const std::string file = dir + "/big.json";
  std::ofstream(file) << "{\"train\": {\"tokens\": 1e999}}\n";
  try {
    read_json_file(file);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), file);
    EXPECT_NE(e.message().find("number overflow parsing '1e999'"), std::string::npos) << e.what();
  }

  const std::string jsonl = dir + "/big.jsonl";
  std::ofstream(jsonl) << "{\"q\": 1}\n{\"q\": 1e999}\n";
  try {
    data::read_jsonl_documents(jsonl, data::FieldTemplate::parse("{q}", "t"));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), jsonl + ":2");
  }
  try {
    eval::read_jsonl(jsonl);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), jsonl + ":2");
  }
}

}  // namespace
}  // namespace dreamer
