#pragma once
// The results database (SQLite, WAL mode). docs/RESULTS.md documents the schema. Schema changes
// are appended to migrations() — never edited — and applied in order on open; the
// schema_version table holds how many have run. Every logical write is one transaction and an
// upsert on the table's natural key, so re-running an evaluation replaces its rows.
#include <optional>
#include <string>
#include <vector>

#include "eval/runner.h"
#include "results/sqlite.h"

namespace dreamer::results {

// SQL of every schema version, in order (index i takes the schema from version i to i + 1).
const std::vector<std::string>& migrations();

// One training run's row in `runs` (schema v2).
struct RunRow {
  std::string run_id, experiment, arm;
  int64_t seed = 0;
  std::string family;
  std::string config_json, train_json;
  double params = 0, active_params = 0, flops_per_token = 0, train_flops_per_token = 0, memory_bytes = 0;
  int64_t default_depth = 1;
  std::string code_version, device;
  std::string status = "planned";
};

struct TrainMetricRow {
  int64_t step = 0, tokens = 0;
  double loss = 0, aux_loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0, memory_bytes = 0;
  std::optional<double> mfu;
  double elapsed_s = 0;
};

struct ReportTask {
  std::string task, metric;
  bool higher_is_better = true;
};

class ReadOnlyDatabase;

// For read-only tools (query, report): a warning when `db` was written with a newer schema
// than this program knows, or has no schema_version table; "" when it is current or older.
std::string schema_warning(const ReadOnlyDatabase& db);

class ResultStore {
 public:
  // Opens (creating if needed) and migrates `file`. InputErrors name the file: an empty path,
  // a missing directory, a file that is not a database, and a newer schema (writers refuse).
  explicit ResultStore(const std::string& file);
  int64_t schema_version();
  // Scores, samples, expert counts and metrics of one task evaluation: one transaction.
  void write(const std::string& run_id, const std::string& checkpoint,
             const eval::TaskResult& result);
  // The experiment row and its tasks' report metrics (replacing what an earlier run stored).
  void write_experiment(const std::string& name, const std::string& file, const std::string& spec_json,
                        const std::string& reference_arm, const std::vector<ReportTask>& tasks);
  // Inserts or replaces the run's row; keeps its progress columns when it exists.
  void write_run(const RunRow& run);
  // Forgets what a run stored after optimizer step `keep_step` (0: everything, a fresh start):
  // its metrics, checkpoints and every eval row of those checkpoints.
  void truncate_run(const std::string& run_id, int64_t keep_step, const std::string& keep_checkpoint);
  void write_train_metrics(const std::string& run_id, const std::vector<TrainMetricRow>& rows);
  void write_checkpoint(const std::string& run_id, const std::string& name, int64_t step, int64_t tokens,
                        const std::string& path);
  void set_run_progress(const std::string& run_id, const std::string& status, int64_t steps, int64_t tokens,
                        std::optional<double> wall_seconds);
  Database& db() { return db_; }

 private:
  void migrate();
  Database db_;
};

}  // namespace dreamer::results
