#include "util/device.h"

#include <ATen/autocast_mode.h>
#include <sys/resource.h>
#include <torch/cuda.h>
#include <torch/version.h>

#ifdef DREAMER_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "util/errors.h"

namespace dreamer {

c10::Device resolve_device(const std::string& name, const std::string& where) {
  if (name == "auto")
    return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    require(torch::cuda::is_available(), where,
            "\"" + name + "\" asked for, but this build or machine has no CUDA device");
    c10::Device device(name);
    require(!device.has_index() || device.index() < static_cast<int>(torch::cuda::device_count()),
            where,
            "\"" + name + "\": this machine has " + std::to_string(torch::cuda::device_count()) +
                " CUDA devices");
    return device.has_index() ? device : c10::Device(c10::kCUDA, 0);
  }
  throw InputError(where, "expected auto, cpu, cuda or cuda:N, got \"" + name + "\"");
}

std::string device_description(const c10::Device& device) {
#ifdef DREAMER_WITH_CUDA
  if (device.is_cuda())
    return std::string("cuda:") + std::to_string(device.index()) + " " +
           at::cuda::getDeviceProperties(device.index())->name;
#endif
  return device.is_cuda() ? device.str() : "cpu";
}

double peak_memory_bytes(const c10::Device& device) {
#ifdef DREAMER_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return static_cast<double>(
        stats.allocated_bytes[0]
            .peak);  // index 0: StatType::AGGREGATE (its namespace moved in 2.x)
  }
#endif
  (void)device;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports kilobytes
}

void reset_peak_memory(const c10::Device& device) {
#ifdef DREAMER_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
  (void)device;
}

std::optional<double> peak_bf16_flops(const c10::Device& device) {
#ifdef DREAMER_WITH_CUDA
  if (device.is_cuda()) {
    const std::string name = at::cuda::getDeviceProperties(device.index())->name;
    if (name.find("H100") != std::string::npos || name.find("H200") != std::string::npos)
      return 989e12;
    if (name.find("A100") != std::string::npos) return 312e12;
  }
#endif
  (void)device;
  return std::nullopt;
}

// LibTorch 2.4 replaced the CUDA-only autocast switches with per-device-type ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DREAMER_AUTOCAST_PER_DEVICE 1
#endif

CudaAutocast::CudaAutocast(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
#ifdef DREAMER_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(true);
#endif
}

CudaAutocast::~CudaAutocast() {
  if (!enabled_) return;
#ifdef DREAMER_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
  at::autocast::set_enabled(false);
#endif
  at::autocast::clear_cache();
}

}  // namespace dreamer
