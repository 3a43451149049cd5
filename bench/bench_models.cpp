// CPU micro-benchmarks of the Dreamer layer. Targets are ratios against a reference measured
// in the same run (the DR preset, a dense shared layer); see docs/PERF.md.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "zoo/registry.h"

namespace {

using dreamer::models::ModelConfig;

ModelConfig bench_config(const std::string& preset) {
  return dreamer::zoo::model_config_from_json(
      {{"family", "dreamer"},
       {"preset", preset},
       {"d_model", 128},
       {"n_heads", 4},
       {"ffn_experts", {{"n_experts", 32}, {"k", 4}, {"expert_dim", 64}}},
       {"recurrence", {{"mean", 4}}}});
}

// One training step (forward + backward) on [8, 128] tokens.
void BM_TrainStep(benchmark::State& state, const std::string& preset) {
  torch::manual_seed(0);
  auto model = dreamer::zoo::build_model(bench_config(preset));
  auto tokens = torch::randint(0, 256, {8, 129});
  auto input = tokens.narrow(1, 0, 128), target = tokens.narrow(1, 1, 128);
  for (auto _ : state) {
    auto out = model->forward(input);
    auto loss = torch::cross_entropy_loss(out.logits.reshape({-1, 256}), target.reshape(-1));
    model->zero_grad();
    loss.backward();
  }
  state.SetItemsProcessed(state.iterations() * 8 * 128);
}
BENCHMARK_CAPTURE(BM_TrainStep, DR, std::string("DR"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, DR_DA, std::string("DR+DA"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, DR_EA, std::string("DR+EA"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, DR_DA_EA, std::string("DR+DA+EA"))->Unit(benchmark::kMillisecond);

// Greedy decoding of 32 tokens after a 32-token prompt: cached vs full re-forward.
void BM_Decode(benchmark::State& state, bool cached) {
  torch::manual_seed(0);
  auto model = dreamer::zoo::build_model(bench_config("DR+DA+EA"));
  model->eval();
  torch::NoGradGuard no_grad;
  auto prompt = torch::randint(0, 256, {4, 32});
  for (auto _ : state) {
    if (cached) {
      dreamer::models::InferenceState s;
      auto next = model->forward(prompt, &s).logits.select(1, -1).argmax(-1, true);
      for (int i = 0; i < 32; ++i)
        next = model->forward(next, &s).logits.select(1, -1).argmax(-1, true);
    } else {
      auto seq = prompt;
      for (int i = 0; i <= 32; ++i) {
        auto next = model->forward(seq).logits.select(1, -1).argmax(-1, true);
        seq = torch::cat({seq, next}, 1);
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * 4 * 33);
}
BENCHMARK_CAPTURE(BM_Decode, full_forward, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, cached, true)->Unit(benchmark::kMillisecond);

}  // namespace
