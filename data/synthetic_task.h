#pragma once
// Named synthetic tasks with splits, built from a strict JSON spec so experiment files can name
// them:
//   {"task": "modular_arithmetic", "steps": [1, 4], "split": "test_ood", "seed": 7,
//    "ood_steps": [5, 8], "modulus": 10}
// Splits (docs/DATA.md has the full definition):
//   train     steps uniform in `steps`; prompts outside the held-out hash bucket
//   test_id   steps uniform in `steps`; prompts inside the held-out bucket (never in train)
//   test_ood  steps uniform in `ood_steps` (default [max+1, 2*max]): harder than anything seen
// Example i of a split is a pure function of (seed, split, i): seekable and reproducible.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/synthetic.h"

namespace dreamer::data {

enum class Split { kTrain, kTestId, kTestOod };

// One prompt in kHeldOutBuckets lands in test_id; the rest may appear in train.
constexpr uint64_t kHeldOutBuckets = 16;
// Whether `prompt` belongs to the held-out (test_id) bucket.
bool in_held_out_bucket(const std::string& prompt);

struct TaskSpec {
  std::string task;
  int min_steps = 1, max_steps = 3;          // the training (and test_id) range
  int ood_min_steps = 0, ood_max_steps = 0;  // test_ood range; 0 = derived from max_steps
  Split split = Split::kTrain;
  uint64_t seed = 0;
  nlohmann::json params = nlohmann::json::object();  // task-specific knobs, e.g. {"modulus": 10}

  static TaskSpec from_json(const nlohmann::json& spec, const std::string& path = "$");
  nlohmann::json to_json() const;  // complete: defaults written out
};

class SyntheticTask {
 public:
  // Validates the spec against the task (step ranges the task can generate, knobs).
  explicit SyntheticTask(TaskSpec spec, const std::string& path = "$");

  // Example `index` of the split; `stream_seed` is mixed into the spec's seed (a training
  // stream passes its own seed; evaluation sets use 0).
  Example example(uint64_t index, uint64_t stream_seed = 0) const;
  std::vector<Example> examples(uint64_t count, uint64_t stream_seed = 0) const;

  // Inclusive step range this split draws from.
  std::pair<int, int> step_range() const;
  const TaskSpec& spec() const { return spec_; }

 private:
  using Generator = std::function<Example(std::mt19937_64&, int)>;
  TaskSpec spec_;
  Generator generate_;
};

// Names of the registered tasks, for error messages and `dreamer` listings.
std::vector<std::string> task_names();

}  // namespace dreamer::data
