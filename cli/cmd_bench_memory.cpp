// dreamer bench-memory: one training step's peak memory, measured (CUDA caching allocator on a
// GPU, the counting allocator on the CPU) by phase (weights, state after the warm-up step, saved
// for backward, backward and optimizer peaks, CUDA reserved bytes) against the memory model's
// prediction with its breakdown, as one JSON line (scripts/gpu-bench.sh --only memory tabulates
// them). --ops measures each op kind alone instead (train/memory_ops.h): one "MEMOP" line and
// one JSON line per op.
#include <fstream>
#include <iostream>

#include <torch/version.h>

#include "cli/bench_commands.h"
#include "cli/bench_common.h"
#include "train/memory_ops.h"
#include "train/memory_step.h"
#include "util/device.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::cli {

void add_bench_memory_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "bench-memory",
      "measure one training step's peak memory against the memory model (JSON line)");
  static std::string config_file, device_name = "auto", precision = "fp32", label, out;
  static train::MemoryStepOptions o;
  static train::OpProbeOptions ops;
  static bool ops_mode = false, predict_only = false;
  static std::string predict_for = "cuda", predict_torch = "2.11", sdpa;
  cmd->add_option("--config", config_file,
                  "model config JSON ({\"family\": ..., hyperparameters}); not with --ops");
  cmd->add_flag("--ops", ops_mode,
                "measure each op kind alone against the ledger's charge (MEMOP lines)");
  cmd->add_option("--ops-d", ops.d_model, "--ops: model width")->check(CLI::PositiveNumber);
  cmd->add_option("--ops-heads", ops.heads, "--ops: attention heads")->check(CLI::PositiveNumber);
  cmd->add_option("--ops-hidden", ops.ffn_hidden, "--ops: FFN hidden width")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ops-experts", ops.experts, "--ops: experts")->check(CLI::PositiveNumber);
  cmd->add_option("--ops-k", ops.k, "--ops: experts per token")->check(CLI::PositiveNumber);
  cmd->add_option("--ops-expert-dim", ops.expert_dim, "--ops: expert hidden width")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ops-vocab", ops.vocab, "--ops: vocabulary (the loss and embedding)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--predict-only", predict_only,
                "no measurement: the prediction for the workload of --for and --torch");
  cmd->add_option("--for", predict_for, "--predict-only: cuda or cpu (default cuda)");
  cmd->add_option("--torch", predict_torch, "--predict-only: LibTorch release, e.g. 2.11, 1.13");
  cmd->add_option("--sdpa", sdpa,
                  "--predict-only: flash, efficient, cudnn, math or cpu_flash (default: the "
                  "release's choice)");
  cmd->add_option("--batch", o.batch, "sequences per step")->check(CLI::PositiveNumber);
  cmd->add_option("--seq", o.seq, "tokens per sequence")->check(CLI::PositiveNumber);
  cmd->add_option("--precision", precision, "fp32 or bf16 (CUDA autocast)");
  cmd->add_option("--device", device_name, "auto, cpu, cuda or cuda:N");
  cmd->add_flag("--activation-checkpointing", o.activation_checkpointing,
                "recompute each block in backward (workload.activation_checkpointing)");
  cmd->add_option("--seed", o.seed, "random seed");
  cmd->add_option("--label", label, "name in the output (default: the config path)");
  cmd->add_option("--out", out, "also append the JSON line to this file");
  cmd->callback([] {
    require(precision == "fp32" || precision == "bf16", "--precision",
            "expected fp32 or bf16, got \"" + precision + "\"");
    if (predict_only) {
      require(predict_for == "cuda" || predict_for == "cpu", "--for",
              "expected cuda or cpu, got \"" + predict_for + "\"");
      const auto dot = predict_torch.find('.');
      require(dot != std::string::npos, "--torch", "expected MAJOR.MINOR, got " + predict_torch);
      const int64_t version = std::stoll(predict_torch.substr(0, dot)) * 100 +
                              std::stoll(predict_torch.substr(dot + 1));
      const auto kernel = train::sdpa_kernel_from_name(sdpa);
      require(sdpa.empty() || kernel.has_value(), "--sdpa", "unknown kernel \"" + sdpa + "\"");
      require(!config_file.empty(), "--config", "required");
      o.bf16 = precision == "bf16";
      const auto config = zoo::model_config_from_file(config_file);
      const auto w = train::workload_for(o, predict_for == "cuda", version, kernel);
      const auto cost = zoo::family(config.family).cost(config, w);
      emit({{"label", label.empty() ? config_file : label},
            {"family", config.family},
            {"params", cost.params.total},
            {"for", predict_for},
            {"torch", predict_torch},
            {"sdpa_kernel", train::sdpa_kernel_name(w.sdpa_kernel)},
            {"precision", precision},
            {"batch", o.batch},
            {"seq", o.seq},
            {"activation_checkpointing", o.activation_checkpointing},
            {"predicted_peak_bytes", cost.memory.train_peak},
            {"predicted", train::memory_breakdown_json(cost.memory)}},
           out);
      return;
    }
    const auto device = resolve_device(device_name, "--device");
    require(precision != "bf16" || device.is_cuda(), "--precision",
            "bf16 autocast needs a CUDA device");
    o.bf16 = precision == "bf16";
    if (ops_mode) {
      require(config_file.empty(), "--ops", "takes no --config (it probes single ops)");
      ops.batch = o.batch;
      ops.seq = o.seq;
      ops.bf16 = o.bf16;
      require(ops.d_model % ops.heads == 0, "--ops-heads", "must divide --ops-d");
      for (const auto& m : train::measure_op_memory(device, ops)) {
        std::cout << train::op_memory_line(m) << "\n";
        auto line = train::op_memory_json(m);
        line["device"] = device_description(device);
        line["precision"] = precision;
        line["batch"] = o.batch;
        line["seq"] = o.seq;
        line["d_model"] = ops.d_model;
        line["label"] = label.empty() ? "ops" : label;
        if (out.empty()) continue;
        std::ofstream file(out, std::ios::app);  // stdout has the compact line only
        file << line.dump() << "\n";
        require(static_cast<bool>(file), out, "cannot append the result");
      }
      return;
    }
    require(!config_file.empty(), "--config", "required (or --ops)");
    const auto config = zoo::model_config_from_file(config_file);
    const auto r = train::measure_step_memory(config, device, o);
    const double predicted = r.predicted.memory.train_peak;
    nlohmann::json line = {
        {"label", label.empty() ? config_file : label},
        {"family", config.family},
        {"params", r.predicted.params.total},
        {"device", device_description(device)},
        {"precision", precision},
        {"batch", o.batch},
        {"seq", o.seq},
        {"activation_checkpointing", o.activation_checkpointing},
        {"measured_peak_bytes", r.measured_peak},
        {"predicted_peak_bytes", predicted},
        {"measured_over_predicted", r.measured_peak / predicted},
        {"measured", train::measured_memory_json(r.measured)},
        {"predicted", train::memory_breakdown_json(r.predicted.memory)},
        {"sdpa_kernel", train::sdpa_kernel_name(r.workload.sdpa_kernel)},
        {"fused_swiglu", r.workload.fused_swiglu},
        {"torch", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR)}};
    emit(line, out);
  });
}

}  // namespace dreamer::cli
