#pragma once
// The results database (SQLite, WAL mode). docs/EVAL.md documents the schema. Schema changes
// are appended to migrations() — never edited — and applied in order on open; the
// schema_version table holds how many have run. Every logical write is one transaction and an
// upsert on the table's natural key, so re-running an evaluation replaces its rows.
#include <string>
#include <vector>

#include "eval/runner.h"
#include "results/sqlite.h"

namespace dreamer::results {

// SQL of every schema version, in order (index i takes the schema from version i to i + 1).
const std::vector<std::string>& migrations();

class ResultStore {
 public:
  explicit ResultStore(const std::string& file);
  int64_t schema_version();
  // Scores, samples, expert counts and metrics of one task evaluation: one transaction.
  void write(const std::string& run_id, const std::string& checkpoint,
             const eval::TaskResult& result);
  Database& db() { return db_; }

 private:
  void migrate();
  Database db_;
};

}  // namespace dreamer::results
