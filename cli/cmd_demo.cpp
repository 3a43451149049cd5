// dreamer demo: a short CPU training run of a tiny DR+DA+EA on synthetic multi-step modular
// arithmetic, printing the loss as it falls. (The experiment runner replaces this with the
// quickstart experiment.)
#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "data/synthetic.h"
#include "models/registry.h"
#include "train/checkpoint.h"

namespace dreamer::cli {

namespace {

// Byte tokens of consecutive "prompt answer\n" examples, cut into [batch, seq+1] windows.
torch::Tensor synthetic_batch(std::mt19937_64& rng, int64_t batch, int64_t seq, int steps) {
  auto tokens = torch::empty({batch, seq + 1}, torch::kLong);
  auto acc = tokens.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    std::string text;
    while (static_cast<int64_t>(text.size()) < seq + 1) {
      auto ex = data::modular_arithmetic(rng, steps);
      text += ex.prompt + ex.answer + "\n";
    }
    for (int64_t t = 0; t <= seq; ++t) acc[b][t] = static_cast<unsigned char>(text[t]);
  }
  return tokens;
}

}  // namespace

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
    auto config = models::ModelConfig::from_json({
        {"family", "dreamer"},
        {"preset", "DR+DA+EA"},
        {"vocab_size", 257},  // the byte tokenizer's ids, end-of-text included
        {"d_model", 64},
        {"n_heads", 4},
        {"depth_attention", {{"n_heads", 2}}},
        {"ffn_experts", {{"n_experts", 16}, {"k", 2}, {"expert_dim", 32}}},
        {"recurrence", {{"mean", 3}}},
    });
    auto model = models::build_model(config);
    auto counts = models::count_parameters(*model);
    std::cout << "demo: DR+DA+EA, " << counts.total << " parameters, "
              << config.params["recurrence"]["mean"] << " recurrences, modular arithmetic with "
              << task_steps << " steps, " << torch::get_num_threads() << " threads\n";
    torch::optim::AdamW optimizer(
        model->parameters(), torch::optim::AdamWOptions(3e-3).betas({0.9, 0.95}).weight_decay(0.0));
    model->train();
    double first = 0, last = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t step = 1; step <= steps; ++step) {
      auto tokens = synthetic_batch(rng, batch, seq, task_steps);
      auto input = tokens.narrow(1, 0, seq), target = tokens.narrow(1, 1, seq);
      auto out = model->forward(input);
      auto loss = torch::cross_entropy_loss(out.logits.reshape({-1, out.logits.size(-1)}),
                                            target.reshape(-1)) +
                  out.aux_loss;
      optimizer.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
      optimizer.step();
      model->after_optimizer_step();
      const double value = loss.item<double>();
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
