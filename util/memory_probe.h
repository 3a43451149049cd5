#pragma once
// Counts the bytes LibTorch's CPU allocator hands out, so a test or a benchmark can measure what a
// training step really keeps alive (for example the tensors autograd saves for backward) and
// compare it with the cost model's formulas (models/cost.h). CUDA has its caching allocator's
// own statistics (util/device.h); this is the CPU counterpart, which LibTorch 1.13 lacks.
#include <cstdint>

namespace dreamer {

struct CpuMemoryStats {
  int64_t live_bytes = 0;   // allocated and not yet freed
  int64_t peak_bytes = 0;   // highest live_bytes since the last reset_peak()
  int64_t allocations = 0;  // number of allocations since install
};

// Installs the counting allocator in front of the default CPU allocator (idempotent; it stays
// installed for the rest of the process). Only allocations made after the first call are seen.
void install_cpu_memory_probe();
bool cpu_memory_probe_installed();
CpuMemoryStats cpu_memory_stats();
void reset_cpu_peak();  // peak := live

}  // namespace dreamer
