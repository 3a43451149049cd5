// `dreamer tokenizer train` on real text: the first GSM8K training problems (read from the
// shared data folder, never copied into the project).
#include <gtest/gtest.h>

#include <fstream>

#include "data/corpus_readers.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/tokenizer.h"
#include "data/tokenizer_training.h"
#include "tests/test_util.h"
#include "util/errors.h"

namespace dreamer::testing {
namespace {

const std::string kGsm8kTrain = std::string(DREAMER_SHARED_DATA_DIR) + "/gsm8k/train.jsonl";

TEST(TokenizerTrain, CommandTrainsAModelThatRoundTripsAndCompressesGsm8k) {
  if (!data::sentencepiece_built()) GTEST_SKIP() << "this build has no SentencePiece";
  const std::string prefix = temp_dir() + "/gsm8k_sp";
  const auto result = run_cli(
      "tokenizer train --input " + kGsm8kTrain +
      " --template '{question} {answer}' --max-documents 400 --vocab-size 500 --out " + prefix);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("500 pieces from 400 documents"), std::string::npos)
      << result.output;
  const auto tokenizer =
      data::make_tokenizer({{"type", "sentencepiece"}, {"model", prefix + ".model"}});
  EXPECT_EQ(tokenizer->vocab_size(), 500);
  // A problem it did not train on (document 1000): exact round trip, and fewer tokens than
  // bytes (a trained BPE merges frequent pieces; bytes would be one id each).
  const auto documents = data::read_jsonl_documents(
      kGsm8kTrain, data::FieldTemplate::parse("{question}\n{answer}", "test"));
  ASSERT_GT(documents.size(), 1000u);
  const std::string& unseen = documents[1000];
  const auto ids = tokenizer->encode(unseen);
  EXPECT_EQ(tokenizer->decode(ids), unseen);
  EXPECT_LT(ids.size() * 3, unseen.size() * 2);  // under 2 tokens per 3 bytes
}

TEST(TokenizerTrain, JsonlWithoutTemplateNamesTheFileAndTheFlag) {
  try {
    data::write_training_text({kGsm8kTrain, "", 0}, temp_dir() + "/text.txt");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), kGsm8kTrain);
    EXPECT_NE(std::string(e.what()).find("--template"), std::string::npos);
  }
  const auto result = run_cli("tokenizer train --input " + kGsm8kTrain +
                              " --vocab-size 100 --out " + temp_dir() + "/x");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--template"), std::string::npos) << result.output;
}

TEST(TokenizerTrain, TemplateRendersEachRowAndMaxDocumentsStopsEarly) {
  const std::string text = temp_dir() + "/text.txt";
  EXPECT_EQ(data::write_training_text({kGsm8kTrain, "Q {question}", 3}, text), 3);
  std::ifstream in(text);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.rfind("Q ", 0), 0u) << line;  // every row's question, nothing else
    ++lines;
  }
  EXPECT_EQ(lines, 3);  // GSM8K questions are single lines
}

}  // namespace
}  // namespace dreamer::testing
