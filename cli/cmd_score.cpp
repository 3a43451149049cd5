// dreamer score: scores generations (or choice log-likelihoods) produced by another program,
// e.g. lm-eval's samples_<task>_<date>.jsonl, with a task's own extraction and metrics, and
// stores them like any eval.
#include <iostream>

#include "cli/commands.h"
#include "cli/eval_common.h"
#include "eval/documents.h"
#include "eval/predictions.h"
#include "eval/runner.h"
#include "results/store.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::cli {

void add_score_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "score", "score externally produced generations (lm-eval samples files) and store them");
  static std::string task, predictions, db, data_dir, tasks_dir, run_id, checkpoint;
  static int64_t num_fewshot = -1, fewshot_seed = -1;
  static bool no_samples = false, quiet = false;
  cmd->add_option("--task", task, "task name (eval/tasks/NAME.json) or a task file")->required();
  cmd->add_option(
         "--predictions", predictions,
         "JSONL: lm-eval samples lines (doc_id, resps) or {\"doc_id\": N, \"output\": ...}")
      ->required();
  cmd->add_option("--db", db, "SQLite results file (default: results.db)");
  cmd->add_option("--data-dir", data_dir,
                  "data root (default: $DREAMER_DATA_DIR or ../shared/data)");
  cmd->add_option("--tasks-dir", tasks_dir, "extra directory to look for task files in");
  cmd->add_option("--run-id", run_id, "run id stored with the results (default: the file path)");
  cmd->add_option("--checkpoint", checkpoint,
                  "label stored as the checkpoint (default: the predictions file path)");
  cmd->add_option("--num-fewshot", num_fewshot,
                  "shots of the prompts to compare with (default: the task's)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--fewshot-seed", fewshot_seed, "seed of the random shot sampler")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  cmd->add_flag("--no-samples", no_samples, "store only the scores, not every sample");
  cmd->add_flag("--quiet", quiet, "print nothing but errors");
  cmd->callback([] {
    const auto spec = eval::load_task(task, eval::task_search_dirs(tasks_dir));
    const auto root = data_dir.empty() ? eval::default_data_root() : data_dir;
    eval::DataOptions options;
    if (num_fewshot >= 0) options.num_fewshot = num_fewshot;
    if (fewshot_seed >= 0) options.fewshot_seed = fewshot_seed;
    const auto data = eval::load_task_data(spec, root, eval::builtin_synthetic_sources(), options);
    const auto p = eval::read_predictions(predictions, spec, data);
    const auto result = spec.output_type == eval::OutputType::kMultipleChoice
                            ? eval::score_choice_loglikelihoods(spec, data, p.choices, !no_samples)
                            : eval::score_generations(spec, data, p.generations, !no_samples);
    const std::string file = fs::weakly_canonical(predictions);
    results::ResultStore store(db.empty() ? "results.db" : db);
    store.write(run_id.empty() ? file : run_id, checkpoint.empty() ? file : checkpoint, result);
    if (quiet) return;
    std::cout << "read " << p.lines << " lines, " << p.used << " documents scored\n";
    print_scores(result, p.used, data.shots.size());
    std::cout << "stored in " << store.db().file() << "\n";
  });
}

}  // namespace dreamer::cli
