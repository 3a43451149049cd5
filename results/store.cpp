#include "results/store.h"

#include "results/query.h"
#include "util/errors.h"

namespace dreamer::results {

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: evaluation results, per-sample outputs, expert usage. `depth` in eval_results and
      // eval_samples is the number of recurrences the model ran; in the expert tables
      // `recurrences` is that setting and `depth` the recurrence step (or layer) of the site,
      // 0 meaning all steps pooled.
      R"sql(
      CREATE TABLE eval_results(
        run_id TEXT NOT NULL, checkpoint TEXT NOT NULL, task TEXT NOT NULL, depth INTEGER NOT NULL,
        metric TEXT NOT NULL, value REAL, n INTEGER NOT NULL, stderr REAL,
        settings_json TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, checkpoint, task, depth, metric));
      CREATE TABLE eval_samples(
        run_id TEXT NOT NULL, checkpoint TEXT NOT NULL, task TEXT NOT NULL, depth INTEGER NOT NULL,
        doc_index INTEGER NOT NULL, prompt TEXT NOT NULL, output TEXT NOT NULL, details_json TEXT NOT NULL,
        PRIMARY KEY (run_id, checkpoint, task, depth, doc_index));
      CREATE TABLE expert_counts(
        run_id TEXT NOT NULL, checkpoint TEXT NOT NULL, task TEXT NOT NULL, recurrences INTEGER NOT NULL,
        site TEXT NOT NULL, depth INTEGER NOT NULL, expert_id INTEGER NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (run_id, checkpoint, task, recurrences, site, depth, expert_id));
      CREATE TABLE expert_metrics(
        run_id TEXT NOT NULL, checkpoint TEXT NOT NULL, task TEXT NOT NULL, recurrences INTEGER NOT NULL,
        site TEXT NOT NULL, depth INTEGER NOT NULL, metric TEXT NOT NULL, value REAL,
        PRIMARY KEY (run_id, checkpoint, task, recurrences, site, depth, metric));
      )sql",
      // 2: experiments and their training runs. A run is one (experiment, arm, seed); its id is
      // "<experiment>/<arm>/seed<seed>", the run_id of its eval rows, whose `checkpoint` is the
      // name in `checkpoints` (so accuracy joins to tokens trained). Re-running an experiment
      // upserts these rows; a fresh (not resumed) run first deletes its old train_metrics.
      R"sql(
      CREATE TABLE experiments(
        name TEXT PRIMARY KEY, file TEXT NOT NULL, spec_json TEXT NOT NULL,
        reference_arm TEXT,  -- the arm that tokens-to-accuracy ratios compare against; NULL: none
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE experiment_tasks(
        experiment TEXT NOT NULL, task TEXT NOT NULL,
        metric TEXT NOT NULL,  -- the eval_results metric the report shows for this task
        higher_is_better INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (experiment, task));
      CREATE TABLE runs(
        run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, arm TEXT NOT NULL, seed INTEGER NOT NULL,
        family TEXT NOT NULL,
        config_json TEXT NOT NULL,  -- the resolved (matched) ModelConfig
        train_json TEXT NOT NULL,   -- the resolved training settings
        params REAL, active_params REAL, flops_per_token REAL, train_flops_per_token REAL,
        memory_bytes REAL,          -- predicted training peak (models/cost.h)
        default_depth INTEGER NOT NULL,  -- recurrences the main table reads (1: not recurrent)
        code_version TEXT, device TEXT,
        status TEXT NOT NULL,       -- planned, running, finished, failed
        tokens_trained INTEGER NOT NULL DEFAULT 0, steps_trained INTEGER NOT NULL DEFAULT 0,
        wall_seconds REAL, started_at TEXT, finished_at TEXT);
      CREATE INDEX runs_by_experiment ON runs(experiment, arm, seed);
      CREATE TABLE train_metrics(
        run_id TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
        loss REAL NOT NULL, aux_loss REAL, lr REAL, grad_norm REAL, tokens_per_s REAL,
        memory_bytes REAL, mfu REAL, elapsed_s REAL,
        PRIMARY KEY (run_id, step));
      CREATE TABLE checkpoints(
        run_id TEXT NOT NULL, name TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
        path TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, name));
      )sql",
      // 3: the run lifecycle (docs/EXPERIMENTS.md). `fingerprint_json` is what a resume must
      // match (model, training, data and tokenizer hashes, evaluation plan, code version);
      // `allowed_changes_json` lists the differences `--allow-changes` accepted; `start_id` tells
      // the checkpoints of one start from a replaced one's; `status_detail` says why a run
      // diverged or failed. A checkpoint's `evaluated_at` is set once every task's scores are
      // stored. `run_leases` holds the process running a run (one at a time).
      R"sql(
      ALTER TABLE runs ADD COLUMN fingerprint_json TEXT;
      ALTER TABLE runs ADD COLUMN allowed_changes_json TEXT;
      ALTER TABLE runs ADD COLUMN start_id TEXT;
      ALTER TABLE runs ADD COLUMN status_detail TEXT;
      ALTER TABLE checkpoints ADD COLUMN evaluated_at TEXT;
      CREATE TABLE run_leases(
        run_id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL,
        started_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL);
      )sql",
  };
  return kMigrations;
}

