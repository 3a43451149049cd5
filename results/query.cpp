#include "results/query.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "results/stat_queries.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::results {

namespace {

struct Finalize {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, Finalize>;

Cell read_cell(sqlite3_stmt* stmt, int column) {
  Cell cell;
  switch (sqlite3_column_type(stmt, column)) {
    case SQLITE_NULL:
      break;
    case SQLITE_INTEGER:
      cell.type = Cell::Type::kInteger;
      cell.integer = sqlite3_column_int64(stmt, column);
      break;
    case SQLITE_FLOAT:
      cell.type = Cell::Type::kReal;
      cell.real = sqlite3_column_double(stmt, column);
      break;
    default: {  // TEXT, BLOB
      cell.type = Cell::Type::kText;
      const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt, column));
      cell.text.assign(bytes ? bytes : "", static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
    }
  }
  return cell;
}

}  // namespace

std::optional<double> Cell::number() const {
  if (type == Type::kInteger) return static_cast<double>(integer);
  if (type == Type::kReal) return real;
  return std::nullopt;
}

std::string Cell::to_string() const {
  switch (type) {
    case Type::kNull:
      return "";
    case Type::kInteger:
      return std::to_string(integer);
    case Type::kReal:
      if (!std::isfinite(real)) return std::isnan(real) ? "nan" : real > 0 ? "inf" : "-inf";
      return nlohmann::json(real).dump();  // shortest text that reads back as the same double
    case Type::kText:
      return text;
  }
  return "";
}

ReadOnlyDatabase::ReadOnlyDatabase(const std::string& file) : file_(file) {
  if (!fs::exists(file))
    throw InputError(file, "no such file (expected an SQLite results database)");
  if (fs::is_directory(file))
    throw InputError(file, "is a directory (expected an SQLite results database)");
  sqlite3* handle = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr);
  db_.reset(handle);
  if (rc != SQLITE_OK)
    throw InputError(file, std::string("cannot open database: ") +
                               (handle ? sqlite3_errmsg(handle) : "out of memory"));
  sqlite3_busy_timeout(handle, 10000);  // a run may be writing the file right now
  // sqlite opens any file lazily; reading the schema is what tells a database from other bytes.
  if (sqlite3_exec(handle, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) !=
      SQLITE_OK)
    throw InputError(file,
                     std::string("not a readable SQLite database: ") + sqlite3_errmsg(handle));
}

QueryResult ReadOnlyDatabase::query(const std::string& sql,
                                    const std::vector<std::string>& params) const {
  sqlite3* db = db_.get();
  auto fail = [&](const std::string& what) -> InputError {
    return InputError(file_, what + ": " + sqlite3_errmsg(db));
  };
  const char* tail = nullptr;
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, &tail) != SQLITE_OK)
    throw fail("SQL error");
  StatementPtr stmt(raw);
  if (!stmt) throw InputError(file_, "empty query");
  // Anything after the first statement but whitespace and comments is a second statement.
  sqlite3_stmt* next = nullptr;
  const int tail_rc = sqlite3_prepare_v2(db, tail, -1, &next, nullptr);
  StatementPtr next_owner(next);
  if (tail_rc != SQLITE_OK || next)
    throw InputError(file_, "expected one SQL statement, got more: \"" + std::string(tail) + "\"");

  for (size_t i = 0; i < params.size(); ++i)
    if (sqlite3_bind_text(stmt.get(), static_cast<int>(i + 1), params[i].c_str(),
                          static_cast<int>(params[i].size()), SQLITE_TRANSIENT) != SQLITE_OK)
      throw fail("cannot bind parameter " + std::to_string(i + 1));

  QueryResult result;
  const int n_columns = sqlite3_column_count(stmt.get());
  for (int c = 0; c < n_columns; ++c)
    result.columns.emplace_back(sqlite3_column_name(stmt.get(), c));
  for (;;) {
    const int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) throw fail("SQL error");
    std::vector<Cell> row;
    row.reserve(n_columns);
    for (int c = 0; c < n_columns; ++c) row.push_back(read_cell(stmt.get(), c));
    result.rows.push_back(std::move(row));
  }
  return result;
}

