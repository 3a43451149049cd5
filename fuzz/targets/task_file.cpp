// A task file as `dreamer eval --task FILE` and experiments load it; a task that loads must
// survive its own round trip (to_json is what every result stores) and list its metrics.
#include "eval/metrics.h"
#include "eval/task_spec.h"
#include "fuzz/fuzz_target.h"

DREAMER_FUZZ_TARGET(task_file) {
  using namespace dreamer;
  const auto file = fuzz::write_scratch_file("task.json", data, size);
  const auto task = eval::load_task(file, {});
  const auto stored = task.to_json();
  fuzz::check(eval::TaskSpec::from_json(stored).to_json() == stored,
              "a loaded task reads back from its to_json() unchanged");
  const auto metrics = eval::task_metrics(task);
  fuzz::check(!metrics.empty(), "every task emits a score");
  for (const auto& m : metrics)
    fuzz::check(eval::metric_direction(m).has_value(), m + " has a direction");
  eval::check_metric(task, eval::default_metric(task), "default");
}
