// dreamer eval: score a checkpoint on a benchmark task (eval/tasks/NAME.json or a task file),
// optionally at several recurrence depths, and store the results in SQLite.
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "eval/documents.h"
#include "eval/runner.h"
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

void add_eval_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("eval", "score a checkpoint on a benchmark task and store the results");
  static std::string checkpoint, task, depths, db, data_dir, tasks_dir, run_id;
  static int64_t limit = 0, batch_size = 8;
  static bool samples = false, quiet = false;
  cmd->add_option("--checkpoint", checkpoint, "checkpoint directory (config.json + model.pt)")
      ->required();
  cmd->add_option("--task", task, "task name (eval/tasks/NAME.json) or a task file")->required();
  cmd->add_option("--depths", depths,
                  "recurrences to evaluate at, e.g. 1,4,8 (recurrent families)");
  cmd->add_option("--limit", limit, "score only the first N documents")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--batch-size", batch_size, "sequences per forward call")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--db", db, "SQLite results file (default: results.db)");
  cmd->add_option("--data-dir", data_dir,
                  "data root (default: $DREAMER_DATA_DIR or ../shared/data)");
  cmd->add_option("--tasks-dir", tasks_dir, "extra directory to look for task files in");
  cmd->add_option("--run-id", run_id,
                  "run id stored with the results (default: the checkpoint path)");
  cmd->add_flag("--samples", samples, "also store every sample's prompt, output and extraction");
  cmd->add_flag("--quiet", quiet, "print nothing but errors");
  cmd->callback([] {
    const auto depth_list = parse_depths(depths);
    const auto spec = eval::load_task(task, eval::task_search_dirs(tasks_dir));
    const auto root = data_dir.empty() ? eval::default_data_root() : data_dir;
    const auto data = eval::load_task_data(spec, root, eval::builtin_synthetic_sources(), limit);
    auto ck = train::load_checkpoint(checkpoint);
    if (!depth_list.empty() && !ck.model->is_recurrent() && !quiet)
      std::cout << "note: family " << ck.model->config().family
                << " is not recurrent; --depths ignored\n";

    eval::RunOptions options;
    options.depths = depth_list;
    options.batch_size = batch_size;
    options.keep_samples = samples;
    const auto result = eval::run_task(*ck.model, *ck.tokenizer, spec, data, options);

    const std::string checkpoint_path = fs::weakly_canonical(checkpoint);
    results::ResultStore store(db.empty() ? "results.db" : db);
    store.write(run_id.empty() ? checkpoint_path : run_id, checkpoint_path, result);
    if (quiet) return;
    std::cout << spec.name << ": " << data.docs.size() << " documents, " << data.shots.size()
              << " shots\n";
    for (const auto& s : result.scores) {
      std::cout << "  depth " << std::setw(3) << s.depth << "  " << std::left << std::setw(30)
                << s.metric << std::right << std::fixed << std::setprecision(4) << s.value;
      if (s.stderr_) std::cout << " +- " << *s.stderr_;
      std::cout << "\n";
    }
    std::cout << "stored in " << store.db().file() << "\n";
  });
}

}  // namespace dreamer::cli
