// dreamer demo: a short CPU training run of a tiny DR+DA+EA on synthetic multi-step modular
// arithmetic, printing the loss as it falls. (The experiment runner replaces this with the
// quickstart experiment.) It trains through train::Trainer::train_step; its settings and data
// are in train/demo.h.
#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "train/checkpoint.h"
#include "train/demo.h"
#include "train/trainer.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::cli {

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "train a tiny DR+DA+EA on a synthetic task (CPU, ~1 min)");
  static int64_t steps = 150, batch = 16, seq = 64, seed = 0;
  static int task_steps = 3;
  static std::string save;
  cmd->add_option("--steps", steps, "optimizer steps")->check(CLI::PositiveNumber);
  cmd->add_option("--batch", batch, "sequences per step")->check(CLI::PositiveNumber);
  cmd->add_option("--seq", seq, "tokens per sequence")->check(CLI::PositiveNumber);
  cmd->add_option("--task-steps", task_steps, "reasoning steps per example")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", seed, "random seed");
  cmd->add_option("--save", save,
                  "write the trained model as a checkpoint directory (for dreamer eval)");
  cmd->callback([] {
    torch::manual_seed(seed);
    std::mt19937_64 rng(seed);
    auto config = zoo::model_config_from_json({
        {"family", "dreamer"},
        {"preset", "DR+DA+EA"},
        {"vocab_size", 257},  // the byte tokenizer's ids, end-of-text included
        {"d_model", 64},
        {"n_heads", 4},
        {"depth_attention", {{"n_heads", 2}}},
        {"ffn_experts", {{"n_experts", 16}, {"k", 2}, {"expert_dim", 32}}},
        {"recurrence", {{"mean", 3}}},
    });
    auto model = zoo::build_model(config);
    auto counts = models::count_parameters(*model);
    std::cout << "demo: DR+DA+EA, " << counts.total << " parameters, "
              << config.params["recurrence"]["mean"] << " recurrences, modular arithmetic with "
              << task_steps << " steps, " << torch::get_num_threads() << " threads\n";
    train::TrainerOptions options;
    options.micro_batch = batch;
    options.progress = false;
    train::Trainer trainer(model, seq, train::demo_settings(steps, batch, seq), options);
    double first = 0, last = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t step = 1; step <= steps; ++step) {
      const auto result = trainer.train_step({train::demo_batch(rng, batch, seq, task_steps)});
      if (!result.applied) throw InputError("demo", "training diverged: " + trainer.stop_detail());
      // What the step minimised: the cross-entropy plus the model's auxiliary loss.
      const double value = result.loss + result.aux.item<double>();
      if (step == 1) first = value;
      last = value;
      if (step == 1 || step % 10 == 0 || step == steps)
        std::cout << "step " << std::setw(4) << step << "  loss " << std::fixed
                  << std::setprecision(4) << value << "\n";
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "loss " << std::setprecision(3) << first << " -> " << last << " (x"
              << std::setprecision(2) << first / last << " lower) in " << std::setprecision(1)
              << secs << " s, " << std::setprecision(0) << steps * batch * seq / secs
              << " tokens/s\n";
    if (!save.empty()) {
      train::save_checkpoint(save, *model, data::ByteTokenizer());
      std::cout << "checkpoint saved to " << save << "\n";
    }
  });
}

}  // namespace dreamer::cli
