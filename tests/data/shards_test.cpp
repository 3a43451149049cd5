// Pre-tokenised shards: `dreamer tokenize`'s output read back equals the tokenizer's own output,
// the held-out split depends on each document alone, a shard-backed stream resumes exactly, and
// damaged shards or a different tokenizer are errors naming the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>

#include "data/packed_stream.h"
#include "data/shards.h"
#include "data/tokenize_corpus.h"
#include "data/tokenizer.h"
#include "experiments/experiment_spec.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "util/errors.h"

namespace dreamer::testing {
namespace {

std::vector<std::string> corpus_documents(int n, int first = 0) {
  std::vector<std::string> docs;
  for (int i = first; i < first + n; ++i)
    docs.push_back("problem " + std::to_string(i) + ": " + std::string(1 + i % 7, 'a' + i % 26) +
                   " = " + std::to_string(i * 37 % 101));
  return docs;
}

std::string write_jsonl(const std::string& dir, const std::string& name,
                        const std::vector<std::string>& docs) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path);
  for (const auto& d : docs) out << nlohmann::json{{"q", d}, {"unused", 1}}.dump() << "\n";
  return path;
}

std::vector<int64_t> read_split(const std::string& dir, const nlohmann::json& manifest,
                                const std::string& split) {
  std::vector<int64_t> tokens;
  for (const auto& s : manifest["splits"][split]["shards"]) {
    const data::MappedShard shard(dir + "/" + s["file"].get<std::string>());
    for (int64_t i = 0; i < shard.size(); ++i) tokens.push_back(shard.token(i));
  }
  return tokens;
}

data::TokenizeOptions options_for(const std::string& input, const std::string& out) {
  data::TokenizeOptions o;
  o.inputs = {input};
  o.template_text = "Q: {q}";
  o.out_dir = out;
  o.heldout_fraction = 0.25;
  o.shard_tokens = 500;  // several shards
  return o;
}

