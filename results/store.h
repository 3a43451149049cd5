#pragma once
// The results database (SQLite, WAL mode). docs/RESULTS.md documents the schema. Schema changes
// are appended to migrations() — never edited — and applied in order on open; the
// schema_version table holds how many have run. Every logical write is one transaction and an
// upsert on the table's natural key, so re-running an evaluation replaces its rows.
#include <functional>
#include <optional>
#include <set>
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
  double params = 0, active_params = 0, flops_per_token = 0, train_flops_per_token = 0,
         memory_bytes = 0;
  int64_t default_depth = 1;
  std::string code_version, device;
  std::string status = "planned";
  std::string fingerprint_json, allowed_changes_json, start_id;  // schema v3; "" stores NULL
};

// What a resume needs to know about a stored run.
struct StoredRun {
  std::string status;
  int64_t steps_trained = 0;
  std::string fingerprint_json, allowed_changes_json, start_id, status_detail;  // "" when NULL
};

struct CheckpointRow {
  std::string name;
  int64_t step = 0, tokens = 0;
  std::string path;
};

// The process that holds a run's lease (run_leases).
struct LeaseHolder {
  int64_t pid = 0;
  std::string host, started_at, heartbeat_at;
  double heartbeat_age_s = 0;  // seconds since the last heartbeat (by the database's clock)
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
  void write_experiment(const std::string& name, const std::string& file,
                        const std::string& spec_json, const std::string& reference_arm,
                        const std::vector<ReportTask>& tasks);
  // Adds (or replaces) one task of an existing experiment's report, keeping the others
  // (dreamer eval --experiment).
  void add_experiment_task(const std::string& experiment, const ReportTask& task);
  // Inserts or replaces the run's row; keeps its progress columns when it exists.
  void write_run(const RunRow& run);
  // A fresh start, in one transaction: forgets every row the run stored, writes its row with
  // progress zero and started_at now, and (for a forced restart) its first checkpoint.
  void start_run(const RunRow& run, const std::optional<CheckpointRow>& first = std::nullopt);
  // A resume from checkpoint `checkpoint` at `step`, in one transaction: forgets what the run
  // stored after it (truncate_run), rewrites its row and sets its progress to the checkpoint's.
  void resume_run(const RunRow& run, int64_t step, const std::string& checkpoint, int64_t tokens,
                  double wall_seconds);
  std::optional<StoredRun> read_run(const std::string& run_id);
  // Checkpoints whose every task evaluation is stored (mark_evaluated).
  std::set<std::string> evaluated_checkpoints(const std::string& run_id);
  void mark_evaluated(const std::string& run_id, const std::string& checkpoint);
  // Forgets what a run stored after optimizer step `keep_step` (0: everything, a fresh start):
  // its metrics, checkpoints and every eval row of those checkpoints.
  void truncate_run(const std::string& run_id, int64_t keep_step,
                    const std::string& keep_checkpoint);
  void write_train_metrics(const std::string& run_id, const std::vector<TrainMetricRow>& rows);
  void write_checkpoint(const std::string& run_id, const std::string& name, int64_t step,
                        int64_t tokens, const std::string& path);
  // `detail` says why a run diverged or failed ("" clears it).
  void set_run_progress(const std::string& run_id, const std::string& status, int64_t steps,
                        int64_t tokens, std::optional<double> wall_seconds,
                        const std::string& detail = "");

  // Takes the run's lease for (pid, host) atomically, unless another holder has it and
  // `stale(holder)` is false: then returns that holder and changes nothing.
  std::optional<LeaseHolder> acquire_lease(const std::string& run_id, int64_t pid,
                                           const std::string& host,
                                           const std::function<bool(const LeaseHolder&)>& stale);
  std::optional<LeaseHolder> read_lease(const std::string& run_id);
  void heartbeat_lease(const std::string& run_id, int64_t pid, const std::string& host);
  void release_lease(const std::string& run_id, int64_t pid, const std::string& host);
  Database& db() { return db_; }

 private:
  void migrate();
  void upsert_run(const RunRow& run);
  void delete_run_rows(const std::string& run_id, int64_t keep_step,
                       const std::string& keep_checkpoint);
  void insert_checkpoint(const std::string& run_id, const CheckpointRow& checkpoint);
  Database db_;
};

}  // namespace dreamer::results
