#pragma once
// The compute device a run uses, and what can be read about it: resolving "auto", peak memory
// so far, the device's name and its dense bf16 peak (for MFU). CUDA paths exist only in builds
// against a CUDA LibTorch (DREAMER_WITH_CUDA); CPU builds answer for the CPU.
#include <c10/core/Device.h>

#include <optional>
#include <string>

namespace dreamer {

// "auto" -> cuda when available, else cpu; "cuda" / "cuda:N" fail clearly without CUDA.
c10::Device resolve_device(const std::string& name, const std::string& where);
std::string device_description(const c10::Device& device);
// Peak bytes: the CUDA caching allocator's peak allocation, or the process's peak resident set
// size on the CPU.
double peak_memory_bytes(const c10::Device& device);
void reset_peak_memory(const c10::Device& device);
// Dense bf16 tensor-core peak of known GPUs (datasheet, without sparsity); none on the CPU or
// for unknown GPUs.
std::optional<double> peak_bf16_flops(const c10::Device& device);

// bf16 autocast for CUDA forward passes while alive (a no-op when `enabled` is false).
class CudaAutocast {
 public:
  explicit CudaAutocast(bool enabled);
  ~CudaAutocast();
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool enabled_;
};

}  // namespace dreamer
