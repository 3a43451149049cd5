#include "util/profile.h"

#include <c10/core/DeviceType.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

// Kineto's C++ entry points (torch/csrc/autograd/profiler_kineto.h) as LibTorch 2.x declares
// them: prepareProfiler/enableProfiler/disableProfiler, ProfilerResult::events() and save(),
// KinetoEvent::name()/deviceType()/activityType(). LibTorch 1.13 is refused (see the header).
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/autograd/profiler_kineto.h>
#define DREAMER_KINETO_PROFILER 1
#else
#define DREAMER_KINETO_PROFILER 0
#endif

namespace dreamer {

namespace {

bool is_integral(double x) {
  return std::fabs(x - std::round(x)) < 1e-9;
}

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

// Calls per step: an integer when every step made the same number, else two decimals.
std::string format_calls(double calls) {
  return is_integral(calls) ? std::to_string(static_cast<long long>(std::llround(calls)))
                            : format("%.2f", calls);
}

#if DREAMER_KINETO_PROFILER
// A KinetoEvent's duration in microseconds: recent LibTorch (2.11's Python binding reads
// durationNs) has durationNs(); early 2.x had only durationUs() (whole microseconds). The
// first overload is chosen whenever durationNs() exists.
template <typename Event>
auto duration_us(const Event& e, int) -> decltype(static_cast<double>(e.durationNs())) {
  return static_cast<double>(e.durationNs()) / 1000.0;
}
template <typename Event>
double duration_us(const Event& e, long) {
  return static_cast<double>(e.durationUs());
}

// libkineto::ActivityType values of the device activities that take device time (libkineto's
// ActivityType.h numbers them explicitly): GPU_MEMCPY 3, GPU_MEMSET 4, CONCURRENT_KERNEL 5.
// The other CUDA-device events (GPU_USER_ANNOTATION 2, CUDA_SYNC, CUDA_PROFILER_RANGE) span
// kernels already counted; torch.profiler's side (reference.py) drops the same ones.
bool takes_device_time(uint8_t activity_type) {
  return activity_type == 3 || activity_type == 4 || activity_type == 5;
}
#endif

}  // namespace

ProfileTable profile_table(const std::vector<KernelTime>& kernels, int64_t steps,
                           double wall_ms_per_step, size_t top) {
  if (steps < 1)
    throw std::invalid_argument("profile_table: steps must be at least 1, got " +
                                std::to_string(steps));
  if (!(wall_ms_per_step > 0))
    throw std::invalid_argument("profile_table: the wall time per step must be positive, got " +
                                format("%g", wall_ms_per_step));
  std::map<std::string, std::pair<int64_t, double>> by_name;  // name -> (calls, total us)
  for (const auto& k : kernels) {
    auto& sum = by_name[k.name];
    ++sum.first;
    sum.second += k.duration_us;
  }
  ProfileTable table;
  table.steps = steps;
  table.wall_ms_per_step = wall_ms_per_step;
  table.kernel_names = static_cast<int64_t>(by_name.size());
  for (const auto& [name, sum] : by_name) {
    ProfileRow row;
    row.name = name;
    row.calls_per_step = static_cast<double>(sum.first) / steps;
    row.ms_per_step = sum.second / 1000.0 / steps;
    row.mean_us = sum.second / sum.first;
    row.percent = 100.0 * row.ms_per_step / wall_ms_per_step;
    table.device_ms_per_step += row.ms_per_step;
    table.rows.push_back(row);
  }
  std::sort(table.rows.begin(), table.rows.end(), [](const ProfileRow& a, const ProfileRow& b) {
    return a.ms_per_step != b.ms_per_step ? a.ms_per_step > b.ms_per_step : a.name < b.name;
  });
  if (table.rows.size() > top) {
    for (size_t i = top; i < table.rows.size(); ++i)
      table.rest_ms_per_step += table.rows[i].ms_per_step;
    table.rest_names = static_cast<int64_t>(table.rows.size() - top);
    table.rows.resize(top);
  }
  return table;
}

std::string format_profile_table(const ProfileTable& table) {
  std::string out;
  out += "# impl " + table.impl + "\n";
  out += "# label " + table.label + "\n";
  out += "# steps " + std::to_string(table.steps) + "\n";
  out += "# wall_ms_per_step " + format("%.3f", table.wall_ms_per_step) + "\n";
  out += "# device_ms_per_step " + format("%.3f", table.device_ms_per_step) + "\n";
  out += "# kernel_names " + std::to_string(table.kernel_names) + "\n";
  char line[256];
  std::snprintf(line, sizeof line, "# %8s %10s %10s %8s  %s\n", "total_ms", "calls", "mean_us",
                "percent", "name");
  out += line;
  for (const auto& row : table.rows) {
    std::snprintf(line, sizeof line, "%10.3f %10s %10.2f %7.2f%%  ", row.ms_per_step,
                  format_calls(row.calls_per_step).c_str(), row.mean_us, row.percent);
    out += line + row.name + "\n";
  }
  out += "# rest_names " + std::to_string(table.rest_names) + "\n";
  out += "# rest_ms_per_step " + format("%.3f", table.rest_ms_per_step) + "\n";
  return out;
}

bool kineto_profiler_compiled() {
  return DREAMER_KINETO_PROFILER;
}

ProfileTable profile_steps(const std::function<void()>& step, const ProfileRequest& request) {
  if (request.steps < 1)
    throw std::invalid_argument("profile_steps: steps must be at least 1, got " +
                                std::to_string(request.steps));
#if DREAMER_KINETO_PROFILER
  std::ofstream out(request.table_path);  // opened first: a bad path fails before the steps run
  if (!out) throw ProfileError("could not open " + request.table_path + " for writing");
  namespace autograd_profiler = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  using torch::profiler::impl::ProfilerConfig;
  using torch::profiler::impl::ProfilerState;
  const ProfilerConfig config(ProfilerState::KINETO);
  const std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  autograd_profiler::prepareProfiler(config, activities);
  autograd_profiler::enableProfiler(config, activities);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    for (int64_t i = 0; i < request.steps; ++i) step();
  } catch (...) {
    autograd_profiler::disableProfiler();
    throw;
  }
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto result = autograd_profiler::disableProfiler();
  if (!result) throw ProfileError("the Kineto profiler returned no result");

  std::vector<KernelTime> kernels;
  int64_t device_events = 0;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CUDA) continue;
    ++device_events;
    if (takes_device_time(e.activityType())) kernels.push_back({e.name(), duration_us(e, 0)});
  }
  if (kernels.empty())
    throw ProfileError(
        device_events == 0
            ? "the profiler recorded no CUDA kernels: this LibTorch lacks Kineto with CUPTI "
              "(profiling needs LibTorch 2.x with Kineto), or the steps ran no CUDA work"
            : "the profiler recorded " + std::to_string(device_events) +
                  " CUDA events but no kernel, memcpy or memset (Kineto activity types 3-5): "
                  "this LibTorch numbers its activities differently");
  const std::string trace_path = request.table_path + ".trace.json";
  result->save(trace_path);

  auto table = profile_table(kernels, request.steps, wall_ms / request.steps, request.top);
  table.impl = request.impl;
  table.label = request.label;
  out << format_profile_table(table);
  out.close();
  if (!out) throw ProfileError("could not write the profile table to " + request.table_path);
  return table;
#else
  (void)step;
  throw ProfileError("profiling needs LibTorch 2.x with Kineto; this build uses LibTorch " +
                     std::to_string(TORCH_VERSION_MAJOR) + "." +
                     std::to_string(TORCH_VERSION_MINOR));
#endif
}

}  // namespace dreamer
