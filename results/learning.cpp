#include "results/learning.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "results/query.h"

namespace dreamer::results {

std::map<std::string, double> majority_rates(const ReadOnlyDatabase& db,
                                             const ExperimentData& data) {
  std::map<std::string, double> out;
  for (const auto& task : data.tasks) {
    // Every run of an experiment is scored on the same items: one evaluation is enough.
    const auto rows = db.query(R"sql(
        WITH one AS (
          SELECT s.run_id, s.checkpoint, s.depth FROM eval_samples s
          JOIN runs r ON r.run_id = s.run_id
          WHERE r.experiment = ?1 AND s.task = ?2 LIMIT 1)
        SELECT s.details_json FROM eval_samples s JOIN one o
          ON s.run_id = o.run_id AND s.checkpoint = o.checkpoint AND s.depth = o.depth
        WHERE s.task = ?2)sql",
                               {data.name, task.task});
    std::map<std::string, int64_t> counts;
    int64_t n = 0;
    for (const auto& row : rows.rows) {
      const auto details = nlohmann::json::parse(row[0].to_string(), nullptr, false);
      if (!details.is_object() || !details.contains("reference")) continue;
      const auto& ref = details["reference"];
      ++counts[ref.is_string() ? ref.get<std::string>() : ref.dump()];
      ++n;
    }
    if (n == 0 || n != static_cast<int64_t>(rows.rows.size())) continue;
    int64_t top = 0;
    for (const auto& [answer, c] : counts) top = std::max(top, c);
    out[task.task] = static_cast<double>(top) / static_cast<double>(n);
  }
  return out;
}

std::vector<LearningCheck> check_learning(const ExperimentData& data,
                                          const std::map<std::string, double>& majority) {
  std::vector<LearningCheck> out;
  for (const auto& run : data.runs)
    for (const auto& task : data.tasks) {
      if (!task.higher_is_better) continue;
      const EvalRecord *first = nullptr, *last = nullptr;
      for (const auto& e : data.evals) {
        if (e.run_id != run.run_id || e.task != task.task || e.depth != run.default_depth) continue;
        if (!first || earlier_checkpoint(e.checkpoint, first->checkpoint)) first = &e;
        if (!last || earlier_checkpoint(last->checkpoint, e.checkpoint)) last = &e;
      }
      if (!last) continue;
      LearningCheck c;
      c.arm = run.arm, c.run_id = run.run_id, c.task = task.task;
      c.seed = run.seed, c.depth = run.default_depth;
      c.first = first->value, c.last = last->value;
      c.first_tokens = first->checkpoint.tokens, c.last_tokens = last->checkpoint.tokens;
      c.last_stderr = last->stderr_;
      if (auto it = majority.find(task.task); it != majority.end()) c.majority = it->second;
      if (first != last && c.last_stderr) {
        const double margin = 3 * *c.last_stderr;
        // Strictly above: a value of 0 or 1 has a zero stderr, and 0 -> 0 is no learning.
        c.learned = c.last - c.first > margin && (!c.majority || c.last - *c.majority > margin);
      }
      out.push_back(std::move(c));
    }
  return out;
}

}  // namespace dreamer::results
