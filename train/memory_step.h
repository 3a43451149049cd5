#pragma once
// One training step's memory, measured and predicted (dreamer bench-memory, its test, and
// scripts/gpu-bench.sh --only memory): the trainer's step (train::training_loss, backward,
// clipping, FusedAdamW, the after-step hook) on random tokens, its peak from the CUDA caching
// allocator on a GPU or the counting CPU allocator (util/memory_probe.h) on the CPU, and the
// memory model's prediction (models/memory.h) for the workload as this build runs it.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "models/config.h"
#include "models/cost.h"

namespace dreamer::train {

struct MemoryStepOptions {
  int64_t batch = 8, seq = 2048;
  bool bf16 = false;  // CUDA autocast (CUDA only)
  bool activation_checkpointing = false;
  int64_t seed = 0;
};

// What the allocator saw at each phase of the measured step (bytes; on the CPU relative to
// before the model was built, on CUDA the caching allocator's allocated bytes). The phases
// separate the predicted terms: weights, then optimizer state and kept gradients, then the
// tensors forward + loss keep for backward, then the backward and optimizer peaks.
struct MeasuredMemory {
  double weights = 0;         // live after the model and the optimizer are built
  double after_warmup = 0;    // live after the warm-up step (weights, moments, kept grads)
  double before_forward = 0;  // live at the start of the measured forward (after zero_grad)
  double saved = 0;           // live after forward + loss, minus before_forward
  double forward_peak = 0;    // peak during forward + loss, minus before_forward (transients)
  double backward_peak = 0;   // peak during backward (absolute)
  double after_backward = 0;  // live after backward (weights, moments, every gradient)
  double optimizer_peak = 0;  // peak during clipping and the optimizer step (absolute)
  double peak = 0;            // the step's peak (absolute): measured_peak
  double reserved = 0;        // CUDA: bytes the caching allocator holds from the driver now
  double reserved_peak = 0;   // CUDA: its peak (segments; 0 on the CPU)
};

struct MemoryStepResult {
  double measured_peak = 0;   // bytes allocated at the peak of the measured step
  MeasuredMemory measured;    // the same step by phase
  models::Cost predicted;     // cost.memory.train_peak is the prediction
  models::Workload workload;  // as predicted
};

// The workload this build runs on `device` (fused attention, grouped experts, the allocator's
// rounding, whether zero_grad frees gradients).
models::Workload workload_on(const c10::Device& device, const MemoryStepOptions& options);
// The same workload for another build: a CUDA or CPU device under LibTorch `torch_version`
// (major * 100 + minor) whose SDPA picks `sdpa` (none: the kernel that release picks by
// default: CUDA flash in bf16 and mem-efficient in fp32, the CPU flash kernel from 2.2), so
// predictions for the GPU build can be computed on any machine (bench-memory --predict-only).
models::Workload workload_for(const MemoryStepOptions& options, bool cuda, int64_t torch_version,
                              std::optional<models::SdpaKernel> sdpa = std::nullopt);
std::string sdpa_kernel_name(models::SdpaKernel kernel);
std::optional<models::SdpaKernel> sdpa_kernel_from_name(const std::string& name);

// Runs one warm-up step (gradients and optimizer state exist afterwards, as in training),
// then measures the peak of the next.
MemoryStepResult measure_step_memory(const models::ModelConfig& config, const c10::Device& device,
                                     const MemoryStepOptions& options);

nlohmann::json measured_memory_json(const MeasuredMemory& m);

// Allocated bytes on `device` now and their peak since the last reset (CUDA caching
// allocator; the counting CPU allocator of util/memory_probe.h, which must be installed), and
// CUDA's reserved bytes (0 on the CPU).
struct DeviceMemory {
  double allocated = 0, peak = 0, reserved = 0, reserved_peak = 0;
};
DeviceMemory device_memory(const c10::Device& device);
void reset_device_peak(const c10::Device& device);  // peak := allocated (CUDA: reserved too)
void synchronize_device(const c10::Device& device);

// The breakdown as JSON (bytes), and as one line for `dreamer match` and `dreamer plan`.
nlohmann::json memory_breakdown_json(const models::MemoryBreakdown& m);
std::string memory_breakdown_line(const models::MemoryBreakdown& m);

}  // namespace dreamer::train
