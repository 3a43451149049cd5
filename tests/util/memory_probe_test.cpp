// util/memory_probe: the CPU allocator's byte counts equal the sizes of the tensors made.
#include "util/memory_probe.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace dreamer {
namespace {

TEST(CpuMemoryProbe, CountsLiveAndPeakBytesOfTensors) {
  install_cpu_memory_probe();
  ASSERT_TRUE(cpu_memory_probe_installed());
  const int64_t before = cpu_memory_stats().live_bytes;
  reset_cpu_peak();
  {
    auto a = torch::empty({1000, 250}, torch::kFloat32);  // 1,000,000 bytes
    auto b = torch::empty({500}, torch::kFloat64);        // 4,000 bytes
    EXPECT_EQ(cpu_memory_stats().live_bytes - before, 1004000);
    { auto c = torch::empty({2000}, torch::kInt64); }  // 16,000 bytes, freed at once
    EXPECT_EQ(cpu_memory_stats().live_bytes - before, 1004000);
    EXPECT_EQ(cpu_memory_stats().peak_bytes - before, 1020000);
  }
  EXPECT_EQ(cpu_memory_stats().live_bytes, before);
}

TEST(CpuMemoryProbe, SeesWhatAutogradSavesForBackward) {
  install_cpu_memory_probe();
  auto w = torch::randn({64, 64}, torch::requires_grad());
  auto x = torch::randn({128, 64});
  const int64_t before = cpu_memory_stats().live_bytes;
  // y = sum(tanh(x W)): autograd keeps x (already alive) and W, and tanh's output (128 x 64
  // floats = 32,768 bytes); the product x W itself is freed once tanh has consumed it.
  auto loss = torch::tanh(torch::matmul(x, w)).sum();
  const int64_t kept = cpu_memory_stats().live_bytes - before;
  EXPECT_GE(kept, 32768);
  EXPECT_LE(kept, 32768 + 64);  // + the scalar loss (allocations may round up)
  loss.backward();
  loss = torch::Tensor();
  EXPECT_EQ(cpu_memory_stats().live_bytes - before, 64 * 64 * 4);  // only w.grad remains
}

}  // namespace
}  // namespace dreamer
