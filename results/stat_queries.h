#pragma once
// The named queries whose rows are computed rather than selected: eval scores with their 95%
// intervals, and the paired comparisons the report shows. docs/RESULTS.md lists their columns.
#include <string>

#include "results/query.h"

namespace dreamer::results {

// `evals_sql`'s rows (run_id, checkpoint, tokens, task, depth, metric, value, stderr, n, in
// that order) with ci_low, ci_high and ci_method added: a bootstrap over the row's items when
// eval_samples holds all n of them, else a normal interval from stderr, else NULLs.
QueryResult with_intervals(const ReadOnlyDatabase& db, const std::string& evals_sql);

// One row per experiment, non-reference arm and task: the comparison of the report's "Paired
// comparison against the reference" table.
QueryResult paired_comparisons(const ReadOnlyDatabase& db);

}  // namespace dreamer::results
