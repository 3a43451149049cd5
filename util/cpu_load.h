#pragma once
// How many cores are free right now, from two snapshots of /proc/stat. The CLI's default
// intra-op thread count: an OpenMP team larger than the free cores waits at every barrier for
// the thread that shares its core with another process (measured on 2 cores beside one busy
// loop: 2 threads fall to 0.14x their idle speed, 1 thread keeps 0.63x; docs/PERF.md).
#include <cstdint>
#include <optional>
#include <string>

namespace dreamer::util {

// The machine-wide counters of /proc/stat's "cpu" line, in clock ticks.
struct CpuTimes {
  uint64_t idle = 0;   // idle + iowait
  uint64_t total = 0;  // every field but guest time (already counted in user)
};

// Parses the aggregate "cpu " line of /proc/stat's text; nullopt when it is missing or short.
std::optional<CpuTimes> parse_proc_stat(const std::string& text);

// Threads for `cores` cores when the machine was idle for the share of ticks between the two
// snapshots: the number of idle cores, rounded, at least 1 and at most `cores`; `cores` when no
// tick passed.
int threads_for_idle_share(int cores, const CpuTimes& before, const CpuTimes& after);

// Samples /proc/stat `sample_ms` apart (this process sleeps meanwhile, so its own load does not
// count) and returns threads_for_idle_share; `cores` where /proc/stat cannot be read.
int free_core_threads(int cores, int sample_ms = 60);

}  // namespace dreamer::util
