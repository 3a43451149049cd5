#include "experiments/follower.h"

#include <torch/torch.h>

#include <csignal>

#include "data/packed_stream.h"
#include "data/tokenizer.h"
#include "train/distributed.h"
#include "train/run_control.h"
#include "train/trainer.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::experiments {

using json = nlohmann::json;

json actions_to_json(const std::vector<FollowerAction>& actions) {
  json list = json::array();
  for (const auto& a : actions)
    list.push_back({{"run_id", a.run_id},
                    {"run_dir", a.run_dir},
                    {"resume_dir", a.resume_dir},
                    {"start_id", a.start_id}});
  return {{"actions", list}};
}

RunSummary follow_rank0(const ExperimentPlan& plan, const RunnerOptions& options) {
  auto& group = *options.group;
  const auto message = json::parse(group.read_published("actions"));
  if (message.contains("error"))
    throw InputError("distributed rank " + std::to_string(group.rank()),
                     "rank 0 stopped before training: " + message["error"].get<std::string>());
  const auto& spec = plan.spec;
  const auto tokenizer = data::make_tokenizer(spec.data.tokenizer, spec.file + ":$.data.tokenizer");
  RunSummary summary;
  const auto& actions = message["actions"];
  for (size_t i = 0; i < actions.size(); ++i) {
    // Rank 0 says whether it starts the next run (a stop signal between runs ends the loop).
    if (group.read_published("run/" + std::to_string(i)) != "go") break;
    const auto& a = actions[i];
    const std::string run_id = a["run_id"];
    const PlannedRun* run = nullptr;
    for (const auto& r : plan.runs)
      if (r.run_id == run_id) run = &r;
    require(run != nullptr, run_id,
            "rank 0 plans a run this rank's experiment file does not have (every rank must "
            "read the same file)");
    torch::manual_seed(run->seed);
    auto model = zoo::build_model(run->match.config);
    // rank 0's stream and options: the same data (shards too) and activation checkpointing
    data::PackedStream stream = training_stream(spec, tokenizer, run->seed);
    train::TrainerOptions topt = trainer_options(spec, *run);
    topt.run_dir = a["run_dir"];
    topt.stop_after_step = options.stop_after_step;
    topt.progress = false;
    topt.start_id = a["start_id"];
    topt.group = options.group;
    train::Trainer trainer(model, tokenizer, std::move(stream), run->train, topt);
    const std::string resume_dir = a["resume_dir"];
    if (!resume_dir.empty()) trainer.resume_from(resume_dir);
    // Rank 0 may evaluate checkpoints whose scores were lost before it trains on.
    group.rank0_passed("start " + run_id, std::chrono::hours(6));
    trainer.run();
    switch (trainer.stop_reason()) {
      case train::StopReason::kInterrupted:
        summary.interrupted_by = train::stop_requested() ? train::stop_requested() : SIGTERM;
        group.finish_together();
        return summary;
      case train::StopReason::kDiverged:
        summary.diverged.push_back(run_id + ": " + trainer.stop_detail());
        break;
      case train::StopReason::kPaused:
        summary.paused.push_back(run_id);
        break;
      case train::StopReason::kFinished:
        break;
    }
  }
  group.finish_together();
  return summary;
}

}  // namespace dreamer::experiments
