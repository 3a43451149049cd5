#pragma once
// One training step's memory, measured and predicted (dreamer bench-memory, its test, and
// scripts/gpu-bench.sh --only memory): the trainer's step (train::training_loss, backward,
// clipping, FusedAdamW, the after-step hook) on random tokens, its peak from the CUDA caching
// allocator on a GPU or the counting CPU allocator (util/memory_probe.h) on the CPU, and the
// memory model's prediction (models/memory.h) for the workload as this build runs it.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

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

struct MemoryStepResult {
  double measured_peak = 0;   // bytes allocated at the peak of the measured step
  models::Cost predicted;     // cost.memory.train_peak is the prediction
  models::Workload workload;  // as predicted
};

// The workload this build runs on `device` (fused attention, grouped experts, the allocator's
// rounding, whether zero_grad frees gradients).
models::Workload workload_on(const c10::Device& device, const MemoryStepOptions& options);

// Runs one warm-up step (gradients and optimizer state exist afterwards, as in training),
// then measures the peak of the next.
MemoryStepResult measure_step_memory(const models::ModelConfig& config, const c10::Device& device,
                                     const MemoryStepOptions& options);

// The breakdown as JSON (bytes), and as one line for `dreamer match` and `dreamer plan`.
nlohmann::json memory_breakdown_json(const models::MemoryBreakdown& m);
std::string memory_breakdown_line(const models::MemoryBreakdown& m);

}  // namespace dreamer::train
