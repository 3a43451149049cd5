// The per-kernel profile table (util/profile.h): kernel times summed per name and divided by
// the profiled steps, the top rows, the rest, and the text both profilers write (checked here
// against hand-computed values; bench/gpu/reference.py writes the same format).
#include "util/profile.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace dreamer {
namespace {

// Two steps, 1 ms of wall time each. By hand: gemm 1000 us -> 0.5 ms/step, 2 calls/step, mean
// 250 us, 50%; a_tie and b_tie 50 us -> 0.025 ms/step (2.5%); relu 40 us -> 0.02 ms/step,
// mean 20 us; copy 5 us in one call over two steps -> 0.5 calls/step, 0.0025 ms/step.
std::vector<KernelTime> kernels() {
  return {{"gemm", 100}, {"relu", 10},  {"gemm", 300}, {"b_tie", 50}, {"gemm", 200},
          {"copy", 5},   {"a_tie", 50}, {"relu", 30},  {"gemm", 400}};
}

TEST(ProfileTable, SumsPerNameDividesByStepsAndSortsByTime) {
  const auto table = profile_table(kernels(), 2, 1.0, 40);
  EXPECT_EQ(table.steps, 2);
  EXPECT_EQ(table.kernel_names, 5);
  EXPECT_EQ(table.rest_names, 0);
  EXPECT_DOUBLE_EQ(table.device_ms_per_step, 0.5725);
  ASSERT_EQ(table.rows.size(), 5u);
  const std::vector<std::string> order = {"gemm", "a_tie", "b_tie", "relu", "copy"};
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(table.rows[i].name, order[i]) << i;
  const auto& gemm = table.rows[0];
  EXPECT_DOUBLE_EQ(gemm.calls_per_step, 2);
  EXPECT_DOUBLE_EQ(gemm.ms_per_step, 0.5);
  EXPECT_DOUBLE_EQ(gemm.mean_us, 250);
  EXPECT_DOUBLE_EQ(gemm.percent, 50);
  const auto& relu = table.rows[3];
  EXPECT_DOUBLE_EQ(relu.calls_per_step, 1);
  EXPECT_DOUBLE_EQ(relu.ms_per_step, 0.02);
  EXPECT_DOUBLE_EQ(relu.mean_us, 20);
  EXPECT_DOUBLE_EQ(relu.percent, 2);
  const auto& copy = table.rows[4];
  EXPECT_DOUBLE_EQ(copy.calls_per_step, 0.5);
  EXPECT_DOUBLE_EQ(copy.ms_per_step, 0.0025);
  EXPECT_DOUBLE_EQ(copy.mean_us, 5);
  EXPECT_DOUBLE_EQ(copy.percent, 0.25);
}

TEST(ProfileTable, PercentIsOfTheWallTimeNotOfTheKernelSum) {
  // 4 ms of wall time per step: gemm's 0.5 ms is 12.5% although it is 87% of the kernel time.
  const auto table = profile_table(kernels(), 2, 4.0, 40);
  EXPECT_DOUBLE_EQ(table.rows[0].percent, 12.5);
  EXPECT_DOUBLE_EQ(table.device_ms_per_step, 0.5725);
}

TEST(ProfileTable, KeepsTheTopRowsAndSumsTheRest) {
  const auto table = profile_table(kernels(), 2, 1.0, 3);
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_EQ(table.rows[2].name, "b_tie");
  EXPECT_EQ(table.kernel_names, 5);
  EXPECT_EQ(table.rest_names, 2);                      // relu and copy
  EXPECT_DOUBLE_EQ(table.rest_ms_per_step, 0.0225);    // 0.02 + 0.0025
  EXPECT_DOUBLE_EQ(table.device_ms_per_step, 0.5725);  // the rest still counts
}

TEST(ProfileTable, NoKernelsGiveAnEmptyTable) {
  const auto table = profile_table({}, 3, 2.0, 40);
  EXPECT_TRUE(table.rows.empty());
  EXPECT_EQ(table.kernel_names, 0);
  EXPECT_DOUBLE_EQ(table.device_ms_per_step, 0);
}

TEST(ProfileTable, StepsAndWallTimeMustBePositive) {
  EXPECT_THROW(profile_table(kernels(), 0, 1.0, 40), std::invalid_argument);
  EXPECT_THROW(profile_table(kernels(), 2, 0.0, 40), std::invalid_argument);
}

TEST(ProfileTable, FormatsMetadataHeaderRowsAndRest) {
  auto table = profile_table(
      {{"void at::native::kernel<float, 4>(int)", 1500}, {"gemm", 100}, {"copy", 6}}, 2, 1.0, 2);
  table.impl = "dreamer";
  table.label = "moe922";
  // kernel 750 us/step (0.75 ms, 75%, 0.5 calls/step, mean 1500 us); gemm 0.05 ms, 5%; copy
  // is the rest: 0.003 ms. All three: 0.803 ms.
  const std::string expected =
      "# impl dreamer\n"
      "# label moe922\n"
      "# steps 2\n"
      "# wall_ms_per_step 1.000\n"
      "# device_ms_per_step 0.803\n"
      "# kernel_names 3\n"
      "# total_ms      calls    mean_us  percent  name\n"
      "     0.750       0.50    1500.00   75.00%  void at::native::kernel<float, 4>(int)\n"
      "     0.050       0.50     100.00    5.00%  gemm\n"
      "# rest_names 1\n"
      "# rest_ms_per_step 0.003\n";
  EXPECT_EQ(format_profile_table(table), expected);
}

TEST(ProfileTable, WholeCallsPerStepPrintAsIntegers) {
  const auto table = profile_table({{"gemm", 10}, {"gemm", 10}, {"gemm", 10}}, 3, 1.0, 40);
  const auto text = format_profile_table(table);
  EXPECT_NE(text.find("     0.010          1      10.00    1.00%  gemm\n"), std::string::npos)
      << text;
}

// stdout of a shell command, and whether it exited 0.
std::pair<bool, std::string> run(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {false, "popen failed"};
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  return {pclose(pipe) == 0, output};
}

bool have_python() {
  return std::system("python3 -c pass >/dev/null 2>&1") == 0;
}

const std::string kGpuBench = std::string(DREAMER_SOURCE_DIR) + "/bench/gpu";

// bench/gpu/kernel_table.py (what reference.py writes with) against this formatter: the same
// events give the same bytes, so the two profiles diff line by line.
TEST(ProfileTable, PythonKernelTableWritesTheSameBytes) {
  if (!have_python()) GTEST_SKIP() << "no python3";
  std::vector<KernelTime> events = {{"void at::native::vectorized_elementwise_kernel<4>(int)", 3.1},
                                    {"sm90_xmma_gemm_bf16bf16", 812.25},
                                    {"Memcpy DtoD (Device -> Device)", 1.5},
                                    {"sm90_xmma_gemm_bf16bf16", 790.0},
                                    {"void at::native::vectorized_elementwise_kernel<4>(int)", 2.2},
                                    {"Memset (Device)", 0.9},
                                    {"void at::native::reduce_kernel<512, 1>()", 41.7}};
  const double wall = 7.7;
  auto table = profile_table(events, 3, wall, 3);
  table.impl = "eager";
  table.label = "bench/gpu/moe922.json";
  nlohmann::json input = {{"kernels", nlohmann::json::array()}};
  for (const auto& e : events) input["kernels"].push_back({e.name, e.duration_us});
  const std::string path = testing::temp_dir() + "/kernels.json";
  std::ofstream(path) << input.dump();
  const auto [ok, output] =
      run("python3 -c 'import json, sys; sys.path.insert(0, \"" + kGpuBench +
          "\"); import kernel_table as k; d = json.load(open(\"" + path +
          "\")); sys.stdout.write(k.format_table(k.table([tuple(e) for e in d[\"kernels\"]], 3, "
          "7.7, 3, \"eager\", \"bench/gpu/moe922.json\")))'");
  ASSERT_TRUE(ok) << output;
  EXPECT_EQ(output, format_profile_table(table));
}

// bench/gpu/profile_diff.py on two tables this formatter wrote: the metadata side by side, then
// one row per name, largest |B - A| first, '-' where a table has no row of that name.
TEST(ProfileDiff, SetsTwoTablesSideBySideLargestDifferenceFirst) {
  if (!have_python()) GTEST_SKIP() << "no python3";
  auto a = profile_table({{"gemm", 1000}, {"relu", 200}}, 1, 2.0, 40);
  a.impl = "dreamer";
  auto b = profile_table({{"gemm", 1500}, {"relu", 100}, {"copy", 50}}, 1, 2.5, 40);
  b.impl = "eager";
  const std::string dir = testing::temp_dir();
  std::ofstream(dir + "/a.txt") << format_profile_table(a);
  std::ofstream(dir + "/b.txt") << format_profile_table(b);
  const auto [ok, output] =
      run("python3 " + kGpuBench + "/profile_diff.py " + dir + "/a.txt " + dir + "/b.txt");
  ASSERT_TRUE(ok) << output;
  const std::vector<std::string> lines = {
      "wall_ms_per_step              2.000          2.500        0.500",
      "device_ms_per_step            1.200          1.650        0.450",
      "     1.000        1      1.500        1     +0.500  gemm",
      "     0.200        1      0.100        1     -0.100  relu",
      "         -        -      0.050        1     +0.050  copy"};
  size_t at = 0;
  for (const auto& line : lines) {
    const auto found = output.find(line + "\n", at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << line << "\n" << output;
    at = found + line.size();
  }
  const auto [missing_ok, missing] =
      run("python3 " + kGpuBench + "/profile_diff.py " + dir + "/a.txt " + dir + "/missing.txt");
  EXPECT_FALSE(missing_ok);
  EXPECT_NE(missing.find("profile_diff.py: cannot read " + dir + "/missing.txt"), std::string::npos)
      << missing;
}

// bench/gpu/op_table.py charges each kernel to the nest of CPU operators (by time span, per
// thread) that launched it: outermost > innermost, kernels of the same path summed per step.
TEST(OpTable, ChargesKernelsToTheirOutermostAndInnermostOperator) {
  if (!have_python()) GTEST_SKIP() << "no python3";
  auto op = [](const char* name, int ts, int dur, int tid, int ext) {
    return nlohmann::json{
        {"ph", "X"},  {"cat", "cpu_op"}, {"name", name}, {"ts", ts},
        {"dur", dur}, {"pid", 1},        {"tid", tid},   {"args", {{"External id", ext}}}};
  };
  auto kernel = [](const char* name, int ts, int dur, int ext) {
    return nlohmann::json{
        {"ph", "X"},  {"cat", "kernel"}, {"name", name}, {"ts", ts},
        {"dur", dur}, {"pid", 0},        {"tid", 7},     {"args", {{"External id", ext}}}};
  };
  // linear > matmul > mm on thread 1; a lone add on thread 2 whose span overlaps linear's in
  // time (another thread: not nested); two kernels of mm, one of add, one of no operator.
  const nlohmann::json trace = {
      {"traceEvents",
       {op("aten::linear", 0, 100, 1, 1), op("aten::matmul", 5, 60, 1, 2),
        op("aten::mm", 10, 40, 1, 3), op("aten::add", 20, 10, 2, 4), kernel("gemm", 300, 3000, 3),
        kernel("gemm", 400, 1000, 3), kernel("add", 500, 600, 4), kernel("x", 600, 200, 99)}}};
  const std::string path = testing::temp_dir() + "/op_trace.json";
  std::ofstream(path) << trace.dump();
  const auto [ok, output] = run("python3 " + kGpuBench + "/op_table.py " + path + " --steps 2");
  ASSERT_TRUE(ok) << output;
  const std::vector<std::string> lines = {
      "# device_ms_per_step 2.400", "     2.000      1.0  aten::linear > aten::mm",
      "     0.300      0.5  aten::add", "     0.100      0.5  (no CPU operator)"};
  size_t at = 0;
  for (const auto& line : lines) {
    const auto found = output.find(line + "\n", at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << line << "\n" << output;
    at = found + line.size();
  }
  const auto [deep_ok, deep] =
      run("python3 " + kGpuBench + "/op_table.py " + path + " --steps 2 --depth 3");
  ASSERT_TRUE(deep_ok) << deep;
  EXPECT_NE(deep.find("aten::linear > aten::matmul > aten::mm\n"), std::string::npos) << deep;
}

}  // namespace
}  // namespace dreamer
