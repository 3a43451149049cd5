#include "results/stat_queries.h"

#include "results/analysis.h"
#include "results/item_outcomes.h"

namespace dreamer::results {

namespace {

Cell real(double x) {
  Cell c;
  c.type = Cell::Type::kReal;
  c.real = x;
  return c;
}

Cell integer(int64_t x) {
  Cell c;
  c.type = Cell::Type::kInteger;
  c.integer = x;
  return c;
}

Cell text(const std::string& x) {
  Cell c;
  c.type = Cell::Type::kText;
  c.text = x;
  return c;
}

std::string method_name(IntervalMethod m) {
  return m == IntervalMethod::kBootstrap ? "bootstrap" : "normal";
}

}  // namespace

QueryResult with_intervals(const ReadOnlyDatabase& db, const std::string& evals_sql) {
  QueryResult result = db.query(evals_sql);
  for (const char* column : {"ci_low", "ci_high", "ci_method"}) result.columns.push_back(column);
  for (auto& row : result.rows) {
    const auto value = row[6].number();
    const auto stderr_ = row[7].number();
    const int64_t n = row[8].type == Cell::Type::kInteger ? row[8].integer : 0;
    std::optional<Interval> interval;
    if (value) {
      const auto items = load_items(db, row[0].to_string(), row[1].to_string(), row[3].to_string(),
                                    row[4].integer, row[5].to_string(), n);
      Measurement m{*value, stderr_, item_values(items), 0, item_weights(items)};
      interval = mean_interval({Unit{m}});
    }
    row.push_back(interval ? real(interval->low) : Cell{});
    row.push_back(interval ? real(interval->high) : Cell{});
    row.push_back(interval ? text(method_name(interval->method)) : Cell{});
  }
  return result;
}

QueryResult paired_comparisons(const ReadOnlyDatabase& db) {
  QueryResult result;
  result.columns = {"experiment", "task",      "metric",    "arm",        "reference",  "seeds",
                    "items",      "arm_value", "ref_value", "difference", "ci_low",     "ci_high",
                    "arm_only",   "ref_only",  "p_value",   "method",     "significant"};
  for (const auto& name : experiment_names(db)) {
    const auto analysis = analyse(load_experiment(db, name));
    if (!analysis.reference_has_runs) continue;
    const ArmSummary& reference = analysis.arms.front();
    for (const auto& arm : analysis.arms)
      for (const auto& task : analysis.tasks) {
        auto it = arm.against_reference.find(task.task);
        if (&arm == &reference || it == arm.against_reference.end()) continue;
        const Comparison& c = it->second;
        std::vector<Cell> row = {text(name), text(task.task), text(task.metric), text(arm.arm),
                                 text(reference.arm)};
        if (const auto& p = c.paired) {
          row.insert(row.end(),
                     {integer(p->seeds), integer(p->items), real(c.a.mean), real(c.b.mean),
                      real(p->difference), real(p->interval.low), real(p->interval.high),
                      integer(p->a_only), integer(p->b_only), real(p->p_value), text("paired")});
        } else {
          row.insert(row.end(), {integer(std::max(c.a.seeds, c.b.seeds)), integer(c.a.items),
                                 real(c.a.mean), real(c.b.mean), real(c.a.mean - c.b.mean), Cell{},
                                 Cell{}, Cell{}, Cell{}, Cell{}, text("unpaired")});
        }
        row.push_back(integer(c.significant ? 1 : 0));
        result.rows.push_back(std::move(row));
      }
  }
  return result;
}

}  // namespace dreamer::results
