// The experiment-file reader as `dreamer plan/run/match` call it: JSON with line numbers,
// includes, grids, strict parsing of every section (data sources are opened, so a JSONL path
// in the input reads that file), then the eval schedule.
#include "experiments/experiment_spec.h"
#include "fuzz/fuzz_target.h"

DREAMER_FUZZ_TARGET(experiment_file) {
  using namespace dreamer;
  const auto file = fuzz::write_scratch_file("experiment.json", data, size);
  const auto spec = experiments::read_experiment(file);
  const auto steps = experiments::eval_steps(spec.eval, 1000, 64);
  for (size_t i = 0; i < steps.size(); ++i)
    fuzz::check(steps[i] >= 1 && steps[i] <= 1000 && (i == 0 || steps[i - 1] < steps[i]),
                "eval steps are increasing and within the run");
}
