// dreamer plan EXPERIMENT.json: the runs an experiment expands into, their matched sizes, and
// the compute they will cost (FLOPs from the cost model; time from a short calibration of each
// arm on this machine), before anything trains.
#include <iomanip>
#include <iostream>
#include <map>
#include <set>

#include "cli/commands.h"
#include "experiments/runner.h"
#include "results/units.h"
#include "train/memory_step.h"
#include "train/progress.h"
#include "util/device.h"

namespace dreamer::cli {

void add_plan_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("plan", "show an experiment's runs, matched sizes and estimated compute");
  static std::string file, tasks_dir, device;
  static bool no_calibrate = false, as_json = false, no_data = false;
  cmd->add_option("experiment", file, "experiment JSON file")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--no-calibrate", no_calibrate, "skip timing a few training steps of each arm");
  cmd->add_option("--device", device,
                  "device to calibrate on (default: the experiment's train.device)");
  cmd->add_option("--tasks-dir", tasks_dir, "extra directory to look for task files in");
  cmd->add_flag("--json", as_json, "machine-readable output");
  cmd->add_flag(
      "--no-data", no_data,
      "do not open the data and tokenizer files (plan a paper-scale file before its corpus is "
      "at hand; implies --no-calibrate)");
  cmd->callback([] {
    if (no_data) no_calibrate = true;  // calibration trains on the data
    const auto spec = experiments::read_experiment(file, /*check_data=*/!no_data);
    const auto plan = experiments::plan_experiment(spec, eval::task_search_dirs(tasks_dir));
    std::map<std::string, double> tokens_per_s;  // per arm
    double total_flops = 0, total_seconds = 0;
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& run : plan.runs) {
      total_flops += run.train_flops;
      if (!no_calibrate && !tokens_per_s.count(run.arm))
        tokens_per_s[run.arm] =
            experiments::calibrate(plan, run, device.empty() ? run.train.device : device)
                .tokens_per_s;
      const double tokens = static_cast<double>(run.total_steps * run.tokens_per_step);
      if (!no_calibrate) total_seconds += tokens / tokens_per_s[run.arm];
      rows.push_back(
          {{"run_id", run.run_id},
           {"family", run.match.config.family},
           {"config", run.match.config.to_json()},
           {"params", run.match.cost.params.total},
           {"active_params", run.match.cost.active_params},
           {"flops_per_token", run.match.cost.flops_forward_per_token},
           {"train_memory_bytes", run.match.cost.memory_train_bytes},
           {"memory", train::memory_breakdown_json(run.match.cost.memory)},
           {"memory_deviation", run.match.deviation.memory
                                    ? nlohmann::json(*run.match.deviation.memory)
                                    : nlohmann::json()},
           {"steps", run.total_steps},
           {"tokens", tokens},
           {"train_flops", run.train_flops},
           {"eval_steps", run.eval_steps},
           {"eval_depths", run.eval_depths},
           {"estimated_seconds",
            no_calibrate ? nlohmann::json() : nlohmann::json(tokens / tokens_per_s[run.arm])}});
    }
    if (as_json) {
      std::cout << nlohmann::json{{"experiment", spec.name},
                                  {"runs", rows},
                                  {"train_flops", total_flops},
                                  {"estimated_seconds",
                                   no_calibrate ? nlohmann::json() : nlohmann::json(total_seconds)}}
                       .dump(2)
                << "\n";
      return;
    }
    std::cout << "experiment " << spec.name << " (" << file << "): " << spec.matching.arms.size()
              << " arms x " << spec.seeds.size() << " seeds = " << plan.runs.size() << " runs\n";
    if (!spec.description.empty()) std::cout << spec.description << "\n";
    if (no_data) std::cout << "data and tokenizer files not opened (--no-data)\n";
    std::cout << std::left << std::setw(40) << "run" << std::setw(18) << "family" << std::right
              << std::setw(9) << "params" << std::setw(9) << "active" << std::setw(14)
              << "FLOP/token" << std::setw(12) << "train mem" << std::setw(8) << "steps"
              << std::setw(9) << "tokens" << std::setw(16) << "train FLOP" << std::setw(10)
              << "est. time"
              << "\n";
    for (size_t i = 0; i < plan.runs.size(); ++i) {
      const auto& run = plan.runs[i];
      std::cout << std::left << std::setw(40) << run.run_id << std::setw(18)
                << run.match.config.family << std::right << std::setw(9)
                << results::human_count(run.match.cost.params.total) << std::setw(9)
                << results::human_count(run.match.cost.active_params) << std::setw(14)
                << results::human_flops(run.match.cost.flops_forward_per_token) << std::setw(12)
                << results::human_bytes(run.match.cost.memory_train_bytes) << std::setw(8)
                << run.total_steps << std::setw(9)
                << results::human_count(rows[i]["tokens"].get<double>()) << std::setw(16)
                << results::human_flops(run.train_flops) << std::setw(10)
                << (no_calibrate
                        ? std::string("-")
                        : train::format_duration(rows[i]["estimated_seconds"].get<double>()))
                << "\n";
    }
    // Memory per arm (one line each; every seed of an arm has the same model).
    std::set<std::string> shown;
    for (const auto& run : plan.runs) {
      if (!shown.insert(run.arm).second) continue;
      std::cout << "  " << run.arm << " " << train::memory_breakdown_line(run.match.cost.memory);
      if (run.match.deviation.memory)
        std::cout << "; memory vs reference " << std::showpos << std::fixed << std::setprecision(2)
                  << 100 * *run.match.deviation.memory << "%" << std::noshowpos
                  << std::defaultfloat;
      std::cout << "\n";
    }
    if (!plan.tasks.empty()) {
      const auto& first = plan.runs.front();
      std::cout << "eval:";
      for (const auto& t : plan.tasks)
        if (!t.in_group) std::cout << " " << t.spec.name << " (" << t.metric << ")";
      for (const auto& g : plan.groups)
        std::cout << " " << g.spec.name << " (" << g.metric << ", group of " << g.subtasks.size()
                  << ")";
      std::cout << "\n  at steps";
      for (auto s : first.eval_steps) std::cout << " " << s;
      std::cout << " of " << first.total_steps;
      if (!first.eval_depths.empty()) {
        std::cout << "; recurrent arms at depths";
        for (auto d : first.eval_depths) std::cout << " " << d;
      }
      std::cout << "\n";
    }
    std::cout << "total training compute " << results::human_flops(total_flops);
    if (!no_calibrate)
      std::cout << ", estimated " << train::format_duration(total_seconds) << " of training on "
                << device_description(resolve_device(
                       device.empty() ? plan.runs.front().train.device : device, "--device"))
                << " (from timing 2 steps per arm; evaluation not included)";
    std::cout << "\n";
  });
}

}  // namespace dreamer::cli
