// The report and the named queries over rows of any content: the input is SQL run against a
// fresh database of the current schema (so it can store NULLs, text in number columns, NaN,
// negative counts, rows that reference nothing), then the database is reported on and
// queried. SQL errors in the input are not findings; only what our readers do with the rows.
#include <sqlite3.h>

#include <fstream>
#include <iterator>

#include "fuzz/fuzz_target.h"
#include "results/query.h"
#include "results/query_format.h"
#include "results/report.h"
#include "results/store.h"

namespace {

// The input may change rows, not the schema or anything outside the file (no ATTACH, VACUUM
// INTO, PRAGMA); it may not run forever or build huge values either.
int allow_row_changes(void*, int action, const char*, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
    case SQLITE_READ:
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
  }
}

int stop_long_scripts(void* steps) {
  return ++*static_cast<int*>(steps) > 1000;  // progress calls: 1000 x 1000 VM instructions
}

// The bytes of an empty current-schema database, made once per process.
const std::string& empty_database() {
  static const std::string bytes = [] {
    const std::string file = dreamer::fuzz::scratch_dir() + "/template.db";
    { dreamer::results::ResultStore store(file); }  // closing checkpoints the WAL into the file
    std::ifstream in(file, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }();
  return bytes;
}

}  // namespace

DREAMER_FUZZ_TARGET(results_rows) {
  using namespace dreamer;
  const auto& empty = empty_database();
  fuzz::remove_scratch_file("rows.db-wal");
  fuzz::remove_scratch_file("rows.db-shm");
  const auto file = fuzz::write_scratch_file(
      "rows.db", reinterpret_cast<const uint8_t*>(empty.data()), empty.size());
  {
    sqlite3* db = nullptr;
    sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
    const std::string sql(reinterpret_cast<const char*>(data), size);
    sqlite3_exec(db, "PRAGMA synchronous=OFF", nullptr, nullptr, nullptr);
    int steps = 0;
    sqlite3_set_authorizer(db, allow_row_changes, nullptr);
    sqlite3_progress_handler(db, 1000, stop_long_scripts, &steps);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 100000);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);  // errors: the input's problem
    sqlite3_close(db);
  }
  const results::ReadOnlyDatabase db(file);
  for (const auto& q : results::named_queries())
    fuzz::expect_only_input_errors([&] { results::format_table(db.query(q.sql)); });
  results::ReportOptions options;
  options.db = file;
  options.out_dir = fuzz::scratch_dir() + "/report";
  options.plots = false;
  results::write_report(options);
}
