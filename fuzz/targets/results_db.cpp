// A results database file of arbitrary bytes, opened the ways the CLI opens one: read-only by
// `dreamer query` (every named query, in every output format) and `dreamer report` (no
// plots), then read-write by ResultStore (open, migrate), as `dreamer run`/`eval` would.
#include "fuzz/fuzz_target.h"
#include "results/query.h"
#include "results/query_format.h"
#include "results/report.h"
#include "results/store.h"

namespace {

void read_and_write(const std::string& file) {
  using namespace dreamer;
  fuzz::expect_only_input_errors([&] {
    const results::ReadOnlyDatabase db(file);
    results::schema_warning(db);
    for (const auto& q : results::named_queries())
      fuzz::expect_only_input_errors([&] {
        const auto result = db.query(q.sql);
        results::format_table(result);
        results::format_csv(result);
        results::format_json(result);
      });
  });
  fuzz::expect_only_input_errors([&] {
    results::ReportOptions options;
    options.db = file;
    options.out_dir = fuzz::scratch_dir() + "/report";
    options.plots = false;
    results::write_report(options);
  });
  fuzz::expect_only_input_errors([&] { results::ResultStore store(file); });
}

}  // namespace

DREAMER_FUZZ_TARGET(results_db) {
  using namespace dreamer;
  // No journal of an earlier input may leak into this one.
  fuzz::remove_scratch_file("results.db-wal");
  fuzz::remove_scratch_file("results.db-shm");
  fuzz::remove_scratch_file("results.db-journal");
  read_and_write(fuzz::write_scratch_file("results.db", data, size));
}
