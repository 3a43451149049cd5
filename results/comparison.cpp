#include "results/comparison.h"

#include <algorithm>
#include <map>

namespace dreamer::results {

Measurement measurement_of(const EvalRecord& row, size_t item_set) {
  return {row.value, row.stderr_, item_values(row.items), item_set, item_weights(row.items)};
}

SeedStat seed_stat(const std::vector<SeedRow>& rows) {
  SeedStat s;
  if (rows.empty()) return s;
  std::vector<Unit> units;
  for (const auto& r : rows) {
    units.push_back({measurement_of(*r.row)});
    s.mean += r.row->value;
  }
  s.seeds = static_cast<int>(rows.size());
  s.mean /= static_cast<double>(rows.size());
  s.items = rows.front().row->n;
  s.interval = mean_interval(units);
  return s;
}

std::optional<PairedComparison> paired_comparison(const std::vector<SeedRow>& a,
                                                  const std::vector<SeedRow>& b) {
  std::map<int64_t, const EvalRecord*> b_of_seed;
  for (const auto& r : b) b_of_seed[r.seed] = r.row;
  PairedComparison c;
  std::vector<Unit> units;
  for (const auto& r : a) {
    auto it = b_of_seed.find(r.seed);
    if (it == b_of_seed.end()) continue;
    const EvalRecord& x = *r.row;
    const EvalRecord& y = *it->second;
    if (x.items.empty() || !same_items(x.items, y.items)) return std::nullopt;
    units.push_back({measurement_of(x), measurement_of(y)});
    c.difference += x.value - y.value;
    for (const auto* items : {&x.items, &y.items})
      for (const auto& item : *items)
        c.binary = c.binary && (item.value == 0.0 || item.value == 1.0);
    for (size_t i = 0; i < x.items.size(); ++i) {
      c.a_only += x.items[i].value == 1.0 && y.items[i].value == 0.0;
      c.b_only += x.items[i].value == 0.0 && y.items[i].value == 1.0;
    }
  }
  if (units.empty()) return std::nullopt;
  c.seeds = static_cast<int>(units.size());
  c.items = static_cast<int64_t>(units.front()[0].items.size());
  c.difference /= static_cast<double>(units.size());
  const auto replicates = resample(units);
  std::vector<double> differences;
  for (const auto& v : replicates->values) differences.push_back(v[0] - v[1]);
  if (c.binary) {
    c.p_value = mcnemar_exact_p(c.a_only, c.b_only);
  } else {
    c.a_only = c.b_only = 0;
    double below = 0, above = 0;
    for (double d : differences) below += d <= 0, above += d >= 0;
    const double n = static_cast<double>(differences.size());
    c.p_value = std::min(1.0, 2.0 * std::min(below, above) / n);
  }
  c.interval = percentile_interval(std::move(differences));
  return c;
}

Comparison compare(const std::vector<SeedRow>& a, const std::vector<SeedRow>& b,
                   bool higher_is_better) {
  Comparison c;
  c.a = seed_stat(a);
  c.b = seed_stat(b);
  c.paired = paired_comparison(a, b);
  const double sign = higher_is_better ? 1.0 : -1.0;
  if (c.paired) {
    c.significant = c.paired->p_value < kSignificance && !c.paired->interval.contains(0.0);
    c.a_better = c.significant && sign * c.paired->difference > 0;
  } else if (c.a.interval && c.b.interval) {
    c.significant =
        c.a.interval->low > c.b.interval->high || c.b.interval->low > c.a.interval->high;
    c.a_better = c.significant && sign * (c.a.mean - c.b.mean) > 0;
  }
  return c;
}

}  // namespace dreamer::results
