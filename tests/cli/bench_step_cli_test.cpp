// dreamer bench-step --profile: refused, naming the flag, where the build or the device cannot
// profile CUDA kernels (LibTorch 1.13, the CPU); on a CUDA LibTorch 2.x build with a GPU, the
// table and the Chrome trace it writes (skipped elsewhere).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/test_util.h"
#include "util/fs.h"
#include "util/profile.h"

namespace dreamer::testing {
namespace {

std::string tiny_config() {
  const std::string path = temp_dir() + "/profile_tiny.json";
  std::ofstream(path)
      << R"({"family": "dense_transformer", "vocab_size": 64, "d_model": 32, "n_heads": 4, "n_layers": 1})";
  return path;
}

const std::string kShape = " --batch 2 --seq 16 --steps 1 --warmup 0";

TEST(BenchStepCli, ProfileNeedsLibTorch2WithKinetoAndSaysSo) {
  if (kineto_profiler_compiled()) GTEST_SKIP() << "this build has Kineto's C++ API (LibTorch 2.x)";
  const std::string table = temp_dir() + "/refused_profile.txt";
  const auto r = run_cli("bench-step --config " + tiny_config() + kShape + " --profile " + table);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--profile: needs LibTorch 2.x with Kineto"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("median_step_s"), std::string::npos) << "stepped before refusing";
  EXPECT_FALSE(fs::exists(table));
}

TEST(BenchStepCli, ProfileOnTheCpuIsAnErrorNamingTheFlag) {
  if (!kineto_profiler_compiled()) GTEST_SKIP() << "LibTorch 1.x: refused for the version first";
  const std::string table = temp_dir() + "/cpu_profile.txt";
  const auto r =
      run_cli("bench-step --config " + tiny_config() + kShape + " --device cpu --profile " + table);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--profile: ranks CUDA kernels, so it needs a CUDA device; --device "
                          "cpu resolved to cpu"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(table));
}

TEST(BenchStepCli, ProfileStepsMustBePositive) {
  const auto r = run_cli("bench-step --config " + tiny_config() + kShape + " --profile-steps 0");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--profile-steps"), std::string::npos) << r.output;
}

// The table's rows: (total_ms, name) per line that is not a '#' line; and its "# key value"s.
struct ParsedTable {
  std::vector<std::pair<double, std::string>> rows;
  std::map<std::string, std::string> meta;
};

ParsedTable parse_table(const std::string& path) {
  ParsedTable t;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (line.rfind("# ", 0) == 0) {
      std::string hash, key, value;
      fields >> hash >> key;
      std::getline(fields >> std::ws, value);
      t.meta[key] = value;
      continue;
    }
    double total = 0;
    std::string calls, mean, percent, name;
    fields >> total >> calls >> mean >> percent;
    std::getline(fields >> std::ws, name);
    t.rows.emplace_back(total, name);
  }
  return t;
}

TEST(CudaProfile, BenchStepWritesTheKernelTableAndTheTrace) {
  SKIP_WITHOUT_CUDA();
  if (!kineto_profiler_compiled()) GTEST_SKIP() << "LibTorch 1.x: no Kineto C++ API";
  const std::string table = temp_dir() + "/cuda_profile.txt";
  const auto r = run_cli("bench-step --config " + tiny_config() + kShape +
                         " --device cuda --profile " + table + " --profile-steps 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto line = nlohmann::json::parse(r.output.substr(r.output.rfind("\n{") + 1));
  EXPECT_EQ(line["profile"], table);
  EXPECT_EQ(line["profile_steps"], 2);
  const auto parsed = parse_table(table);
  EXPECT_EQ(parsed.meta.at("impl"), "dreamer");
  EXPECT_EQ(parsed.meta.at("steps"), "2");
  ASSERT_FALSE(parsed.rows.empty()) << "no kernel rows in " << table;
  double sum = std::stod(parsed.meta.at("rest_ms_per_step"));
  for (size_t i = 0; i < parsed.rows.size(); ++i) {
    sum += parsed.rows[i].first;
    EXPECT_FALSE(parsed.rows[i].second.empty()) << "row " << i;
    if (i > 0) {
      EXPECT_LE(parsed.rows[i].first, parsed.rows[i - 1].first) << "row " << i;
    }
  }
  const double device_ms = std::stod(parsed.meta.at("device_ms_per_step"));
  EXPECT_GT(device_ms, 0);
  // Rows and rest add up to the device time (each printed to 0.001 ms).
  EXPECT_NEAR(sum, device_ms, 0.001 * (parsed.rows.size() + 2));
  EXPECT_LE(device_ms, std::stod(parsed.meta.at("wall_ms_per_step")) * 1.05)
      << "kernels on one stream cannot take longer than the wall time";
  std::ifstream trace(table + ".trace.json");
  ASSERT_TRUE(trace.good()) << "no Chrome trace at " << table << ".trace.json";
  std::stringstream text;
  text << trace.rdbuf();
  EXPECT_NE(text.str().find("traceEvents"), std::string::npos);
}

}  // namespace
}  // namespace dreamer::testing
