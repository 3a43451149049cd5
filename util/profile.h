#pragma once
// Per-kernel profile of a few training steps (issue 11): LibTorch's Kineto profiler (CPU + CUDA
// activities) around a step callback, a Chrome trace, and a plain-text table of the device
// (CUDA) time per step summed per kernel name. bench/gpu/reference.py writes the same table
// from torch.profiler, and bench/gpu/profile_diff.py sets two of them side by side.
//
// Table format (both writers; '#' lines are "# key value" metadata or the column header):
//   # impl dreamer
//   # label moe922
//   # steps 3
//   # wall_ms_per_step 130.250
//   # device_ms_per_step 121.004
//   # kernel_names 812
//   #   total_ms      calls    mean_us  percent  name
//       12.345         24     514.38    9.48%  <kernel name, may hold spaces>
//   # rest_names 772
//   # rest_ms_per_step 1.234
// total_ms and calls are per profiled step, mean_us per call, percent of wall_ms_per_step.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dreamer {

// One device activity (a kernel, memcpy or memset) as the profiler reports it.
struct KernelTime {
  std::string name;
  double duration_us = 0;
};

struct ProfileRow {
  std::string name;
  double calls_per_step = 0;
  double ms_per_step = 0;
  double mean_us = 0;  // per call
  double percent = 0;  // of the wall time per step
};

struct ProfileTable {
  std::string impl, label;
  int64_t steps = 0;
  double wall_ms_per_step = 0;
  double device_ms_per_step = 0;  // every kernel's time, the rest included
  int64_t kernel_names = 0;
  std::vector<ProfileRow> rows;  // the `top` largest by ms_per_step (ties: by name)
  int64_t rest_names = 0;
  double rest_ms_per_step = 0;
};

// Sums `kernels` per name and divides by `steps`; keeps the `top` names with the largest time.
// steps >= 1 and wall_ms_per_step > 0, else std::invalid_argument.
ProfileTable profile_table(const std::vector<KernelTime>& kernels, int64_t steps,
                           double wall_ms_per_step, size_t top);

// The table in the format above, one row per line.
std::string format_profile_table(const ProfileTable& table);

// Whether this build can profile CUDA kernels (LibTorch 2.x: Kineto's C++ API). Builds without
// Kineto inside LibTorch are only found at run time: profile_steps() then records no kernels.
bool kineto_profiler_compiled();

// Why profile_steps() could not profile (the step's own exceptions pass through unchanged).
struct ProfileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What the profiler is asked for and where its files go.
struct ProfileRequest {
  std::string table_path;  // the table; the Chrome trace goes to table_path + ".trace.json"
  std::string impl, label;
  int64_t steps = 3;
  size_t top = 40;
};

// Runs `step` (which must wait for the device before it returns) request.steps times under the
// Kineto profiler with CPU and CUDA activities, writes the trace and the table, and returns the
// table. Throws ProfileError when this build cannot profile (LibTorch 1.x), when the table
// cannot be written, or when the profiler recorded no CUDA kernel (a LibTorch without
// Kineto/CUPTI).
ProfileTable profile_steps(const std::function<void()>& step, const ProfileRequest& request);

}  // namespace dreamer
