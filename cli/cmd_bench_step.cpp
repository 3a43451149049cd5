// dreamer bench-step: times the trainer's training step (train::Trainer::train_step: the chunked
// loss, backward, device-side clipping, the divergence check, FusedAdamW, the model's after-step
// hook) on random tokens of one shape, and prints one JSON line: median and mean step time,
// tokens/s, peak memory, MFU where the cost model and the device's peak are known. bench/gpu/
// compares it with PyTorch's Python API on the same shapes. With --profile FILE it then runs a
// few more steps under LibTorch's Kineto profiler and writes the per-kernel table
// (util/profile.h) to FILE and the Chrome trace to FILE.trace.json.
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <numeric>

#include "cli/bench_commands.h"
#include "cli/bench_common.h"
#include "models/blocks/experts.h"
#include "train/trainer.h"
#include "util/device.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::cli {

namespace {

struct BenchStepArgs {
  std::string config;
  std::string device = "auto";
  std::string precision = "auto";  // auto: bf16 autocast on CUDA, fp32 on the CPU
  int64_t batch = 8, seq = 2048, steps = 20, warmup = 3, seed = 0;
  double lr = 3e-4, grad_clip = 1.0;
  std::string label, out;
  std::string profile;        // the kernel table's path; empty: no profile
  int64_t profile_steps = 3;  // profiled after the timed steps, which stay unprofiled
};

nlohmann::json bench_step(const BenchStepArgs& a) {
  check_profile_flags(a.profile, a.device);
  const auto config = zoo::model_config_from_file(a.config);
  const c10::Device device = resolve_device(a.device, "--device");
  const bool bf16 = use_bf16(a.precision, device);
  torch::manual_seed(a.seed);
  auto model = zoo::build_model(config);
  const auto counts = models::count_parameters(*model);
  // The trainer's step (train::Trainer::train_step): AdamW at a.lr (betas 0.9 and 0.95, weight
  // decay 0.1 on matrices), a constant rate, clipping at a.grad_clip, one micro-batch a step.
  train::TrainSettings settings;
  settings.tokens = (a.warmup + a.steps) * a.batch * a.seq;
  settings.optimizer.lr = a.lr;
  settings.optimizer.beta1 = 0.9;
  settings.optimizer.beta2 = 0.95;
  settings.optimizer.weight_decay = 0.1;
  settings.schedule.kind = train::ScheduleKind::kConstant;
  settings.schedule.warmup = 0;
  settings.grad_clip = a.grad_clip;
  settings.precision = bf16 ? train::Precision::kBfloat16 : train::Precision::kFloat32;
  settings.device = a.device;
  train::TrainerOptions options;
  options.micro_batch = a.batch;
  options.progress = false;
  train::Trainer trainer(model, a.seq, settings, options);
  const int64_t vocab = config.params.value("vocab_size", int64_t{256});
  auto tokens = torch::randint(0, vocab, {a.batch, a.seq + 1},
                               torch::TensorOptions().dtype(torch::kLong).device(device));
  double last_loss = 0;
  auto step = [&] { last_loss = trainer.train_step({tokens}).loss; };
  for (int64_t i = 0; i < a.warmup; ++i) step();
  synchronize(device);
  reset_peak_memory(device);
  std::vector<double> seconds;
  for (int64_t i = 0; i < a.steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    synchronize(device);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  auto sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / seconds.size();
  const double tokens_per_step = static_cast<double>(a.batch * a.seq);
  nlohmann::json result = {{"label", a.label.empty() ? a.config : a.label},
                           {"impl", "dreamer"},
                           {"family", config.family},
                           {"params", counts.total},
                           {"device", device_description(device)},
                           {"precision", bf16 ? "bf16-autocast" : "fp32"},
                           {"batch", a.batch},
                           {"seq", a.seq},
                           {"steps", a.steps},
                           {"median_step_s", median},
                           {"mean_step_s", mean},
                           {"tokens_per_s", tokens_per_step / median},
                           {"peak_memory_bytes", peak_memory_bytes(device)},
                           {"final_loss", last_loss}};
  const auto& info = zoo::family(config.family);
  const auto peak = peak_bf16_flops(device);
  if (info.cost && peak) {
    models::Workload workload;
    workload.seq_len = a.seq;
    workload.batch = a.batch;
    const double flops = info.cost(config, workload).flops_train_per_token;
    result["train_flops_per_token"] = flops;
    result["mfu"] = tokens_per_step / median * flops / *peak;
  }
  if (!a.profile.empty())
    profile_into(result, a.profile, result["label"].get<std::string>(), a.profile_steps, [&] {
      step();
      synchronize(device);
    });
  return result;
}

// One expert layer (router output given) forward + backward, grouped against the loop.
struct BenchExpertsArgs {
  int64_t experts = 64, k = 8, d_model = 1024, expert_dim = 512, tokens = 16384, steps = 20;
  std::string activation = "relu", device = "auto";
};

nlohmann::json bench_experts(const BenchExpertsArgs& a) {
  const c10::Device device = resolve_device(a.device, "--device");
  const auto act =
      a.activation == "swiglu" ? models::Activation::kSwiGLU : models::Activation::kReLU;
  torch::manual_seed(0);
  models::ExpertFFN layer(a.experts, a.d_model, a.expert_dim, act);
  layer->to(device);
  const auto options = torch::TensorOptions().device(device);
  auto x = torch::randn({a.tokens, a.d_model}, options).requires_grad_();
  auto ids = std::get<1>(torch::rand({a.tokens, a.experts}, options).topk(a.k, 1));
  auto gates = torch::rand({a.tokens, a.k}, options).requires_grad_();
  const bool bf16 = device.is_cuda();
  auto time = [&](bool grouped) {
    auto once = [&] {
      CudaAutocast autocast(bf16);
      auto y = grouped ? layer->forward_grouped(x, ids, gates) : layer->forward_loop(x, ids, gates);
      y.to(torch::kFloat32).sum().backward();
    };
    for (int i = 0; i < 3; ++i) once();
    std::vector<double> seconds;
    for (int64_t i = 0; i < a.steps; ++i) {
      synchronize(device);
      const auto t0 = std::chrono::steady_clock::now();
      once();
      synchronize(device);
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(seconds.begin(), seconds.end());
    return seconds[seconds.size() / 2];
  };
  nlohmann::json result = {{"impl", "dreamer"},
                           {"experts", a.experts},
                           {"k", a.k},
                           {"d_model", a.d_model},
                           {"expert_dim", a.expert_dim},
                           {"tokens", a.tokens},
                           {"activation", a.activation},
                           {"device", device_description(device)}};
  result["loop_ms"] = 1e3 * time(false);
  {
    CudaAutocast autocast(bf16);
    if (layer->grouped_available(x)) {
      result["grouped_ms"] = 1e3 * time(true);  // gates folded before the down projection
      layer->fold_gates = false;
      result["grouped_weighted_sum_ms"] = 1e3 * time(true);
      layer->fold_gates = true;
    }
  }
  return result;
}

}  // namespace

void add_bench_step_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench-step",
                                 "time the training step of one model config (JSON line out)");
  static BenchStepArgs a;
  cmd->add_option("--config", a.config, "model config JSON ({\"family\": ..., hyperparameters})")
      ->required();
  cmd->add_option("--batch", a.batch, "sequences per step")->check(CLI::PositiveNumber);
  cmd->add_option("--seq", a.seq, "tokens per sequence")->check(CLI::PositiveNumber);
  cmd->add_option("--steps", a.steps, "timed steps (median reported)")->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", a.warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", a.device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--precision", a.precision, "auto, fp32 or bf16");
  cmd->add_option("--seed", a.seed, "random seed");
  cmd->add_option("--label", a.label, "name in the output (default: the config path)");
  cmd->add_option("--out", a.out, "also append the JSON line to this file");
  cmd->add_option("--profile", a.profile,
                  "after the timed steps, profile --profile-steps more (Kineto, CPU + CUDA) and "
                  "write the per-kernel table here, the Chrome trace to FILE.trace.json "
                  "(LibTorch 2.x, CUDA)");
  cmd->add_option("--profile-steps", a.profile_steps, "steps profiled for --profile")
      ->check(CLI::PositiveNumber);
  cmd->callback([] { emit(bench_step(a), a.out); });

  auto* experts = app.add_subcommand(
      "bench-experts",
      "time one expert layer's forward + backward, grouped against the loop (JSON)");
  static BenchExpertsArgs e;
  experts->add_option("--experts", e.experts, "number of experts")->check(CLI::PositiveNumber);
  experts->add_option("--k", e.k, "experts per token")->check(CLI::PositiveNumber);
  experts->add_option("--d-model", e.d_model, "model width")->check(CLI::PositiveNumber);
  experts->add_option("--expert-dim", e.expert_dim, "expert hidden width")
      ->check(CLI::PositiveNumber);
  experts->add_option("--tokens", e.tokens, "tokens per call")->check(CLI::PositiveNumber);
  experts->add_option("--steps", e.steps, "timed calls (median reported)")
      ->check(CLI::PositiveNumber);
  experts->add_option("--activation", e.activation, "relu or swiglu")
      ->check(CLI::IsMember({"relu", "swiglu"}));
  experts->add_option("--device", e.device, "auto, cpu, cuda or cuda:N");
  experts->callback([] { emit(bench_experts(e), ""); });
}

}  // namespace dreamer::cli
