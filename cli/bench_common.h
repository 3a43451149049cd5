#pragma once
// What the bench-* commands share: waiting for the device before reading a clock, the
// --precision flag, and printing (and with --out appending) their one JSON line.
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace dreamer::cli {

// Waits for the device's queued work (CUDA); a no-op on the CPU.
void synchronize(const c10::Device& device);

// --precision auto|fp32|bf16: whether the step runs under bf16 autocast (auto: on CUDA only).
// bf16 off CUDA, or another value, is an error naming the flag.
bool use_bf16(const std::string& precision, const c10::Device& device);

// --profile's preconditions, checked before anything is built: a LibTorch with Kineto's C++ API
// (2.x) and a CUDA device (the table ranks CUDA kernels). Nothing to check when `profile` is
// empty.
void check_profile_flags(const std::string& profile, const std::string& device_flag);

// Profiles `steps` calls of `step` (which waits for the device) into the kernel table
// `profile` (util/profile.h) and adds profile, profile_steps, profile_wall_ms_per_step and
// profile_device_ms_per_step to `result`; profiler failures are errors naming --profile.
void profile_into(nlohmann::json& result, const std::string& profile, const std::string& label,
                  int64_t steps, const std::function<void()>& step);

// Prints `result` as one line; with a non-empty `out`, also appends it there (an error naming
// the file when that fails).
void emit(const nlohmann::json& result, const std::string& out);

}  // namespace dreamer::cli
