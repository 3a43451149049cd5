#include "cli/bench_common.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <fstream>
#include <iostream>

#include "util/device.h"
#include "util/errors.h"
#include "util/profile.h"

namespace dreamer::cli {

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

bool use_bf16(const std::string& precision, const c10::Device& device) {
  require(precision == "auto" || precision == "fp32" || precision == "bf16", "--precision",
          "expected auto, fp32 or bf16, got \"" + precision + "\"");
  require(!(precision == "bf16" && !device.is_cuda()), "--precision",
          "bf16 autocast needs a CUDA device");
  return device.is_cuda() && precision != "fp32";
}

void check_profile_flags(const std::string& profile, const std::string& device_flag) {
  if (profile.empty()) return;
  require(kineto_profiler_compiled(), "--profile",
          "needs LibTorch 2.x with Kineto (the CUDA kernel profiler); this build uses LibTorch " +
              std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR));
  const c10::Device device = resolve_device(device_flag, "--device");
  require(device.is_cuda(), "--profile",
          "ranks CUDA kernels, so it needs a CUDA device; --device " + device_flag +
              " resolved to " + device.str());
}

void profile_into(nlohmann::json& result, const std::string& profile, const std::string& label,
                  int64_t steps, const std::function<void()>& step) {
  ProfileRequest request;
  request.table_path = profile;
  request.impl = "dreamer";
  request.label = label;
  request.steps = steps;
  try {
    const auto table = profile_steps(step, request);
    result["profile"] = profile;
    result["profile_steps"] = steps;
    result["profile_wall_ms_per_step"] = table.wall_ms_per_step;
    result["profile_device_ms_per_step"] = table.device_ms_per_step;
  } catch (const ProfileError& e) {
    throw InputError("--profile", e.what());
  }
}

void emit(const nlohmann::json& result, const std::string& out) {
  std::cout << result.dump() << std::endl;
  if (out.empty()) return;
  std::ofstream file(out, std::ios::app);
  file << result.dump() << "\n";
  require(static_cast<bool>(file), out, "cannot append the result");
}

}  // namespace dreamer::cli
