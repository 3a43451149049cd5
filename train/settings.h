#pragma once
// Training settings: what an experiment file's "train" object holds (experiments/schema.json
// documents every field). Strict: unknown keys and out-of-range values are InputErrors naming
// their JSON path.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dreamer::train {

enum class ScheduleKind {
  kConstant,  // warmup, then the peak rate
  kCosine,    // warmup, then cosine decay to min_lr_ratio * lr at the last step
  kWsd,       // warmup-stable-decay: warmup, constant, then linear decay over the last `decay`
};

struct ScheduleSettings {
  ScheduleKind kind = ScheduleKind::kCosine;
  double warmup = 0.02;       // fraction of the optimizer steps (or steps, when >= 1)
  double decay = 0.2;         // WSD: fraction of the steps spent decaying
  double min_lr_ratio = 0.1;  // the rate at the end, relative to the peak
};

struct OptimizerSettings {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  // Parameters that get no weight decay: every tensor of fewer than 2 dimensions (norm gains,
  // biases, learned offsets) and every parameter whose name contains one of these strings.
  std::vector<std::string> no_decay = {};
};

enum class Precision { kAuto, kFloat32, kBfloat16 };  // auto: bf16 autocast on CUDA, fp32 on CPU

struct TrainSettings {
  int64_t tokens = 0;             // training budget; optimizer steps = tokens / tokens_per_step
  int64_t grad_accumulation = 1;  // micro-batches (of workload.batch sequences) per step
  OptimizerSettings optimizer;
  ScheduleSettings schedule;
  double grad_clip = 1.0;  // max global gradient norm; 0 = no clipping
  Precision precision = Precision::kAuto;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int64_t log_every = 10;       // optimizer steps between train_metrics rows
  double peak_flops = 0;        // for MFU; 0 = from the device (known GPUs) or not reported

  static TrainSettings from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
};

// Tokens one optimizer step trains on (micro-batches of `micro_batch` sequences of `seq_len`),
// and the steps the budget buys (at least one). The plan and the trainer both use these.
int64_t tokens_per_step(const TrainSettings& settings, int64_t micro_batch, int64_t seq_len);
int64_t total_steps(const TrainSettings& settings, int64_t tokens_per_step);

// Learning rate at optimizer step `step` (0-based) of `total_steps`.
double learning_rate(const OptimizerSettings& optimizer, const ScheduleSettings& schedule,
                     int64_t step, int64_t total_steps);
// Warmup length in steps (the fraction form rounded, at least 0, at most total_steps).
int64_t warmup_steps(const ScheduleSettings& schedule, int64_t total_steps);

}  // namespace dreamer::train
