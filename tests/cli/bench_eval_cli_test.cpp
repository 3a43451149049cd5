// dreamer bench-decode and bench-eval: the JSON line's checks and the input errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/test_util.h"

namespace dreamer::testing {
namespace {

std::string write_config(const std::string& name, const std::string& json) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream(path) << json;
  return path;
}

nlohmann::json last_json_line(const std::string& output) {
  const auto start = output.rfind("\n{");
  return nlohmann::json::parse(output.substr(start == std::string::npos ? 0 : start + 1));
}

TEST(BenchDecodeCli, CachedAndUncachedDecodingPickTheSameTokens) {
  const auto config = write_config(
      "decode.json",
      R"({"family": "dense_transformer", "vocab_size": 64, "d_model": 32, "n_heads": 4, "n_layers": 2})");
  const auto result = run_cli("bench-decode --config " + config + " --context 12 --new-tokens 4");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto line = last_json_line(result.output);
  EXPECT_EQ(line["same_tokens"], true);
  EXPECT_EQ(line["context"], 12);
  EXPECT_EQ(line["new_tokens"], 4);
  EXPECT_EQ(line["family"], "dense_transformer");
}

TEST(BenchDecodeCli, ProfileWithoutACudaKinetoBuildIsRefusedBeforeDecoding) {
  const auto config = write_config(
      "decode_profile.json",
      R"({"family": "dense_transformer", "vocab_size": 64, "d_model": 32, "n_heads": 4, "n_layers": 1})");
  const std::string table = temp_dir() + "/decode_profile.txt";
  const auto r = run_cli("bench-decode --config " + config +
                         " --context 8 --new-tokens 2 --device cpu --profile " + table);
  EXPECT_NE(r.exit_code, 0) << r.output;
  // LibTorch 1.x refuses for the version, 2.x for the device; either names the flag.
  EXPECT_NE(r.output.find("--profile: "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("cached_tokens_per_s"), std::string::npos) << "decoded before refusing";
  EXPECT_FALSE(std::ifstream(table).good());
}

TEST(BenchEvalCli, AModelVocabularyBelowTheTokenizersIsAnErrorNamingTheFile) {
  const auto config = write_config(
      "small_vocab.json",
      R"({"family": "dense_transformer", "vocab_size": 64, "d_model": 32, "n_heads": 4, "n_layers": 1})");
  const auto result = run_cli("bench-eval --config " + config + " --docs 2");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find(config + ": $.vocab_size"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("257"), std::string::npos) << result.output;
  const auto bad = run_cli("bench-eval --config " + config + " --grouping sorted");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--grouping"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace dreamer::testing
