// dreamer run EXPERIMENT.json: train and evaluate every run of an experiment, storing metrics,
// checkpoints and scores in the results database (then `dreamer report` shows them).
#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "cli/launch.h"
#include "experiments/runner.h"
#include "train/distributed.h"
#include "train/run_control.h"

namespace dreamer::cli {

void add_run_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("run", "train and evaluate an experiment's runs into a results database");
  static std::string file, tasks_dir, data_dir;
  static experiments::RunnerOptions options;
  static int64_t max_steps = 0;
  static bool quiet = false;
  static int nproc = 1;
  static std::string shard;
  static double dist_timeout_s = 600;
  cmd->add_option("experiment", file, "experiment JSON file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--db", options.db, "SQLite results file")->capture_default_str();
  cmd->add_option("--out", options.out_dir, "directory for checkpoints")->capture_default_str();
  cmd->add_flag("--resume", options.resume,
                "continue each run from its newest checkpoint (its fingerprint must match); skip "
                "finished runs");
  cmd->add_flag(
      "--force", options.force,
      "start runs that already exist afresh (their rows and checkpoints are replaced at the new "
      "run's first checkpoint)");
  cmd->add_option("--allow-changes", options.allow_changes,
                  "with --resume: fingerprint fields (JSON paths such as train.optimizer.lr) that "
                  "may differ "
                  "from the stored run's; recorded in runs.allowed_changes_json")
      ->expected(1, -1);
  cmd->add_option("--arm", options.arms, "run only this arm (repeatable)");
  cmd->add_option("--max-steps", max_steps,
                  "pause each run at this optimizer step with a checkpoint (status paused; "
                  "continue with --resume)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--data-dir", data_dir,
                  "data root for benchmark tasks (default: $DREAMER_DATA_DIR or ../shared/data)");
  cmd->add_option("--tasks-dir", tasks_dir, "extra directory to look for task files in");
  cmd->add_flag("--no-progress", quiet, "no progress bar or per-step lines");
  cmd->add_option("--nproc", nproc,
                  "data-parallel training in N local worker processes (as torchrun "
                  "--nproc-per-node N; docs/DISTRIBUTED.md)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--shard", shard,
                  "run only shard i of n of the experiment's runs (0 <= i < n; each shard its own "
                  "--db, joined with dreamer merge)");
  cmd->add_option("--dist-timeout", dist_timeout_s,
                  "seconds a distributed worker waits for the others in a collective before it "
                  "fails (default 600)")
      ->check(CLI::Range(1.0, 86400.0));
  cmd->callback([cmd] {
    if (nproc > 1) {
      experiments::read_experiment(file);  // a bad file fails once, here, not in every worker
      const bool threads_given = cmd->get_parent()->get_option("--threads")->count() > 0;
      if (const int code = launch_local_workers(nproc, threads_given))
        throw CLI::RuntimeError(code);
      return;
    }
    const auto spec = experiments::read_experiment(file);
    const auto plan = experiments::plan_experiment(spec, eval::task_search_dirs(tasks_dir));
    options.data_root = data_dir;
    options.progress = !quiet;
    if (max_steps > 0) options.stop_after_step = max_steps;
    if (!shard.empty()) {
      options.shard = experiments::parse_shard(shard, "--shard");
      size_t held = 0;
      for (size_t i = 0; i < plan.runs.size(); ++i) held += options.shard.holds(i);
      std::cout << "shard " << options.shard.to_string() << ": " << held << " of "
                << plan.runs.size() << " runs\n";
    }
    // torchrun, srun or --nproc started this process as one of several: meet the others (after
    // planning, which fails the same way on every rank).
    const auto env = train::DistEnv::from_environment();
    if (env.distributed()) {
      options.group = train::ProcessGroup::connect(
          env, std::chrono::milliseconds(static_cast<int64_t>(dist_timeout_s * 1000)));
      if (env.rank != 0) options.progress = false;
    }
    const bool leader = env.rank == 0;
    // SIGINT/SIGTERM: checkpoint at the next step boundary, mark the run interrupted, exit 128+N.
    train::install_stop_handlers();
    const auto summary = experiments::run_experiment(plan, options);
    if (summary.interrupted_by && !leader) throw CLI::RuntimeError(128 + summary.interrupted_by);
    if (!leader) return;  // rank 0 reports
    for (const auto& d : summary.diverged) std::cout << "diverged: " << d << "\n";
    std::cout << "results in " << options.db << " (dreamer report " << options.db
              << " --out DIR)\n";
    if (summary.interrupted_by) {
      std::cout << "interrupted: continue with dreamer run " << file << " --resume\n";
      throw CLI::RuntimeError(128 + summary.interrupted_by);
    }
  });
}

}  // namespace dreamer::cli
