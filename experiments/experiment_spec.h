#pragma once
// An experiment file: matching (experiments/matching_spec.h) plus seeds, data, training, the
// evaluation schedule and the report's reference arm. experiments/schema.json documents every
// key; docs/EXPERIMENTS.md explains them. Parsing runs includes and grids first
// (experiments/expand.h), then reads strictly: unknown keys are InputErrors with the JSON path.
//
// A run is one (arm, seed); its id is "<experiment>/<arm>/seed<seed>".
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "experiments/matching_spec.h"
#include "train/settings.h"

namespace dreamer::experiments {

struct EvalTask {
  nlohmann::json task;  // a task name (eval/tasks/NAME.json), a task file path, or an inline spec
  std::string metric;   // the score the report shows; empty: the task type's default
  int64_t limit = 0;    // score only the first N documents (0: all)
};

struct EvalSchedule {
  // Checkpoints at geometric spacing: the last step and `checkpoints - 1` before it, each
  // `ratio` times fewer tokens than the next (4 and 2: 1/8, 1/4, 1/2 and all of the budget).
  int64_t checkpoints = 4;
  double ratio = 2.0;
  std::vector<int64_t> at_tokens;  // instead: explicit token counts
  std::vector<EvalTask> tasks;
  std::vector<int64_t> depths;  // recurrences to evaluate recurrent arms at; empty: their default
  int64_t batch_size = 16;
  bool samples = false;  // keep every sample's prompt and output in eval_samples
};

struct DataSettings {
  nlohmann::json tokenizer = {{"type", "byte"}};
  nlohmann::json train;  // a data/mixture.h or data/source.h spec
};

struct ExperimentSpec {
  std::string file;
  std::string name;
  std::string description;
  nlohmann::json resolved;  // after includes and grids: stored with the results
  MatchingSpec matching;
  std::vector<int64_t> seeds = {0};
  DataSettings data;
  std::map<std::string, train::TrainSettings> train;  // per arm: "train" with the arm's overrides
  EvalSchedule eval;
  std::string reference_arm;  // report: tokens-to-accuracy ratios against this arm ("" = none)
  bool has_training = false;  // data and train present (matching-only files have neither)
  // Whether the data and tokenizer files were opened and checked while parsing. `dreamer plan
  // --no-data` skips that, so paper-scale files plan before the user's corpus is at hand.
  bool data_checked = true;
};

// check_data = false leaves the data and tokenizer files unopened (their specs are kept as
// written and checked when a run starts).
ExperimentSpec parse_experiment(const nlohmann::json& root, const std::string& file,
                                bool check_data = true);
// Includes, grids, strict parsing.
ExperimentSpec read_experiment(const std::string& file, bool check_data = true);

// Eval checkpoint steps of a run of `total_steps` steps of `tokens_per_step` tokens.
std::vector<int64_t> eval_steps(const EvalSchedule& schedule, int64_t total_steps,
                                int64_t tokens_per_step);

std::string run_id(const std::string& experiment, const std::string& arm, int64_t seed);

}  // namespace dreamer::experiments
