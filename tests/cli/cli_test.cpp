// The dreamer CLI as a user runs it: machine-readable output, clear errors, exit codes.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "models/registry.h"
#include "tests/test_util.h"

namespace dreamer::testing {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CliModels, JsonListsEveryPresetWithItsInstantiatedCount) {
  auto result = run_cli("models --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto rows = nlohmann::json::parse(result.output);
  size_t expected_rows = 0;
  for (const auto& f : models::families()) expected_rows += f.presets.size();
  ASSERT_EQ(rows.size(), expected_rows);
  for (const auto& row : rows) {
    if (row["family"] != "dreamer") continue;  // instantiating big baselines is too slow here
    auto model = models::build_model(models::ModelConfig::from_preset("dreamer", row["preset"]));
    auto counts = models::count_parameters(*model);
    EXPECT_EQ(row["params"]["total"].get<int64_t>(), counts.total) << row.dump();
    EXPECT_EQ(row["params"]["embedding"].get<int64_t>(), counts.embedding);
    EXPECT_EQ(row["params"]["non_embedding"].get<int64_t>(), counts.non_embedding);
  }
}

TEST(CliModels, ConfigJsonPrintsAResolvedConfigThatRebuildsTheModel) {
  auto file = write_file("m.json", R"({"family": "dreamer", "preset": "DR+DA", "d_model": 64})");
  auto result = run_cli("models --json --config " + file);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto j = nlohmann::json::parse(result.output);
  EXPECT_EQ(j["family"], "dreamer");
  EXPECT_EQ(j["config"]["d_model"], 64);
  EXPECT_EQ(j["config"]["expert_attention"]["enabled"], false);
  auto rebuilt = models::build_model(models::ModelConfig::from_json(j["config"]));
  EXPECT_EQ(j["params"]["total"].get<int64_t>(), models::count_parameters(*rebuilt).total);
}

TEST(CliModels, InvalidConfigFailsNamingFileAndField) {
  auto file = write_file("bad.json", R"({"family": "dreamer", "expert_attention": {"n_experts": 4, "k": 5}})");
  auto result = run_cli("models --config " + file);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("bad.json"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("expert_attention.k"), std::string::npos) << result.output;
}

TEST(CliModels, MalformedJsonNamesTheLine) {
  auto file = write_file("broken.json", "{\n  \"family\": \"dreamer\",\n  \"d_model\": ,\n}\n");
  auto result = run_cli("models --config " + file);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("broken.json:3:"), std::string::npos) << result.output;
}

TEST(CliFlags, BadFlagsExitNonZero) {
  EXPECT_NE(run_cli("--threads 0 doctor").exit_code, 0);
  EXPECT_NE(run_cli("models --config /nonexistent/file.json").exit_code, 0);
  EXPECT_NE(run_cli("no-such-command").exit_code, 0);
}

TEST(CliDoctor, ReportsVersionsAndThreads) {
  auto result = run_cli("doctor");  // run_cli passes --threads 1
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("libtorch:        " + std::to_string(TORCH_VERSION_MAJOR) + "."),
            std::string::npos);
  EXPECT_NE(result.output.find(std::string("sqlite:          ") + sqlite3_libversion()), std::string::npos);
  EXPECT_NE(result.output.find("threads:         1 intra-op"), std::string::npos) << result.output;
}

TEST(CliDemo, ShortDemoLowersTheLoss) {
  auto result = run_cli("demo --steps 30 --batch 8 --seq 32");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Last line: "loss A -> B (xR lower) ..."
  auto pos = result.output.rfind("loss ");
  ASSERT_NE(pos, std::string::npos);
  double first = 0, last = 0;
  ASSERT_EQ(sscanf(result.output.c_str() + pos, "loss %lf -> %lf", &first, &last), 2) << result.output;
  EXPECT_LT(last, first * 0.75) << result.output;
}

}  // namespace
}  // namespace dreamer::testing