bool ReadOnlyDatabase::has_table(const std::string& name) const {
  return !query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", {name})
              .rows.empty();
}

const std::vector<NamedQuery>& named_queries() {
  // with_intervals (results/stat_queries.h) reads its columns by position.
  static const std::string kEvalsSql =
      R"sql(SELECT e.run_id, e.checkpoint, c.tokens, e.task, e.depth, e.metric, e.value, e.stderr, e.n
FROM eval_results e
LEFT JOIN checkpoints c ON c.run_id = e.run_id AND c.name = e.checkpoint
ORDER BY e.run_id, c.tokens, e.checkpoint, e.task, e.depth, e.metric)sql";
  static const std::vector<NamedQuery> kQueries = {
      {"experiments", "experiments, their reference arm and tasks (task:metric)",
       R"sql(SELECT e.name, e.reference_arm, e.file,
       (SELECT group_concat(t.task || ':' || t.metric, ' ') FROM experiment_tasks t
        WHERE t.experiment = e.name) AS tasks,
       (SELECT count(*) FROM runs r WHERE r.experiment = e.name) AS runs, e.updated_at
FROM experiments e ORDER BY e.name)sql",
       nullptr},
      {"runs", "one row per training run: costs, status, progress",
       R"sql(SELECT run_id, experiment, arm, seed, family, params, flops_per_token, memory_bytes,
       status, tokens_trained, wall_seconds
FROM runs ORDER BY experiment, arm, seed)sql",
       nullptr},
      {"evals",
       "every eval score with the tokens its checkpoint was trained on and its 95% interval",
       kEvalsSql, [](const ReadOnlyDatabase& db) { return with_intervals(db, kEvalsSql); }},
      {"paired",
       "each arm against its experiment's reference arm per task: paired bootstrap and McNemar", "",
       [](const ReadOnlyDatabase& db) { return paired_comparisons(db); }},
      {"diversity", "expert-selection diversity metrics with their experiment and arm",
       R"sql(SELECT m.run_id, r.experiment, r.arm, r.seed, m.checkpoint, m.task, m.recurrences,
       m.site, m.depth, m.metric, m.value
FROM expert_metrics m
LEFT JOIN runs r ON r.run_id = m.run_id
ORDER BY r.experiment, r.arm, r.seed, m.run_id, m.checkpoint, m.task, m.recurrences, m.site,
         m.depth, m.metric)sql",
       nullptr},
      {"samples", "per-sample records as lm-eval's samples files (eval --samples; --format jsonl)",
       R"sql(SELECT json_set(r.value, '$.dreamer',
         json_object('run_id', s.run_id, 'checkpoint', s.checkpoint, 'task', s.task,
                     'depth', s.depth)) AS sample_json
FROM eval_samples s, json_each(s.details_json, '$.records') r
ORDER BY s.run_id, s.checkpoint, s.task, s.depth, s.doc_index, r.key)sql",
       nullptr},
      {"checkpoints", "saved checkpoints: step and tokens trained",
       R"sql(SELECT run_id, name, step, tokens, path, created_at
FROM checkpoints ORDER BY run_id, tokens, name)sql",
       nullptr},
      {"train", "training metrics per logged step",
       R"sql(SELECT run_id, step, tokens, loss, aux_loss, lr, grad_norm, tokens_per_s, memory_bytes,
       mfu, elapsed_s
FROM train_metrics ORDER BY run_id, step)sql",
       nullptr},
  };
  return kQueries;
}

QueryResult run_query(const ReadOnlyDatabase& db, const std::string& name_or_sql) {
  for (const auto& q : named_queries())
    if (q.name == name_or_sql) return q.compute ? q.compute(db) : db.query(q.sql);
  return db.query(name_or_sql);
}

std::string resolve_query(const std::string& name_or_sql) {
  for (const auto& q : named_queries())
    if (q.name == name_or_sql) return q.sql;
  return name_or_sql;
}

}  // namespace dreamer::results
