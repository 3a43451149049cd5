// The matching solver must size a whole experiment of dozens of arms well under a second.
#include <benchmark/benchmark.h>

#include "matching/solver.h"
#include "zoo/registry.h"

namespace {

void BM_MatchExperiment(benchmark::State& state) {
  using dreamer::matching::Criterion;
  dreamer::models::Workload w;
  w.seq_len = 1024;
  auto ref = dreamer::zoo::model_config_from_json(
      {{"family", "dreamer"}, {"preset", "DR"}, {"d_model", 512}});
  auto targets = dreamer::matching::targets_of(dreamer::zoo::family("dreamer").cost(ref, w));
  std::vector<dreamer::matching::Arm> arms;
  const char* presets[] = {"DR", "DR+DA", "DR+EA", "DR+DA+EA"};
  for (int i = 0; i < state.range(0); ++i) {
    dreamer::matching::Arm arm;
    arm.name = "arm" + std::to_string(i);
    arm.model = {{"family", "dreamer"}, {"preset", presets[i % 4]}, {"d_model", 512}};
    arm.free = {{"ffn_experts.n_experts", 1, 1024, 1},
                {"ffn_experts.k", 1, 32, 1},
                {"ffn.hidden", 64, 8192, 64}};
    arm.criteria = {Criterion::kParams, Criterion::kFlops};
    arms.push_back(arm);
  }
  int64_t evaluations = 0;
  for (auto _ : state)
    for (const auto& arm : arms)
      evaluations += dreamer::matching::solve(arm, targets, w).evaluations;
  state.counters["evaluations_per_arm"] = double(evaluations) / (state.iterations() * arms.size());
}
BENCHMARK(BM_MatchExperiment)->Arg(24)->Unit(benchmark::kMillisecond);

}  // namespace
