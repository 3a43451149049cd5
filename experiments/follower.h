#pragma once
// Data-parallel experiment runs: rank 0 runs experiments/runner.cpp as one process would (the
// database, leases, evaluation, checkpoints); the other ranks follow it. Rank 0 publishes what
// it decided for each run (fresh, resumed from which checkpoint) through the process group's
// store; each follower builds the same model, stream and trainer and trains in step with it,
// writing nothing.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "experiments/runner.h"

namespace dreamer::experiments {

struct FollowerAction {
  std::string run_id;
  std::string run_dir;     // where rank 0 writes the run's checkpoints
  std::string resume_dir;  // empty: the run starts at step 0
  std::string start_id;
};

nlohmann::json actions_to_json(const std::vector<FollowerAction>& actions);

// Rank 1..N-1's part of run_experiment.
RunSummary follow_rank0(const ExperimentPlan& plan, const RunnerOptions& options);

}  // namespace dreamer::experiments
