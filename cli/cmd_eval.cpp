// dreamer eval: score a checkpoint on a benchmark task or group of tasks (eval/tasks/NAME.json
// or a task file), optionally at several recurrence depths, and store the results in SQLite.
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/eval_common.h"
#include "eval/documents.h"
#include "eval/group.h"
#include "eval/runner.h"
#include "experiments/experiment_spec.h"
#include "experiments/reevaluate.h"
#include "results/store.h"
#include "train/checkpoint.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::cli {

namespace {

std::vector<int64_t> parse_depths(const std::string& text) {
  std::vector<int64_t> depths;
  if (text.empty()) return depths;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    int64_t value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || value < 1)
      throw InputError("--depths",
                       "expected positive integers separated by commas, got \"" + text + "\"");
    depths.push_back(value);
  }
  return depths;
}

}  // namespace

void print_scores(const eval::TaskResult& result, size_t n_docs, size_t n_shots) {
  std::cout << result.task << ": ";
  if (n_docs > 0) std::cout << n_docs << " documents, " << n_shots << " shots";
  std::cout << "\n";
  for (const auto& s : result.scores) {
    std::cout << "  depth " << std::setw(3) << s.depth << "  " << std::left << std::setw(30)
              << s.metric << std::right << std::fixed << std::setprecision(4) << s.value;
    if (s.stderr_) std::cout << " +- " << *s.stderr_;
    std::cout << "\n";
  }
  for (const auto& w : result.warnings) std::cout << "  warning: " << w << "\n";
}

void add_task_override_options(CLI::App* cmd, TaskOverrides& o) {
  cmd->add_option("--max-new-tokens", o.max_new_tokens,
                  "generation budget in tokens of the model's tokenizer instead of the task's")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--temperature", o.temperature,
                  "sample at this temperature instead of the task's decoding (lm-eval do_sample)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--top-p", o.top_p, "nucleus sampling: keep the tokens holding this mass")
      ->check(CLI::Range(1e-9, 1.0));
  cmd->add_option("--top-k", o.top_k, "sample among the k most likely tokens (0: no cut)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--sample-seed", o.sample_seed,
                  "seed of sampled generation (default: the task's, 1234)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  cmd->add_option("--repeats", o.repeats,
                  "responses per document (needs sampling); maj@k / pass@k filters read them")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--gen-prefix", o.gen_prefix,
                  "text after each question that the answer continues (lm-eval gen_prefix)");
}