ResultStore::ResultStore(const std::string& file) : db_(file) {
  db_.exec("PRAGMA journal_mode=WAL");
  db_.exec("PRAGMA foreign_keys=ON");
  migrate();
}

int64_t ResultStore::schema_version() {
  Statement s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  s.step();
  return s.column_int(0);
}

void ResultStore::migrate() {
  Transaction tx(db_);
  db_.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
  const int64_t current = schema_version();
  const auto& all = migrations();
  if (current > static_cast<int64_t>(all.size()))
    throw InputError(db_.file(), "schema version " + std::to_string(current) +
                                     " was written by a newer dreamer (this one knows up to " +
                                     std::to_string(all.size()) +
                                     "): refusing to write to it; update dreamer (dreamer query "
                                     "and dreamer report can still read it)");
  for (int64_t v = current; v < static_cast<int64_t>(all.size()); ++v) db_.exec(all[v]);
  db_.exec("DELETE FROM schema_version");
  Statement(db_, "INSERT INTO schema_version(version) VALUES (?)")
      .bind(1, static_cast<int64_t>(all.size()))
      .run();
  tx.commit();
}

std::string schema_warning(const ReadOnlyDatabase& db) {
  if (!db.has_table("schema_version"))
    return db.file() + ": no schema_version table: not a dreamer results database";
  const auto rows = db.query("SELECT COALESCE(MAX(version), 0) FROM schema_version").rows;
  const auto version = rows.empty() ? std::nullopt : rows[0][0].number();
  const auto known = static_cast<double>(migrations().size());
  if (version && *version <= known) return "";
  return db.file() + ": schema version " + (version ? rows[0][0].to_string() : "?") +
         " was written by a newer dreamer (this one knows up to " +
         std::to_string(migrations().size()) +
         "); reading it anyway: tables or columns added since may be missing from the output";
}

