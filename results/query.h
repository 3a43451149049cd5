#pragma once
// Read-only SQL over a results database: what `dreamer query` and `dreamer report` read
// through. The connection is opened with SQLITE_OPEN_READONLY, so no query (named, typed by a
// user, or built by the report) can change the file. docs/RESULTS.md lists the named queries.
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dreamer::results {

// One value as SQLite returned it; the type decides alignment, quoting and JSON type.
struct Cell {
  enum class Type { kNull, kInteger, kReal, kText };
  Type type = Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string text;  // TEXT (and BLOB bytes)

  bool is_null() const { return type == Type::kNull; }
  bool is_number() const { return type == Type::kInteger || type == Type::kReal; }
  // INTEGER or REAL as a double; none for NULL and text.
  std::optional<double> number() const;
  // The text a user would type: integers exactly, reals in shortest round-trip form, "" for NULL.
  std::string to_string() const;
};

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

class ReadOnlyDatabase {
 public:
  // InputError naming `file` when it does not exist or is not an SQLite database.
  explicit ReadOnlyDatabase(const std::string& file);
  // Runs one SQL statement, binding `params` (as text) to ?1, ?2, ...; an SQL error, a write
  // or more than one statement is an InputError naming the file with sqlite's message.
  QueryResult query(const std::string& sql, const std::vector<std::string>& params = {}) const;
  bool has_table(const std::string& name) const;
  const std::string& file() const { return file_; }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
  };
  std::string file_;
  std::unique_ptr<sqlite3, Close> db_;
};

struct NamedQuery {
  std::string name;
  std::string description;
  std::string sql;  // the rows (for a computed query, the rows it starts from; may be empty)
  // Rows computed in C++ (confidence intervals, paired tests: results/stat_queries.h); null
  // for plain SQL.
  std::function<QueryResult(const ReadOnlyDatabase&)> compute;
};

// Shortcuts for the common questions (runs, evals, paired, diversity, checkpoints, train, ...).
const std::vector<NamedQuery>& named_queries();

// The named query's SQL when `name_or_sql` is one of their names; otherwise the text itself.
std::string resolve_query(const std::string& name_or_sql);

// What `dreamer query` prints: a named query's rows (computed ones included), or else the
// text run as one SQL statement.
QueryResult run_query(const ReadOnlyDatabase& db, const std::string& name_or_sql);

}  // namespace dreamer::results
