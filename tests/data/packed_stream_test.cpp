// Packing and streaming: boundaries, batch layout, determinism, resume, mixture weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <set>

#include "data/packed_stream.h"
#include "tests/data/data_test_util.h"

namespace dreamer::data {
namespace {

using testing::expect_input_error;
using testing::write_temp_lines;

std::shared_ptr<const Tokenizer> bytes() {
  return std::make_shared<ByteTokenizer>();
}

// The expected flat stream, built by hand: bytes of each document, then 256 (EOS).
std::vector<int64_t> flat(const std::vector<std::string>& docs, size_t repeats) {
  std::vector<int64_t> out;
  for (size_t r = 0; r < repeats; ++r)
    for (const auto& d : docs) {
      for (unsigned char c : d) out.push_back(c);
      out.push_back(256);
    }
  return out;
}

const std::vector<std::string> kDocs = {"alpha", "bb", "", "c", "delta echo"};

PackedStream text_stream(int64_t seq_len, uint64_t seed = 0) {
  // "" is not a line document (blank), so the file holds 4 documents.
  auto source = make_source(
      {{"type", "text"}, {"path", write_temp_lines(kDocs)}, {"split", "line"}, {"shuffle", false}});
  return PackedStream(bytes(), Mixture({{1.0, source}}), seed, seq_len);
}

std::vector<int64_t> row(const at::Tensor& tokens, int64_t r) {
  auto t = tokens[r].contiguous();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

TEST(PackedStream, DocumentsAreSeparatedByEos) {
  auto stream = text_stream(8);
  const auto expected = flat({"alpha", "bb", "c", "delta echo"}, 3);
  EXPECT_EQ(stream.take(static_cast<int64_t>(expected.size())), expected);
}

TEST(PackedStream, BatchRowsAreOverlappingWindows) {
  const int64_t B = 3, T = 7;
  auto stream = text_stream(T);
  const auto expected = flat({"alpha", "bb", "c", "delta echo"}, 5);
  for (int n = 0; n < 3; ++n) {
    const Batch batch = stream.next_batch(B);
    ASSERT_EQ(batch.tokens.sizes(), (std::vector<int64_t>{B, T + 1}));
    ASSERT_EQ(batch.tokens.scalar_type(), torch::kLong);
    EXPECT_EQ(batch.token_offset, n * B * T);
    for (int64_t r = 0; r < B; ++r) {
      const int64_t start = batch.token_offset + r * T;
      EXPECT_EQ(row(batch.tokens, r),
                std::vector<int64_t>(expected.begin() + start, expected.begin() + start + T + 1));
    }
    EXPECT_TRUE(torch::equal(batch.inputs(), batch.tokens.narrow(1, 0, T)));
    EXPECT_TRUE(torch::equal(batch.targets(), batch.tokens.narrow(1, 1, T)));
  }
  EXPECT_EQ(stream.token_offset(), 3 * B * T);
}

nlohmann::json synthetic(const std::string& task) {
  return {{"type", "synthetic"}, {"task", {{"task", task}, {"steps", {1, 3}}}}};
}

TEST(PackedStream, SameSeedSameBatchesOtherSeedOthers) {
  auto make = [](uint64_t seed) {
    return PackedStream(bytes(), Mixture::from_json(synthetic("variable_tracking")), seed, 32);
  };
  auto a = make(3), b = make(3), c = make(4);
  for (int i = 0; i < 3; ++i) {
    const auto ta = a.next_batch(4).tokens;
    EXPECT_TRUE(torch::equal(ta, b.next_batch(4).tokens));
    EXPECT_FALSE(torch::equal(ta, c.next_batch(4).tokens));
  }
}

TEST(PackedStream, ResumeAtTokenOffsetEqualsUninterrupted) {
  const nlohmann::json spec = {{"type", "mixture"},
                               {"sources",
                                {{{"weight", 2}, {"source", synthetic("multi_digit_addition")}},
                                 {{"weight", 1}, {"source", synthetic("graph_reachability")}}}}};
  auto make = [&] { return PackedStream(bytes(), Mixture::from_json(spec), 9, 16); };
  auto uninterrupted = make();
  std::vector<Batch> batches;
  for (int i = 0; i < 6; ++i) batches.push_back(uninterrupted.next_batch(2));

  // Seek to the start of batch 3, by token offset.
  auto resumed = make();
  resumed.seek(batches[3].token_offset);
  for (int i = 3; i < 6; ++i)
    EXPECT_TRUE(torch::equal(resumed.next_batch(2).tokens, batches[i].tokens)) << i;

  // Seek to an offset inside a document: the flat continuation matches.
  auto reference = make();
  const auto all = reference.take(300);
  auto mid = make();
  mid.seek(37);
  EXPECT_EQ(mid.take(263), std::vector<int64_t>(all.begin() + 37, all.end()));

  // Restore from a recorded position (what a checkpoint stores), via JSON.
  auto first = make();
  first.next_batch(2);
  first.next_batch(2);
  first.take(5);
  const auto saved =
      StreamPosition::from_json(nlohmann::json::parse(first.position().to_json().dump()));
  auto restored = make();
  restored.restore(saved);
  EXPECT_EQ(restored.token_offset(), 2 * 2 * 16 + 5);
  EXPECT_EQ(restored.take(100), first.take(100));
}

TEST(PackedStream, SyntheticTaskStreamsAsValidExamples) {
  auto stream = PackedStream(bytes(), Mixture::from_json(synthetic("multi_digit_addition")), 1, 64);
  const auto tokens = stream.take(2000);
  std::string doc;
  int documents = 0;
  for (int64_t t : tokens) {
    if (t != 256) {
      doc.push_back(static_cast<char>(t));
      continue;
    }
    // Each document is "a+b=sum" and its sum is right.
    const size_t plus = doc.find('+'), eq = doc.find('=');
    ASSERT_NE(eq, std::string::npos) << doc;
    const uint64_t a = std::stoull(doc.substr(0, plus)),
                   b = std::stoull(doc.substr(plus + 1, eq - plus - 1));
    EXPECT_EQ(doc.substr(eq + 1), std::to_string(a + b));
    doc.clear();
    ++documents;
  }
  EXPECT_GT(documents, 100);
}

TEST(Mixture, WeightsAreApproximatelyRespected) {
  const nlohmann::json spec = {{"type", "mixture"},
                               {"sources",
                                {{{"weight", 3}, {"source", synthetic("multi_digit_addition")}},
                                 {{"weight", 1}, {"source", synthetic("graph_reachability")}}}}};
  auto stream = PackedStream(bytes(), Mixture::from_json(spec), 5, 64);
  int addition = 0, graph = 0;
  std::string doc;
  while (addition + graph < 4000) {
    const int64_t t = stream.take(1)[0];
    if (t != 256) {
      doc.push_back(static_cast<char>(t));
      continue;
    }
    (doc.find('>') != std::string::npos ? graph : addition)++;
    doc.clear();
  }
  // Binomial(4000, 0.75): sd = 27 documents; 0.03 is more than 4 sd.
  EXPECT_NEAR(addition / 4000.0, 0.75, 0.03);
}

TEST(Mixture, FileSourceCoversEachDocumentOncePerEpoch) {
  std::vector<std::string> lines;
  for (int i = 0; i < 20; ++i) lines.push_back("doc" + std::to_string(i));
  const nlohmann::json text = {
      {"type", "text"}, {"path", write_temp_lines(lines)}, {"split", "line"}};
  const nlohmann::json spec = {
      {"type", "mixture"},
      {"sources",
       nlohmann::json::array({{{"weight", 1}, {"source", text}},
                              {{"weight", 1}, {"source", synthetic("multi_digit_addition")}}})}};
  auto stream = PackedStream(bytes(), Mixture::from_json(spec), 2, 64);
  std::vector<std::string> seen;
  std::string doc;
  while (seen.size() < 20) {
    const int64_t t = stream.take(1)[0];
    if (t != 256) {
      doc.push_back(static_cast<char>(t));
      continue;
    }
    if (doc.rfind("doc", 0) == 0) seen.push_back(doc);
    doc.clear();
  }
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 20u);
  EXPECT_NE(seen, lines);  // shuffled
}

TEST(Mixture, SpecErrorsNameThePath) {
  auto expect_error = [](const nlohmann::json& spec, const std::string& where) {
    expect_input_error([&] { Mixture::from_json(spec); }, where);
  };

  expect_error({{"type", "mixture"}, {"sources", nlohmann::json::array()}}, "$.sources");
  expect_error({{"type", "mixture"},
                {"sources", {{{"weight", 1}, {"source", synthetic("modular_arithmetic")}}}},
                {"seed", 1}},
               "$.seed");
  expect_error({{"type", "mixture"},
                {"sources", {{{"weight", 0}, {"source", synthetic("modular_arithmetic")}}}}},
               "$.sources[0].weight");
  expect_error(
      {{"type", "mixture"}, {"sources", {{{"weight", 1}, {"source", {{"type", "synthetic"}}}}}}},
      "$.sources[0].source.task");
}

}  // namespace
}  // namespace dreamer::data