TEST(Shards, TokenizeRoundTripEqualsTheTokenizersOutput) {
  const std::string dir = temp_dir();
  const auto docs = corpus_documents(200);
  const auto input = write_jsonl(dir, "corpus.jsonl", docs);
  const data::ByteTokenizer tokenizer;
  const auto manifest =
      data::tokenize_corpus(options_for(input, dir + "/shards"), tokenizer, nullptr);

  std::vector<int64_t> train, heldout;
  int heldout_docs = 0;
  for (const auto& d : docs) {
    auto ids = tokenizer.encode("Q: " + d);
    ids.push_back(tokenizer.eos_id());
    auto& split = data::is_heldout("Q: " + d, 0.25) ? heldout : train;
    heldout_docs += data::is_heldout("Q: " + d, 0.25);
    split.insert(split.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(read_split(dir + "/shards", manifest, "train"), train);
  EXPECT_EQ(read_split(dir + "/shards", manifest, "heldout"), heldout);
  EXPECT_GT(manifest["splits"]["train"]["shards"].size(), 2u);
  EXPECT_EQ(manifest["splits"]["train"]["tokens"].get<int64_t>(),
            static_cast<int64_t>(train.size()));
  EXPECT_EQ(manifest["splits"]["heldout"]["documents"].get<int>(), heldout_docs);
  EXPECT_EQ(manifest["dtype"], "uint16");
  EXPECT_EQ(manifest["tokenizer"], tokenizer.to_json());
  EXPECT_EQ(manifest["sources"][0]["documents"].get<int>(), 200);
  EXPECT_EQ(manifest["sources"][0]["sha256"].get<std::string>().size(), 64u);
  // heldout.jsonl holds the held-out documents' text, for perplexity tasks.
  std::ifstream text(dir + "/shards/heldout.jsonl");
  int lines = 0;
  for (std::string line; std::getline(text, line); ++lines)
    EXPECT_TRUE(data::is_heldout(nlohmann::json::parse(line)["text"].get<std::string>(), 0.25));
  EXPECT_EQ(lines, heldout_docs);
}

TEST(Shards, HeldOutSplitDependsOnTheDocumentAloneAndHasTheRequestedSize) {
  const auto docs = corpus_documents(4000);
  int held = 0;
  for (const auto& d : docs) held += data::is_heldout(d, 0.1);
  EXPECT_GT(held, 300);  // 10% of 4000 = 400; FNV-1a spreads these well
  EXPECT_LT(held, 500);
  // A different corpus (reordered, with other documents mixed in) splits the shared ones alike.
  const std::string dir = temp_dir();
  auto other = corpus_documents(100, 5000);
  auto mixed = corpus_documents(300);
  mixed.insert(mixed.begin(), other.begin(), other.end());
  std::reverse(mixed.begin(), mixed.end());
  const data::ByteTokenizer tokenizer;
  data::tokenize_corpus(options_for(write_jsonl(dir, "a.jsonl", corpus_documents(300)), dir + "/a"),
                        tokenizer, nullptr);
  data::tokenize_corpus(options_for(write_jsonl(dir, "b.jsonl", mixed), dir + "/b"), tokenizer,
                        nullptr);
  auto heldout_set = [](const std::string& file) {
    std::set<std::string> s;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      s.insert(nlohmann::json::parse(line)["text"].get<std::string>());
    return s;
  };
  const auto a = heldout_set(dir + "/a/heldout.jsonl"), b = heldout_set(dir + "/b/heldout.jsonl");
  EXPECT_FALSE(a.empty());
  for (const auto& d : corpus_documents(300))
    EXPECT_EQ(a.count("Q: " + d), b.count("Q: " + d)) << d;
  EXPECT_GT(b.size(), a.size());  // some of the other 100 are held out too
}

TEST(Shards, StreamWindowsMatchTheFlatTokensAndResumeEqualsTheUninterruptedStream) {
  const std::string dir = temp_dir();
  const auto input = write_jsonl(dir, "corpus.jsonl", corpus_documents(120));
  const auto tokenizer = std::make_shared<data::ByteTokenizer>();
  const auto manifest = data::tokenize_corpus(options_for(input, dir + "/s"), *tokenizer, nullptr);
  const auto flat = read_split(dir + "/s", manifest, "train");
  const int64_t T = 16, B = 3, n = static_cast<int64_t>(flat.size());
  const std::string m = dir + "/s/manifest.json";
  const nlohmann::json spec = {{"type", "shards"}, {"path", m}};

  data::PackedStream whole(data::open_shards(spec, *tokenizer, "$"), T);
  std::vector<at::Tensor> batches;
  // Enough batches to wrap past the end of the split (the next epoch starts over).
  const int64_t steps = n / (B * T) + 3;
  for (int64_t s = 0; s < steps; ++s) batches.push_back(whole.next_batch(B).tokens);
  for (int64_t s = 0; s < steps; ++s)
    for (int64_t r = 0; r < B; ++r)
      for (int64_t t = 0; t <= T; ++t)
        ASSERT_EQ(batches[s][r][t].item<int64_t>(), flat[(s * B * T + r * T + t) % n])
            << s << " " << r << " " << t;

  data::PackedStream first(data::open_shards(spec, *tokenizer, "$"), T);
  first.next_batch(B);
  first.next_batch(B);
  const auto saved = data::StreamPosition::from_json(first.position().to_json());
  data::PackedStream resumed(data::open_shards(spec, *tokenizer, "$"), T);
  resumed.restore(saved);
  for (int64_t s = 2; s < steps; ++s)
    EXPECT_TRUE(resumed.next_batch(B).tokens.equal(batches[s])) << s;
  data::PackedStream sought(data::open_shards(spec, *tokenizer, "$"), T);
  sought.seek(5 * B * T);
  EXPECT_TRUE(sought.next_batch(B).tokens.equal(batches[5]));
}

void expect_error(const std::function<void()>& f, const std::string& where,
                  const std::string& words) {
  try {
    f();
    ADD_FAILURE() << "expected an InputError at " << where;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(Shards, DamagedShardsAndAnotherTokenizerAreErrorsNamingTheFile) {
  const std::string dir = temp_dir();
  const data::ByteTokenizer tokenizer;
  auto o = options_for(write_jsonl(dir, "c.jsonl", corpus_documents(50)), dir + "/s");
  o.shard_tokens = 1 << 20;  // one shard
  data::tokenize_corpus(o, tokenizer, nullptr);
  const std::string shard = dir + "/s/train_000000.bin", m = dir + "/s/manifest.json";
  std::string bytes;
  {
    std::ifstream in(shard, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& b) { std::ofstream(shard, std::ios::binary) << b; };
  const nlohmann::json spec = {{"type", "shards"}, {"path", m}};
  auto open = [&] { data::open_shards(spec, tokenizer, "$.data.train"); };

  write(bytes.substr(0, bytes.size() - 1));
  expect_error(open, shard, "truncated or corrupt");
  write(bytes.substr(0, 10));
  expect_error(open, shard, "shorter than the 32-byte header");
  std::string bad = bytes;
  bad[0] = 'X';
  write(bad);
  expect_error(open, shard, "magic");
  bad = bytes;
  bad[12] = 3;  // 3 bytes per token
  write(bad);
  expect_error(open, shard, "expected 2 (uint16) or 4 (uint32)");
  write(bytes);
  EXPECT_NO_THROW(open());
  // A manifest made with another tokenizer.
  auto manifest = nlohmann::json::parse(std::ifstream(m));
  manifest["tokenizer"] = {
      {"type", "sentencepiece"}, {"model", "x.model"}, {"vocab_size", 32000}, {"model_hash", "ab"}};
  std::ofstream(m) << manifest.dump();
  expect_error(open, m, "the experiment's tokenizer is");
  expect_error(
      [&] {
        data::open_shards({{"type", "shards"}, {"path", m}, {"shuffle", true}}, tokenizer,
                          "$.data.train");
      },
      "$.data.train.shuffle", "unknown key");
}

TEST(Shards, AnExperimentTrainsFromShardsAndChecksThemWhenParsed) {
  const std::string dir = temp_dir();
  const data::ByteTokenizer tokenizer;
  data::tokenize_corpus(options_for(write_jsonl(dir, "c.jsonl", corpus_documents(80)), dir + "/s"),
                        tokenizer, nullptr);
  auto experiment = tiny_experiment();
  experiment["data"]["train"] = {{"type", "shards"}, {"path", dir + "/s/manifest.json"}};
  const std::string file = dir + "/tiny.json";
  std::ofstream(file) << experiment.dump();
  EXPECT_NO_THROW(experiments::read_experiment(file));
  const auto result =
      run_cli("run " + file + " --db " + dir + "/r.db --out " + dir + "/runs --no-progress");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::remove((dir + "/s/train_000000.bin").c_str());
  expect_error([&] { experiments::read_experiment(file); }, dir + "/s/train_000000.bin",
               "cannot open shard");
}

}  // namespace
}  // namespace dreamer::testing