void ResultStore::write(const std::string& run_id, const std::string& checkpoint,
                        const eval::TaskResult& result) {
  Transaction tx(db_);
  // Generated text is whatever bytes the model produced: a byte-level model can emit invalid
  // UTF-8, which must not abort a run. Like Python's errors="replace", such bytes become U+FFFD
  // in the JSON columns (the raw output column keeps the bytes).
  const auto json_text = [](const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  const std::string settings = json_text(result.settings);
  Statement score(db_, R"sql(
      INSERT INTO eval_results(run_id, checkpoint, task, depth, metric, value, n, stderr, settings_json, created_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      ON CONFLICT(run_id, checkpoint, task, depth, metric) DO UPDATE SET
        value = excluded.value, n = excluded.n, stderr = excluded.stderr,
        settings_json = excluded.settings_json, created_at = excluded.created_at)sql");
  for (const auto& s : result.scores)
    score
        .bind_all(run_id, checkpoint, result.task, s.depth, s.metric, s.value, s.n, s.stderr_,
                  settings)
        .run();

  Statement sample(db_, R"sql(
      INSERT INTO eval_samples(run_id, checkpoint, task, depth, doc_index, prompt, output, details_json)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
      ON CONFLICT(run_id, checkpoint, task, depth, doc_index) DO UPDATE SET
        prompt = excluded.prompt, output = excluded.output, details_json = excluded.details_json)sql");
  for (const auto& s : result.samples)
    sample
        .bind_all(run_id, checkpoint, result.task, s.depth, s.doc_index, s.prompt, s.output,
                  json_text(s.details))
        .run();

  Statement count(db_, R"sql(
      INSERT INTO expert_counts(run_id, checkpoint, task, recurrences, site, depth, expert_id, count)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
      ON CONFLICT(run_id, checkpoint, task, recurrences, site, depth, expert_id) DO UPDATE SET
        count = excluded.count)sql");
  Statement metric(db_, R"sql(
      INSERT INTO expert_metrics(run_id, checkpoint, task, recurrences, site, depth, metric, value)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
      ON CONFLICT(run_id, checkpoint, task, recurrences, site, depth, metric) DO UPDATE SET
        value = excluded.value)sql");
  for (const auto& routing : result.routing) {
    for (const auto& c : routing.counts)
      count
          .bind_all(run_id, checkpoint, result.task, routing.depth, c.site, c.depth, c.expert_id,
                    c.count)
          .run();
    for (const auto& m : routing.metrics)
      metric
          .bind_all(run_id, checkpoint, result.task, routing.depth, m.site, m.depth, m.metric,
                    m.value)
          .run();
  }
  tx.commit();
}

namespace {
constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
}

void ResultStore::write_experiment(const std::string& name, const std::string& file,
                                   const std::string& spec_json, const std::string& reference_arm,
                                   const std::vector<ReportTask>& tasks) {
  Transaction tx(db_);
  Statement(db_, std::string(R"sql(
      INSERT INTO experiments(name, file, spec_json, reference_arm, created_at, updated_at)
      VALUES (?1, ?2, ?3, NULLIF(?4, ''), )sql") +
                     kNow + ", " + kNow + R"sql()
      ON CONFLICT(name) DO UPDATE SET file = excluded.file, spec_json = excluded.spec_json,
        reference_arm = excluded.reference_arm, updated_at = excluded.updated_at)sql")
      .bind_all(name, file, spec_json, reference_arm)
      .run();
  Statement(db_, "DELETE FROM experiment_tasks WHERE experiment = ?1").bind(1, name).run();
  Statement insert(db_,
                   "INSERT INTO experiment_tasks(experiment, task, metric, higher_is_better) "
                   "VALUES (?1, ?2, ?3, ?4)");
  for (const auto& t : tasks)
    insert.bind_all(name, t.task, t.metric, int64_t{t.higher_is_better}).run();
  tx.commit();
}

void ResultStore::add_experiment_task(const std::string& experiment, const ReportTask& task) {
  Transaction tx(db_);
  Statement(db_, R"sql(
      INSERT INTO experiment_tasks(experiment, task, metric, higher_is_better) VALUES (?1, ?2, ?3, ?4)
      ON CONFLICT(experiment, task) DO UPDATE SET metric = excluded.metric,
        higher_is_better = excluded.higher_is_better)sql")
      .bind_all(experiment, task.task, task.metric, int64_t{task.higher_is_better})
      .run();
  tx.commit();
}

void ResultStore::write_run(const RunRow& run) {
  Transaction tx(db_);
  upsert_run(run);
  tx.commit();
}

void ResultStore::upsert_run(const RunRow& run) {
  Statement(db_, R"sql(
      INSERT INTO runs(run_id, experiment, arm, seed, family, config_json, train_json, params, active_params,
                       flops_per_token, train_flops_per_token, memory_bytes, default_depth, code_version,
                       device, status, fingerprint_json, allowed_changes_json, start_id)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, NULLIF(?17, ''),
              NULLIF(?18, ''), NULLIF(?19, ''))
      ON CONFLICT(run_id) DO UPDATE SET experiment = excluded.experiment, arm = excluded.arm,
        seed = excluded.seed, family = excluded.family, config_json = excluded.config_json,
        train_json = excluded.train_json, params = excluded.params, active_params = excluded.active_params,
        flops_per_token = excluded.flops_per_token, train_flops_per_token = excluded.train_flops_per_token,
        memory_bytes = excluded.memory_bytes, default_depth = excluded.default_depth,
        code_version = excluded.code_version, device = excluded.device, status = excluded.status,
        fingerprint_json = excluded.fingerprint_json, allowed_changes_json = excluded.allowed_changes_json,
        start_id = excluded.start_id)sql")
      .bind_all(run.run_id, run.experiment, run.arm, run.seed, run.family, run.config_json,
                run.train_json, run.params, run.active_params, run.flops_per_token,
                run.train_flops_per_token, run.memory_bytes, run.default_depth, run.code_version,
                run.device, run.status, run.fingerprint_json, run.allowed_changes_json,
                run.start_id)
      .run();
}

void ResultStore::start_run(const RunRow& run, const std::optional<CheckpointRow>& first) {
  Transaction tx(db_);
  delete_run_rows(run.run_id, 0, "");
  upsert_run(run);
  Statement(db_, std::string(R"sql(
      UPDATE runs SET steps_trained = 0, tokens_trained = 0, wall_seconds = 0, status_detail = NULL,
        started_at = )sql") +
                     kNow + R"sql(, finished_at = NULL WHERE run_id = ?1)sql")
      .bind(1, run.run_id)
      .run();
  if (first) insert_checkpoint(run.run_id, *first);
  tx.commit();
}

void ResultStore::resume_run(const RunRow& run, int64_t step, const std::string& checkpoint,
                             int64_t tokens, double wall_seconds) {
  Transaction tx(db_);
  delete_run_rows(run.run_id, step, checkpoint);
  upsert_run(run);
  Statement(db_, std::string(R"sql(
      UPDATE runs SET steps_trained = ?2, tokens_trained = ?3, wall_seconds = ?4, status_detail = NULL,
        started_at = COALESCE(started_at, )sql") +
                     kNow + R"sql(), finished_at = NULL WHERE run_id = ?1)sql")
      .bind_all(run.run_id, step, tokens, wall_seconds)
      .run();
  tx.commit();
}

std::optional<StoredRun> ResultStore::read_run(const std::string& run_id) {
  Statement s(db_, R"sql(
      SELECT status, steps_trained, COALESCE(fingerprint_json, ''), COALESCE(allowed_changes_json, ''),
             COALESCE(start_id, ''), COALESCE(status_detail, '') FROM runs WHERE run_id = ?1)sql");
  s.bind(1, run_id);
  if (!s.step()) return std::nullopt;
  return StoredRun{s.column_text(0), s.column_int(1),  s.column_text(2),
                   s.column_text(3), s.column_text(4), s.column_text(5)};
}

std::set<std::string> ResultStore::evaluated_checkpoints(const std::string& run_id) {
  Statement s(db_, "SELECT name FROM checkpoints WHERE run_id = ?1 AND evaluated_at IS NOT NULL");
  s.bind(1, run_id);
  std::set<std::string> names;
  while (s.step()) names.insert(s.column_text(0));
  return names;
}

void ResultStore::mark_evaluated(const std::string& run_id, const std::string& checkpoint) {
  Transaction tx(db_);
  Statement(db_, std::string("UPDATE checkpoints SET evaluated_at = ") + kNow +
                     " WHERE run_id = ?1 AND name = ?2")
      .bind_all(run_id, checkpoint)
      .run();
  tx.commit();
}

void ResultStore::truncate_run(const std::string& run_id, int64_t keep_step,
                               const std::string& keep_checkpoint) {
  Transaction tx(db_);
  delete_run_rows(run_id, keep_step, keep_checkpoint);
  tx.commit();
}

void ResultStore::delete_run_rows(const std::string& run_id, int64_t keep_step,
                                  const std::string& keep_checkpoint) {
  Statement(db_, "DELETE FROM train_metrics WHERE run_id = ?1 AND step > ?2")
      .bind_all(run_id, keep_step)
      .run();
  Statement(db_, "DELETE FROM checkpoints WHERE run_id = ?1 AND step > ?2")
      .bind_all(run_id, keep_step)
      .run();
  // Checkpoint names sort by step ("step-000120"); "" keeps none.
  for (const char* table : {"eval_results", "eval_samples", "expert_counts", "expert_metrics"})
    Statement(db_, std::string("DELETE FROM ") + table + " WHERE run_id = ?1 AND checkpoint > ?2")
        .bind_all(run_id, keep_checkpoint)
        .run();
}

void ResultStore::write_train_metrics(const std::string& run_id,
                                      const std::vector<TrainMetricRow>& rows) {
  Transaction tx(db_);
  Statement insert(db_, R"sql(
      INSERT INTO train_metrics(run_id, step, tokens, loss, aux_loss, lr, grad_norm, tokens_per_s, memory_bytes,
                                mfu, elapsed_s)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
      ON CONFLICT(run_id, step) DO UPDATE SET tokens = excluded.tokens, loss = excluded.loss,
        aux_loss = excluded.aux_loss, lr = excluded.lr, grad_norm = excluded.grad_norm,
        tokens_per_s = excluded.tokens_per_s, memory_bytes = excluded.memory_bytes, mfu = excluded.mfu,
        elapsed_s = excluded.elapsed_s)sql");
  for (const auto& m : rows)
    insert
        .bind_all(run_id, m.step, m.tokens, m.loss, m.aux_loss, m.lr, m.grad_norm, m.tokens_per_s,
                  m.memory_bytes, m.mfu, m.elapsed_s)
        .run();
  tx.commit();
}

void ResultStore::write_checkpoint(const std::string& run_id, const std::string& name, int64_t step,
                                   int64_t tokens, const std::string& path) {
  Transaction tx(db_);
  insert_checkpoint(run_id, {name, step, tokens, path});
  tx.commit();
}

void ResultStore::insert_checkpoint(const std::string& run_id, const CheckpointRow& c) {
  Statement(db_, std::string(R"sql(
      INSERT INTO checkpoints(run_id, name, step, tokens, path, created_at) VALUES (?1, ?2, ?3, ?4, ?5, )sql") +
                     kNow + R"sql()
      ON CONFLICT(run_id, name) DO UPDATE SET step = excluded.step, tokens = excluded.tokens, path = excluded.path,
        created_at = excluded.created_at, evaluated_at = NULL)sql")
      .bind_all(run_id, c.name, c.step, c.tokens, c.path)
      .run();
}

void ResultStore::set_run_progress(const std::string& run_id, const std::string& status,
                                   int64_t steps, int64_t tokens,
                                   std::optional<double> wall_seconds, const std::string& detail) {
  Transaction tx(db_);
  Statement(db_, std::string(R"sql(
      UPDATE runs SET status = ?2, steps_trained = ?3, tokens_trained = ?4,
        wall_seconds = COALESCE(?5, wall_seconds), status_detail = NULLIF(?6, ''),
        started_at = COALESCE(started_at, )sql") +
                     kNow + R"sql(),
        finished_at = CASE WHEN ?2 = 'finished' THEN )sql" +
                     kNow + R"sql( ELSE NULL END
      WHERE run_id = ?1)sql")
      .bind_all(run_id, status, steps, tokens, wall_seconds, detail)
      .run();
  tx.commit();
}

namespace {
std::optional<LeaseHolder> lease_of(Database& db, const std::string& run_id) {
  Statement s(
      db,
      "SELECT pid, host, started_at, heartbeat_at, "
      "(julianday('now') - julianday(heartbeat_at)) * 86400 FROM run_leases WHERE run_id = ?1");
  s.bind(1, run_id);
  if (!s.step()) return std::nullopt;
  return LeaseHolder{s.column_int(0), s.column_text(1), s.column_text(2), s.column_text(3),
                     s.column_double(4)};
}
}  // namespace

std::optional<LeaseHolder> ResultStore::read_lease(const std::string& run_id) {
  return lease_of(db_, run_id);
}

std::optional<LeaseHolder> ResultStore::acquire_lease(
    const std::string& run_id, int64_t pid, const std::string& host,
    const std::function<bool(const LeaseHolder&)>& stale) {
  Transaction tx(db_);  // BEGIN IMMEDIATE: no other writer between the read and the insert
  if (auto holder = lease_of(db_, run_id);
      holder && !(holder->pid == pid && holder->host == host) && !stale(*holder))
    return holder;
  Statement(db_, std::string(R"sql(
      INSERT INTO run_leases(run_id, pid, host, started_at, heartbeat_at) VALUES (?1, ?2, ?3, )sql") +
                     kNow + ", " + kNow + R"sql()
      ON CONFLICT(run_id) DO UPDATE SET pid = excluded.pid, host = excluded.host, started_at = excluded.started_at,
        heartbeat_at = excluded.heartbeat_at)sql")
      .bind_all(run_id, pid, host)
      .run();
  tx.commit();
  return std::nullopt;
}

void ResultStore::heartbeat_lease(const std::string& run_id, int64_t pid, const std::string& host) {
  Transaction tx(db_);
  Statement(db_, std::string("UPDATE run_leases SET heartbeat_at = ") + kNow +
                     " WHERE run_id = ?1 AND pid = ?2 AND host = ?3")
      .bind_all(run_id, pid, host)
      .run();
  tx.commit();
}

void ResultStore::release_lease(const std::string& run_id, int64_t pid, const std::string& host) {
  Transaction tx(db_);
  Statement(db_, "DELETE FROM run_leases WHERE run_id = ?1 AND pid = ?2 AND host = ?3")
      .bind_all(run_id, pid, host)
      .run();
  tx.commit();
}

}  // namespace dreamer::results
