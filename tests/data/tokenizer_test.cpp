// Tokenizers: byte round trip, the strict factory, and SentencePiece trained, saved, loaded and
// round-tripped inside this binary, which links LibTorch (the protobuf clash the shim avoids).
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "data/packed_stream.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/synthetic.h"
#include "data/tokenizer.h"
#include "tests/data/data_test_util.h"
#include "util/fs.h"

namespace dreamer::data {
namespace {

const std::vector<std::string> kSamples = {
    "Natalia sold clips to 48 of her friends in April.",
    "line one\nline two\n\n  indented\ttab",
    "3+4*2-7=7",
    "caf\xC3\xA9 \xE2\x88\x91 \xF0\x9F\x99\x82",  // UTF-8 never seen in training
    " leading and trailing spaces ",
    "",
};

TEST(ByteTokenizer, RoundTripsAnyBytes) {
  ByteTokenizer t;
  for (const auto& s : kSamples) {
    const auto ids = t.encode(s);
    EXPECT_EQ(ids.size(), s.size());
    EXPECT_EQ(t.decode(ids), s);
  }
  EXPECT_EQ(t.decode({'h', 256, 'i'}), "hi");  // EOS decodes to nothing
}

TEST(MakeTokenizer, ByteAndStrictErrors) {
  auto t = make_tokenizer({{"type", "byte"}});
  EXPECT_EQ(t->vocab_size(), 257);
  EXPECT_EQ(t->to_json(), (nlohmann::json{{"type", "byte"}}));
  auto expect_error = [](const nlohmann::json& spec, const std::string& where) {
    testing::expect_input_error([&] { make_tokenizer(spec, "$.tokenizer"); }, where);
  };

  expect_error({{"type", "byte"}, {"vocab", 3}}, "$.tokenizer.vocab");
  expect_error({{"type", "wordpiece"}}, "$.tokenizer.type");
  expect_error(nlohmann::json::object(), "$.tokenizer.type");
  expect_error({{"type", "sentencepiece"}}, "$.tokenizer.model");
  expect_error({{"type", "sentencepiece"}, {"model", "/nonexistent.model"}}, "$.tokenizer.model");
}

// A small generated corpus: synthetic task text and a few sentences, one per line.
std::string write_corpus(const std::string& dir) {
  const std::string path = dir + "/corpus.txt";
  std::ofstream out(path);
  std::mt19937_64 rng(0);
  const std::vector<std::string> words = {"the", "model",   "thinks",   "in",     "depth",
                                          "and", "answers", "question", "number", "sum",
                                          "of",  "apples",  "each"};
  for (int i = 0; i < 3000; ++i) {
    const auto ex = modular_arithmetic(rng, 1 + i % 5);
    out << ex.prompt << ex.answer << "\n";
    std::string sentence;
    for (int w = 0; w < 8; ++w) sentence += (w ? " " : "") + words[rng() % words.size()];
    out << sentence << ".\n";
  }
  return path;
}

class SentencePiece : public ::testing::TestWithParam<std::string> {};

// Skips only when the build was configured without libsentencepiece; a shim that is built but
// fails to load fails the tests.
#define SKIP_WITHOUT_SENTENCEPIECE() \
  if (!sentencepiece_built()) GTEST_SKIP() << "built without libsentencepiece"

TEST_P(SentencePiece, TrainSaveLoadRoundTrip) {
  SKIP_WITHOUT_SENTENCEPIECE();
  const std::string dir = dreamer::testing::temp_dir();
  SentencePieceTrainOptions options;
  options.model_type = GetParam();
  options.vocab_size = 400;
  const std::string model = train_sentencepiece({write_corpus(dir)}, dir + "/spm", options);
  ASSERT_TRUE(fs::exists(model));

  SentencePieceTokenizer tokenizer(model);
  EXPECT_EQ(tokenizer.vocab_size(), 400);
  EXPECT_GE(tokenizer.eos_id(), 0);
  EXPECT_LT(tokenizer.eos_id(), 400);
  for (const auto& s : kSamples) {
    const auto ids = tokenizer.encode(s);
    for (int64_t id : ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, 400);
      EXPECT_NE(id, tokenizer.eos_id());
    }
    EXPECT_EQ(tokenizer.decode(ids), s);
  }
  // It learned the corpus: in-domain text takes far fewer pieces than bytes.
  const std::string in_domain = "the model thinks in depth and answers each question.";
  EXPECT_LT(tokenizer.encode(in_domain).size() * 3, in_domain.size());

  // The recorded JSON rebuilds an identical tokenizer...
  auto rebuilt = make_tokenizer(tokenizer.to_json());
  EXPECT_EQ(rebuilt->to_json(), tokenizer.to_json());
  EXPECT_EQ(rebuilt->encode(kSamples[0]), tokenizer.encode(kSamples[0]));
  // ...and refuses a model file that changed since it was recorded.
  auto recorded = tokenizer.to_json();
  recorded["model_hash"] = "0";
  EXPECT_THROW(make_tokenizer(recorded), InputError);
  recorded = tokenizer.to_json();
  recorded["vocab_size"] = 401;
  EXPECT_THROW(make_tokenizer(recorded), InputError);
}

INSTANTIATE_TEST_SUITE_P(ModelTypes, SentencePiece, ::testing::Values("bpe", "unigram"));

TEST(SentencePieceTraining, ErrorsAreReported) {
  SKIP_WITHOUT_SENTENCEPIECE();
  const std::string dir = dreamer::testing::temp_dir();
  SentencePieceTrainOptions options;
  options.vocab_size = 10;  // fewer than the 256 byte-fallback pieces alone
  EXPECT_THROW(train_sentencepiece({write_corpus(dir)}, dir + "/big", options), std::runtime_error);
  options.model_type = "wordpiece";
  EXPECT_THROW(train_sentencepiece({write_corpus(dir)}, dir + "/wp", options),
               std::invalid_argument);
}

TEST(SentencePieceTraining, PackedStreamUsesItsEos) {
  SKIP_WITHOUT_SENTENCEPIECE();
  const std::string dir = dreamer::testing::temp_dir();
  SentencePieceTrainOptions options;
  options.vocab_size = 300;
  auto tokenizer = std::make_shared<SentencePieceTokenizer>(
      train_sentencepiece({write_corpus(dir)}, dir + "/s", options));
  const nlohmann::json spec = {{"type", "synthetic"},
                               {"task", {{"task", "modular_arithmetic"}, {"steps", {2, 2}}}}};
  PackedStream stream(tokenizer, Mixture::from_json(spec), 0, 32);
  const auto tokens = stream.take(500);
  std::vector<int64_t> doc;
  int documents = 0;
  for (int64_t t : tokens) {
    if (t != tokenizer->eos_id()) {
      doc.push_back(t);
      continue;
    }
    const std::string text = tokenizer->decode(doc);  // "a?b?c=d": 2 steps, mod 10
    ASSERT_EQ(text.size(), 7u) << text;
    EXPECT_EQ(text[5], '=');
    doc.clear();
    ++documents;
  }
  EXPECT_GT(documents, 10);
}

}  // namespace
}  // namespace dreamer::data
