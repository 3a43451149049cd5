#include "train/memory_step.h"

#include <torch/version.h>

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
  const int64_t base = device.is_cuda() ? 0 : cpu_memory_stats().live_bytes;
  auto model = models::build_model(config);
  model->to(device);
  model->train();
  FusedAdamW optimizer(model->parameters(),
                       torch::optim::AdamWOptions(3e-4).betas({0.9, 0.95}).weight_decay(0.1));
  const int64_t vocab = config.params.value("vocab_size", int64_t{256});
  auto tokens = torch::randint(0, vocab, {o.batch, o.seq + 1},
                               torch::TensorOptions().dtype(torch::kLong).device(device));
  auto params = model->parameters();
  models::ActivationCheckpointing checkpointing(o.activation_checkpointing);
  auto step = [&] {
    optimizer.zero_grad();
    const auto loss = training_loss(*model, tokens, o.bf16);
    (loss.cross_entropy + loss.aux).backward();
    clip_grad_norm(params, 1.0);
    optimizer.step();
    model->after_optimizer_step();
  };
  step();
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
  reset_peak_memory(device);
  if (!device.is_cuda()) reset_cpu_peak();
  step();
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
  r.measured_peak = device.is_cuda() ? peak_memory_bytes(device)
                                     : static_cast<double>(cpu_memory_stats().peak_bytes - base);
  r.predicted = info.cost(config, r.workload);
  return r;
}

nlohmann::json memory_breakdown_json(const models::MemoryBreakdown& m) {
  return {{"weights", m.weights},
          {"gradients", m.gradients},
          {"optimizer", m.optimizer},
          {"autocast_copies", m.autocast_copies},
          {"activations", m.activations},
          {"logits_loss", m.logits_loss},
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
