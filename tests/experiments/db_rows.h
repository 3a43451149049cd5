#pragma once
// What two result databases must agree on after the same runs: every row a run writes, with
// the columns that measure time (timestamps, wall and elapsed seconds, tokens/s, peak memory),
// the run's start id and the checkpoint paths left out.
#include <string>
#include <utility>
#include <vector>

#include "results/sqlite.h"

namespace dreamer::testing {

inline std::string result_rows(const std::string& db) {
  const std::vector<std::pair<const char*, int>> queries = {
      {"SELECT run_id, experiment, arm, seed, family, status, steps_trained, tokens_trained, "
       "config_json, "
       "train_json, fingerprint_json, allowed_changes_json, status_detail FROM runs ORDER BY "
       "run_id",
       13},
      {"SELECT run_id, step, tokens, loss, aux_loss, lr, grad_norm FROM train_metrics ORDER BY "
       "run_id, step",
       7},
      {"SELECT run_id, name, step, tokens, evaluated_at IS NOT NULL FROM checkpoints ORDER BY "
       "run_id, name",
       5},
      {"SELECT run_id, checkpoint, task, depth, metric, value, n, stderr, settings_json FROM "
       "eval_results "
       "ORDER BY run_id, checkpoint, task, depth, metric",
       9},
      {"SELECT run_id, checkpoint, task, depth, doc_index, output FROM eval_samples "
       "ORDER BY run_id, checkpoint, task, depth, doc_index",
       6},
      {"SELECT run_id, checkpoint, task, recurrences, site, depth, expert_id, count FROM "
       "expert_counts "
       "ORDER BY run_id, checkpoint, task, recurrences, site, depth, expert_id",
       8},
      {"SELECT run_id, checkpoint, task, recurrences, site, depth, metric, value FROM "
       "expert_metrics "
       "ORDER BY run_id, checkpoint, task, recurrences, site, depth, metric",
       8},
      {"SELECT experiment, task, metric, higher_is_better FROM experiment_tasks ORDER BY "
       "experiment, task",
       4},
      {"SELECT COUNT(*) FROM run_leases", 1}};
  results::Database d(db);
  std::string out;
  for (const auto& [sql, columns] : queries) {
    out += std::string("-- ") + sql + "\n";
    results::Statement s(d, sql);
    while (s.step()) {
      for (int c = 0; c < columns; ++c)
        out += (s.column_is_null(c) ? std::string("NULL") : s.column_text(c)) + "|";
      out += "\n";
    }
  }
  return out;
}

}  // namespace dreamer::testing
