#include "train/memory_step.h"

#include <torch/version.h>

#include <algorithm>
#include <sstream>

#include "models/blocks/attention_core.h"
#include "models/blocks/checkpoint.h"
#include "models/blocks/experts.h"
#include "models/registry.h"
#include "results/units.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "util/device.h"
#include "util/memory_probe.h"

#ifdef DREAMER_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace dreamer::train {

models::Workload workload_on(const c10::Device& device, const MemoryStepOptions& o) {
  models::Workload w;
  w.batch = o.batch;
  w.seq_len = o.seq;
  w.param_bytes = 4;
  w.activation_bytes = o.bf16 ? 2 : 4;
  w.activation_checkpointing = o.activation_checkpointing;
  w.fused_attention = models::fused_attention_available();
  w.grouped_experts = o.bf16 && models::grouped_experts_compiled() && device.is_cuda();
  w.loss_chunk_rows = -1;  // train::training_loss: the chunked head + cross-entropy
  w.allocation_granularity = device.is_cuda() ? 512 : 1;
  // LibTorch 2.x's Optimizer::zero_grad sets gradients to none; 1.13's zeroes them in place.
  w.grads_freed_between_steps = TORCH_VERSION_MAJOR >= 2;
  return w;
}

DeviceMemory device_memory(const c10::Device& device) {
  DeviceMemory m;
#ifdef DREAMER_WITH_CUDA
  if (device.is_cuda()) {
    // index 0: StatType::AGGREGATE (its namespace moved in 2.x)
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    m.allocated = static_cast<double>(stats.allocated_bytes[0].current);
    m.peak = static_cast<double>(stats.allocated_bytes[0].peak);
    m.reserved = static_cast<double>(stats.reserved_bytes[0].current);
    m.reserved_peak = static_cast<double>(stats.reserved_bytes[0].peak);
    return m;
  }
#endif
  (void)device;
  const auto stats = cpu_memory_stats();
  m.allocated = static_cast<double>(stats.live_bytes);
  m.peak = static_cast<double>(stats.peak_bytes);
  return m;
}

void reset_device_peak(const c10::Device& device) {
  if (device.is_cuda())
    reset_peak_memory(device);
  else
    reset_cpu_peak();
}

void synchronize_device(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

MemoryStepResult measure_step_memory(const models::ModelConfig& config, const c10::Device& device,
                                     const MemoryStepOptions& o) {
  if (!device.is_cuda()) install_cpu_memory_probe();
  MemoryStepResult r;
  r.workload = workload_on(device, o);
  const auto& info = models::family(config.family);
  // Recurrent families run their configured count (the trainer samples Huginn's; the cost
  // model takes the same count here, so prediction and measurement see one shape).
  r.workload.recurrences = 0;
  torch::manual_seed(o.seed);
  synchronize_device(device);
  const double base = device.is_cuda() ? 0 : device_memory(device).allocated;
  auto live = [&] {
    synchronize_device(device);
    return device_memory(device).allocated - base;
  };
  double reserved_peak = 0;  // over the phases (resetting the peaks resets this one too)
  auto peak = [&] {
    synchronize_device(device);
    const auto d = device_memory(device);
    reserved_peak = std::max(reserved_peak, d.reserved_peak);
    return d.peak - base;
  };
  auto model = models::build_model(config);
  model->to(device);
  model->train();
  FusedAdamW optimizer(model->parameters(),
                       torch::optim::AdamWOptions(3e-4).betas({0.9, 0.95}).weight_decay(0.1));
  MeasuredMemory& m = r.measured;
  const int64_t vocab = config.params.value("vocab_size", int64_t{256});
  auto tokens = torch::randint(0, vocab, {o.batch, o.seq + 1},
                               torch::TensorOptions().dtype(torch::kLong).device(device));
  m.weights = live();
  auto params = model->parameters();
  models::ActivationCheckpointing checkpointing(o.activation_checkpointing);
  // One step, in phases: each phase's peak is read and reset before the next.
  auto step = [&](bool measure) {
    optimizer.zero_grad();
    if (measure) {
      m.before_forward = live();
      reset_device_peak(device);
    }
    auto loss = training_loss(*model, tokens, o.bf16);
    if (measure) {
      m.saved = live() - m.before_forward;
      m.forward_peak = peak() - m.before_forward;
      reset_device_peak(device);
    }
    (loss.cross_entropy + loss.aux).backward();
    loss = {};
    if (measure) {
      m.backward_peak = peak();
      m.after_backward = live();
      reset_device_peak(device);
    }
    clip_grad_norm(params, 1.0);
    optimizer.step();
    model->after_optimizer_step();
    if (measure) m.optimizer_peak = peak();
  };
  step(false);
  m.after_warmup = live();
  reset_device_peak(device);
  reserved_peak = 0;
  step(true);
  m.peak = std::max({m.before_forward + m.forward_peak, m.backward_peak, m.optimizer_peak});
  if (device.is_cuda()) {
    const auto d = device_memory(device);
    m.reserved = d.reserved;
    m.reserved_peak = std::max(reserved_peak, d.reserved_peak);
  }
  r.measured_peak = m.peak;
  r.predicted = info.cost(config, r.workload);
  return r;
}

nlohmann::json measured_memory_json(const MeasuredMemory& m) {
  return {{"weights", m.weights},
          {"after_warmup", m.after_warmup},
          {"before_forward", m.before_forward},
          {"saved", m.saved},
          {"forward_peak", m.forward_peak},
          {"backward_peak", m.backward_peak},
          {"after_backward", m.after_backward},
          {"optimizer_peak", m.optimizer_peak},
          {"peak", m.peak},
          {"reserved", m.reserved},
          {"reserved_peak", m.reserved_peak}};
}

nlohmann::json memory_breakdown_json(const models::MemoryBreakdown& m) {
  return {{"weights", m.weights},
          {"gradients", m.gradients},
          {"optimizer", m.optimizer},
          {"autocast_copies", m.autocast_copies},
          {"activations", m.activations},
          {"logits_loss", m.logits_loss},
          {"logits_loss_saved", m.logits_loss_saved},
          {"checkpoint_recompute", m.checkpoint_recompute},
          {"train_peak", m.train_peak},
          {"inference_weights", m.inference_weights},
          {"inference_caches", m.inference_caches}};
}

std::string memory_breakdown_line(const models::MemoryBreakdown& m) {
  std::ostringstream s;
  s << "memory: weights " << results::human_bytes(m.weights) << ", grads "
    << results::human_bytes(m.gradients) << ", optimizer " << results::human_bytes(m.optimizer)
    << ", autocast copies " << results::human_bytes(m.autocast_copies) << ", activations "
    << results::human_bytes(m.activations) << ", logits/loss "
    << results::human_bytes(m.logits_loss);
  if (m.checkpoint_recompute > 0)
    s << ", recompute " << results::human_bytes(m.checkpoint_recompute);
  s << " -> peak " << results::human_bytes(m.train_peak) << "; inference caches "
    << results::human_bytes(m.inference_caches);
  return s.str();
}

}  // namespace dreamer::train