void apply_task_overrides(eval::TaskSpec& spec, const TaskOverrides& o) {
  const bool generates = spec.output_type == eval::OutputType::kGenerateUntil;
  auto need_generation = [&](bool set, const std::string& flag) {
    if (set && !generates) throw InputError(flag, "task " + spec.name + " does not generate");
  };
  need_generation(o.max_new_tokens > 0, "--max-new-tokens");
  need_generation(o.temperature > 0, "--temperature");
  need_generation(o.repeats > 0, "--repeats");
  if (o.max_new_tokens > 0) spec.generation.max_new_tokens = o.max_new_tokens;
  if (o.temperature > 0) {
    spec.generation.do_sample = true;
    spec.generation.temperature = o.temperature;
  }
  auto need_sampling = [&](bool set, const std::string& flag) {
    need_generation(set, flag);
    if (set && !spec.generation.do_sample)
      throw InputError(flag,
                       "task " + spec.name + " decodes greedily: give --temperature to sample");
  };
  need_sampling(o.top_p > 0, "--top-p");
  need_sampling(o.top_k >= 0, "--top-k");
  need_sampling(o.sample_seed >= 0, "--sample-seed");
  need_sampling(o.repeats > 1, "--repeats");
  if (o.top_p > 0) spec.generation.top_p = o.top_p;
  if (o.top_k >= 0) spec.generation.top_k = o.top_k;
  if (o.sample_seed >= 0) spec.generation.seed = o.sample_seed;
  if (o.repeats > 0) {
    for (const auto& f : spec.filters) {
      const int64_t used =
          std::max(f.take_first_k, f.reduce == eval::Reduction::kPassAtK ? f.k : 1);
      if (used > o.repeats)
        throw InputError("--repeats", "task " + spec.name + "'s filter \"" + f.name + "\" reads " +
                                          std::to_string(used) + " responses");
    }
    spec.repeats = o.repeats;
  }
  if (o.gen_prefix) {
    if (spec.output_type == eval::OutputType::kLoglikelihoodRolling)
      throw InputError("--gen-prefix", "task " + spec.name + " scores whole documents");
    spec.gen_prefix = *o.gen_prefix;
  }
}

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "score a checkpoint, or a finished experiment's checkpoints, on a benchmark task or group "
      "and store the results");
  static std::string checkpoint, experiment, task, depths, db, data_dir, tasks_dir, run_id;
  static std::vector<std::string> arms, allow_changes;
  static bool last_only = false;
  static int64_t limit = 0, batch_size = 8, num_fewshot = -1, fewshot_seed = -1, max_length = 2048;
  static TaskOverrides overrides;
  static bool samples = false, quiet = false;
  auto* checkpoint_option =
      cmd->add_option("--checkpoint", checkpoint, "checkpoint directory (config.json + model.pt)");
  auto* experiment_option = cmd->add_option(
      "--experiment", experiment,
      "instead: every stored checkpoint of this finished experiment file's runs; the scores "
      "join its report");
  checkpoint_option->excludes(experiment_option);
  cmd->add_option("--arm", arms, "with --experiment: only this arm (repeatable)")
      ->needs(experiment_option);
  cmd->add_option("--allow-changes", allow_changes,
                  "with --experiment: fingerprint fields (JSON paths) that may differ from the "
                  "runs' stored ones")
      ->needs(experiment_option);
  cmd->add_flag("--last-only", last_only, "with --experiment: only each run's last checkpoint")
      ->needs(experiment_option);
  cmd->add_option("--task", task, "task or group name (eval/tasks/NAME.json) or a task file")
      ->required();
  cmd->add_option("--depths", depths,
                  "recurrences to evaluate at, e.g. 1,4,8 (recurrent families)");
  cmd->add_option("--limit", limit, "score only the first N documents (of each group subtask)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--num-fewshot", num_fewshot, "shots per document instead of the task's")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--fewshot-seed", fewshot_seed,
                  "seed of the random shot sampler (default: the task's, 1234 as lm-eval)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  auto* max_length_option =
      cmd->add_option(
             "--max-length", max_length,
             "model context in tokens: longer prompts are left-truncated (default 2048, "
             "lm-eval's; 0: never truncate; with --experiment: not truncated unless given, "
             "as the runner)")
          ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  add_task_override_options(cmd, overrides);
  auto* batch_size_option =
      cmd->add_option("--batch-size", batch_size,
                      "sequences per forward call (default 8; the experiment's with --experiment)")
          ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--db", db, "SQLite results file (default: results.db)");
  cmd->add_option("--data-dir", data_dir,
                  "data root (default: $DREAMER_DATA_DIR or ../shared/data)");
  cmd->add_option("--tasks-dir", tasks_dir, "extra directory to look for task files in");
  cmd->add_option("--run-id", run_id,
                  "run id stored with the results (default: the checkpoint path)");
  cmd->add_flag("--samples", samples,
                "also store every sample (lm-eval samples records: dreamer query DB samples)");
  cmd->add_flag("--quiet", quiet, "print nothing but errors");
  cmd->callback([batch_size_option, max_length_option] {
    if (checkpoint.empty() && experiment.empty())
      throw InputError("--checkpoint", "give --checkpoint DIR or --experiment FILE");
    const auto depth_list = parse_depths(depths);
    if (!experiment.empty()) {
      require(run_id.empty(), "--run-id", "the runs of --experiment keep their own ids");
      const auto dirs = eval::task_search_dirs(tasks_dir);
      const auto plan =
          experiments::plan_experiment(experiments::read_experiment(experiment), dirs);
      std::vector<experiments::PlannedTask> tasks;
      std::vector<experiments::PlannedGroup> groups;
      experiments::plan_eval_entry(task, "", limit, dirs, "--task", tasks, groups);
      for (auto& t : tasks) apply_task_overrides(t.spec, overrides);
      experiments::ReevaluateOptions options;
      options.db = db.empty() ? "results.db" : db;
      options.arms = arms;
      options.depths = depth_list;
      options.data_root = data_dir;
      options.samples = samples;
      options.last_only = last_only;
      options.allow_changes = allow_changes;
      if (batch_size_option->count() > 0) options.batch_size = batch_size;
      if (max_length_option->count() > 0) options.max_length = max_length;
      if (num_fewshot >= 0) options.data.num_fewshot = num_fewshot;
      if (fewshot_seed >= 0) options.data.fewshot_seed = fewshot_seed;
      options.progress = !quiet;
      const auto done = experiments::evaluate_experiment(plan, tasks, groups, options);
      if (!quiet)
        std::cout << "stored " << done.size() << " checkpoint evaluations of " << plan.spec.name
                  << " in " << options.db << "\n";
      return;
    }
    auto selection = eval::load_tasks(task, eval::task_search_dirs(tasks_dir));
    const auto root = data_dir.empty() ? eval::default_data_root() : data_dir;
    eval::DataOptions data_options;
    data_options.limit = limit;
    if (num_fewshot >= 0) data_options.num_fewshot = num_fewshot;
    if (fewshot_seed >= 0) data_options.fewshot_seed = fewshot_seed;
    std::vector<eval::TaskData> data;
    for (auto& spec : selection.tasks) {
      apply_task_overrides(spec, overrides);
      data.push_back(
          eval::load_task_data(spec, root, eval::builtin_synthetic_sources(), data_options));
    }
    auto ck = train::load_checkpoint(checkpoint);
    if (!depth_list.empty() && !ck.model->is_recurrent() && !quiet)
      std::cout << "note: family " << ck.model->config().family
                << " is not recurrent; --depths ignored\n";

    eval::RunOptions options;
    options.depths = depth_list;
    options.batch_size = batch_size;
    options.keep_samples = samples;
    options.max_length = max_length;
    const std::string checkpoint_path = fs::weakly_canonical(checkpoint);
    const std::string id = run_id.empty() ? checkpoint_path : run_id;
    results::ResultStore store(db.empty() ? "results.db" : db);
    std::vector<eval::TaskResult> results;
    for (size_t t = 0; t < selection.tasks.size(); ++t) {
      const auto& spec = selection.tasks[t];
      results.push_back(eval::run_task(*ck.model, *ck.tokenizer, spec, data[t], options));
      store.write(id, checkpoint_path, results.back());
      if (quiet) continue;
      for (const auto& note : spec.notes)
        std::cout << "note (" << spec.name << "): " << note << "\n";
      print_scores(results.back(), data[t].docs.size(), data[t].shots.size());
    }
    if (selection.group) {
      const auto group = eval::aggregate_group(*selection.group, results);
      store.write(id, checkpoint_path, group);
      if (!quiet) {
        for (const auto& note : selection.group->notes) std::cout << "note: " << note << "\n";
        print_scores(group, 0, 0);
      }
    }
    if (!quiet) std::cout << "stored in " << store.db().file() << "\n";
  });
}

}  // namespace dreamer::cli
