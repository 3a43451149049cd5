#include "train/memory_step.h"

#include <torch/version.h>

#include <algorithm>
#include <sstream>

#include "models/blocks/attention_core.h"
#include "models/blocks/checkpoint.h"
#include "models/blocks/experts.h"
#include "results/units.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "util/device.h"
#include "util/memory_probe.h"
#include "zoo/registry.h"

#ifdef DREAMER_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif
// The SDPA kernel choice (at::_fused_sdp_choice) from LibTorch 2.0; enable_gqa from 2.5.
#define DREAMER_SDP_CHOICE (TORCH_VERSION_MAJOR >= 2)
#define DREAMER_SDP_CHOICE_GQA \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5))
#if DREAMER_SDP_CHOICE
#include <ATen/ops/_fused_sdp_choice.h>
#endif

namespace dreamer::train {

namespace {

// What the CUDA runtime allocates through the caching allocator besides the step's tensors:
// cuBLAS's and cuBLASLt's workspaces of the forward and the autograd threads (LibTorch 2.11 on
// Hopper): fitted to the H200 peaks of docs/PERF.md, which the ledger misses by 66-97 MiB in
// 48 of 72 runs once every per-sequence slope matches (the others by 33-266 MiB).
constexpr int64_t kCudaRuntimeWorkspaceBytes = int64_t{80} << 20;

// The SDPA kernel LibTorch picks for causal attention of `dtype` on `device` (head dim 64, as
// the families' heads mostly are), from its own dispatcher's choice.
models::SdpaKernel sdpa_kernel_on(const c10::Device& device, bool bf16) {
#if DREAMER_SDP_CHOICE
  const auto options =
      torch::TensorOptions().device(device).dtype(bf16 ? torch::kBFloat16 : torch::kFloat32);
  const auto q = torch::zeros({1, 2, 128, 64}, options);
#if DREAMER_SDP_CHOICE_GQA
  const int64_t choice = at::_fused_sdp_choice(q, q, q, {}, 0.0, /*is_causal=*/true, c10::nullopt,
                                               /*enable_gqa=*/false);
#else
  const int64_t choice = at::_fused_sdp_choice(q, q, q, {}, 0.0, /*is_causal=*/true);
#endif
  // sdp::SDPBackend: math 0, flash_attention 1, efficient_attention 2, cudnn_attention 3.
  if (!device.is_cuda())
    return choice == 1 ? models::SdpaKernel::kCpuFlash : models::SdpaKernel::kMath;
  switch (choice) {
    case 1:
      return models::SdpaKernel::kFlash;
    case 2:
      return models::SdpaKernel::kEfficient;
    case 3:
      return models::SdpaKernel::kCudnn;
    default:
      return models::SdpaKernel::kMath;
  }
#else
  (void)device, (void)bf16;
  return models::SdpaKernel::kMath;  // unused: 1.x runs the reference attention
#endif
}

}  // namespace

std::string sdpa_kernel_name(models::SdpaKernel k) {
  switch (k) {
    case models::SdpaKernel::kFlash:
      return "flash";
    case models::SdpaKernel::kEfficient:
      return "efficient";
    case models::SdpaKernel::kCudnn:
      return "cudnn";
    case models::SdpaKernel::kMath:
      return "math";
    case models::SdpaKernel::kCpuFlash:
      return "cpu_flash";
  }
  return "?";
}

std::optional<models::SdpaKernel> sdpa_kernel_from_name(const std::string& name) {
  for (auto k :
       {models::SdpaKernel::kFlash, models::SdpaKernel::kEfficient, models::SdpaKernel::kCudnn,
        models::SdpaKernel::kMath, models::SdpaKernel::kCpuFlash})
    if (sdpa_kernel_name(k) == name) return k;
  return std::nullopt;
}

models::Workload workload_for(const MemoryStepOptions& o, bool cuda, int64_t torch_version,
                              std::optional<models::SdpaKernel> sdpa) {
  models::Workload w;
  w.batch = o.batch;
  w.seq_len = o.seq;
  w.param_bytes = 4;
  w.activation_bytes = o.bf16 ? 2 : 4;
  w.activation_checkpointing = o.activation_checkpointing;
  w.fused_attention = torch_version >= 200;  // models::fused_attention_available()
  // models::grouped_experts_compiled(): at::_grouped_mm from 2.9, in CUDA builds.
  w.grouped_experts = o.bf16 && cuda && torch_version >= 209;
  w.loss_chunk_rows = -1;  // train::training_loss: the chunked head + cross-entropy
  w.allocation_granularity = cuda ? 512 : 1;
  // LibTorch 2.x's Optimizer::zero_grad sets gradients to none; 1.13's zeroes them in place.
  w.grads_freed_between_steps = torch_version >= 200;
  w.torch_version = torch_version;
  w.cuda = cuda;
  w.sdpa_kernel = sdpa   ? *sdpa
                  : cuda ? (o.bf16 ? models::SdpaKernel::kFlash : models::SdpaKernel::kEfficient)
                  : torch_version >= 202 ? models::SdpaKernel::kCpuFlash
                                         : models::SdpaKernel::kMath;
  w.fused_optimizer = cuda && torch_version >= 202;  // train/optim.cpp: at::_fused_adamw_
  w.runtime_workspace_bytes = cuda ? kCudaRuntimeWorkspaceBytes : 0;
  return w;
}

models::Workload workload_on(const c10::Device& device, const MemoryStepOptions& o) {
  auto w = workload_for(o, device.is_cuda(), TORCH_VERSION_MAJOR * 100 + TORCH_VERSION_MINOR,
                        models::fused_attention_available()
                            ? std::optional<models::SdpaKernel>(sdpa_kernel_on(device, o.bf16))
                            : std::nullopt);
  w.fused_attention = models::fused_attention_available();
  w.grouped_experts = o.bf16 && models::grouped_experts_compiled() && device.is_cuda();
  w.fused_optimizer = device.is_cuda() && fused_adamw_compiled();
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
  const auto& info = zoo::family(config.family);
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
  auto model = zoo::build_model(config);
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
