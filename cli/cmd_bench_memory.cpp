// dreamer bench-memory: one training step's peak memory, measured (CUDA caching allocator on a
// GPU, the counting allocator on the CPU) against the memory model's prediction with its
// breakdown, as one JSON line (scripts/gpu-bench.sh --only memory tabulates them).
#include <fstream>
#include <iostream>

#include "cli/bench_commands.h"
#include "cli/bench_common.h"
#include "models/registry.h"
#include "train/memory_step.h"
#include "util/device.h"
#include "util/errors.h"

namespace dreamer::cli {

void add_bench_memory_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "bench-memory",
      "measure one training step's peak memory against the memory model (JSON line)");
  static std::string config_file, device_name = "auto", precision = "fp32", label, out;
  static train::MemoryStepOptions o;
  cmd->add_option("--config", config_file, "model config JSON ({\"family\": ..., hyperparameters})")
      ->required();
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
    const auto config = models::ModelConfig::from_file(config_file);
    const auto device = resolve_device(device_name, "--device");
    require(precision == "fp32" || precision == "bf16", "--precision",
            "expected fp32 or bf16, got \"" + precision + "\"");
    require(precision != "bf16" || device.is_cuda(), "--precision",
            "bf16 autocast needs a CUDA device");
    o.bf16 = precision == "bf16";
    const auto r = train::measure_step_memory(config, device, o);
    const double predicted = r.predicted.memory.train_peak;
    nlohmann::json line = {{"label", label.empty() ? config_file : label},
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
                           {"predicted", train::memory_breakdown_json(r.predicted.memory)}};
    emit(line, out);
  });
}

}  // namespace dreamer::cli
