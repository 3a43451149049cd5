#include "util/cpu_load.h"

#include <gtest/gtest.h>

namespace dreamer::testing {
namespace {

using util::CpuTimes;

TEST(CpuLoad, ParsesTheAggregateLineAndCountsIowaitAsIdle) {
  const std::string text =
      "cpu  100 5 50 800 20 3 2 0 40 0\n"
      "cpu0 50 2 25 400 10 1 1 0 20 0\n"
      "intr 12345\n";
  const auto t = util::parse_proc_stat(text);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->idle, 820u);                                   // idle + iowait
  EXPECT_EQ(t->total, 100u + 5 + 50 + 800 + 20 + 3 + 2 + 0);  // guest (40) is inside user
  EXPECT_FALSE(util::parse_proc_stat("cpu0 1 2 3 4\n").has_value());
  EXPECT_FALSE(util::parse_proc_stat("cpu  1 2\n").has_value());
}

TEST(CpuLoad, ThreadsFollowTheIdleCores) {
  const CpuTimes start{1000, 4000};
  // 2 cores, 200 ticks: all idle -> 2; one core busy (100 idle ticks) -> 1; both busy -> 1.
  EXPECT_EQ(util::threads_for_idle_share(2, start, {1200, 4200}), 2);
  EXPECT_EQ(util::threads_for_idle_share(2, start, {1100, 4200}), 1);
  EXPECT_EQ(util::threads_for_idle_share(2, start, {1000, 4200}), 1);
  // 16 cores, 3 busy: 13 idle of 16 -> 13 threads.
  EXPECT_EQ(util::threads_for_idle_share(16, start, {1000 + 1300, 4000 + 1600}), 13);
  // No tick passed, or counters that went backwards: every core.
  EXPECT_EQ(util::threads_for_idle_share(8, start, start), 8);
  EXPECT_EQ(util::threads_for_idle_share(8, start, {900, 4100}), 8);
}

}  // namespace
}  // namespace dreamer::testing
