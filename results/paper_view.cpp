#include "results/paper_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "results/experiment_data.h"
#include "util/errors.h"

namespace dreamer::results {

namespace {

std::string fixed(double v, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// The paper_<claim> experiments of `analyses`, paper-scale first, then the small variant.
std::vector<const ExperimentAnalysis*> claim_experiments(
    const std::vector<ExperimentAnalysis>& analyses, const std::string& claim) {
  std::vector<const ExperimentAnalysis*> out;
  for (const auto& a : analyses)
    if (starts_with(a.name, "paper_" + claim)) out.push_back(&a);
  std::sort(out.begin(), out.end(), [](auto* x, auto* y) {
    const bool xs = x->name.find("_small") != std::string::npos,
               ys = y->name.find("_small") != std::string::npos;
    return xs != ys ? ys : x->name < y->name;
  });
  return out;
}

bool is_dreamer(const ArmSummary& arm) {
  return arm.family == "dreamer";
}

std::optional<double> final_mean(const ArmSummary& arm, const std::string& task) {
  const auto it = arm.final_value.find(task);
  if (it == arm.final_value.end() || it->second.seeds == 0) return std::nullopt;
  return it->second.mean;
}

// The mean over the arm's tasks whose names `select` accepts (none if it has none of them).
std::optional<double> mean_of(const ArmSummary& arm,
                              const std::function<bool(const std::string&)>& select) {
  double sum = 0;
  int n = 0;
  for (const auto& [task, stat] : arm.final_value)
    if (select(task) && stat.seeds > 0) sum += stat.mean, ++n;
  if (n == 0) return std::nullopt;
  return sum / n;
}

struct Measured {
  std::optional<double> value;
  std::string where;  // experiment/arm, task
};

// The best Dreamer-family arm on `score` across the claim's experiments (the paper's figures
// are each benchmark's best row [INFER, spec s6.1]).
Measured best_dreamer(const std::vector<const ExperimentAnalysis*>& experiments,
                      const std::function<std::optional<double>(const ArmSummary&)>& score,
                      bool higher) {
  Measured best;
  for (const auto* e : experiments) {
    for (const auto& arm : e->arms) {
      if (!is_dreamer(arm)) continue;
      const auto v = score(arm);
      if (!v) continue;
      if (!best.value || (higher ? *v > *best.value : *v < *best.value))
        best = {v, e->name + "/" + arm.arm};
    }
    if (best.value) break;  // paper-scale results, when there are any, before the small variant's
  }
  return best;
}

std::vector<std::string> row(const std::string& claim, const std::string& paper,
                             const std::string& tag, const Measured& m, const std::string& shown,
                             const std::string& ratio) {
  return {claim,
          paper,
          tag,
          m.value ? shown : "not run",
          m.value ? m.where : "—",
          m.value ? ratio : "—"};
}

std::vector<std::string> accuracy_row(
    const std::vector<ExperimentAnalysis>& analyses, const std::string& claim, double paper,
    const std::function<std::optional<double>(const ArmSummary&)>& score) {
  const auto m = best_dreamer(claim_experiments(analyses, "main_table"), score, true);
  const double pct = m.value.value_or(0) * 100;
  return row(claim, fixed(paper, 1), "[SUMMARY-H] s6.1", m, fixed(pct, 1), fixed(pct / paper, 2));
}

}  // namespace

Table paper_table(const std::vector<ExperimentAnalysis>& analyses) {
  Table t;
  t.header = {"claim", "paper", "evidence", "measured", "from", "measured / paper"};
  auto task = [](const std::string& name) {
    return [name](const ArmSummary& a) { return final_mean(a, name); };
  };
  auto mmlu = [](const ArmSummary& a) {
    return mean_of(a, [](const std::string& n) { return starts_with(n, "mmlu_"); });
  };
  auto average4 = [&](const ArmSummary& a) -> std::optional<double> {
    const auto g = final_mean(a, "gsm8k"), m = final_mean(a, "math_lenient"), u = mmlu(a),
               q = final_mean(a, "mathqa");
    if (!g || !m || !u || !q) return std::nullopt;
    return (*g + *m + *u + *q) / 4;
  };
  t.rows.push_back(
      accuracy_row(analyses, "GSM8K accuracy, % (best Dreamer arm)", 56.3, task("gsm8k")));
  t.rows.push_back(accuracy_row(analyses, "MATH accuracy, %", 54.5, task("math_lenient")));
  t.rows.push_back(
      accuracy_row(analyses, "MMLU-Math accuracy, % (mean of the mmlu_* tasks)", 50.0, mmlu));
  t.rows.push_back(accuracy_row(analyses, "MathQA accuracy, %", 50.8, task("mathqa")));
  t.rows.push_back(accuracy_row(analyses, "average of the four, %", 51.4, average4));
  {
    // Held-out perplexity on the corpus; the small variants' stand-in is GSM8K test. A ratio
    // only for a perplexity metric: bits per byte is another unit, and no conversion exists
    // without the paper's tokenizer statistics.
    std::string metric;
    auto ppl = [&](const std::string& name) -> std::optional<std::string> {
      for (const auto* e : claim_experiments(analyses, "main_table"))
        for (const auto& t : e->tasks)
          if (t.task == name) return t.metric;
      return std::nullopt;
    };
    const bool heldout = ppl("heldout_ppl").has_value();
    const std::string task_name = heldout ? "heldout_ppl" : "gsm8k_ppl";
    metric = ppl(task_name).value_or("");
    const auto m = best_dreamer(claim_experiments(analyses, "main_table"), task(task_name), false);
    const bool comparable = metric.find("perplexity") != std::string::npos;
    t.rows.push_back(row("held-out perplexity (lower is better; the task's own metric)", "5.9",
                         "[SUMMARY-H] s6.1", m,
                         fixed(m.value.value_or(0), 2) + " " + metric + " (" + task_name + ")",
                         comparable ? fixed(m.value.value_or(0) / 5.9, 2)
                                    : "not comparable (" + metric + " is not a perplexity)"));
  }
  {
    // C7: tokens to reach the matched baseline's accuracy; the token-efficiency experiments use
    // the baseline as reference arm, so DR+DA+EA's ratio is the paper's "x fewer tokens". A
    // ratio counts only when its 95% interval excludes 1 (docs/RESULTS.md); the row says so.
    Measured m;
    double low = 0, high = 0;
    bool upper_bound = false;
    int significant = 0, with_interval = 0;
    for (const auto* e : claim_experiments(analyses, "token_efficiency")) {
      const auto* arm = find_arm(*e, "DR+DA+EA");
      if (!arm) continue;
      for (const auto& [task, ratio] : arm->vs_reference) {
        if (!ratio) continue;
        low = m.value ? std::min(low, ratio->ratio) : ratio->ratio;
        high = m.value ? std::max(high, ratio->ratio) : ratio->ratio;
        upper_bound = upper_bound || !ratio->reached;
        if (ratio->interval) {
          ++with_interval;
          if (!ratio->interval->contains(1.0)) ++significant;
        }
        m = {low, e->name + "/DR+DA+EA vs " + e->reference_arm.value_or("?")};
      }
      if (m.value) break;
    }
    std::string shown = fixed(low, 2) + "-" + fixed(high, 2) + "x" +
                        (upper_bound ? " (some not reached: upper bounds)" : "");
    if (with_interval > 0)
      shown += "; " + std::to_string(significant) + " of " + std::to_string(with_interval) +
               " tasks' 95% intervals exclude 1";
    const bool no_difference = with_interval > 0 && significant == 0;
    t.rows.push_back(row(
        "fewer training tokens for the same accuracy as matched SOTA (range over tasks)", "2-8x",
        "[PAPER] C7", m, shown,
        no_difference ? "no difference detected" : fixed(low / 2, 2) + "-" + fixed(high / 8, 2)));
  }
  {
    // C8: DR+DA+EA's average accuracy against the best baseline of twice its size.
    Measured m;
    double ratio = 0;
    for (const auto* e : claim_experiments(analyses, "vs_2x_larger")) {
      const auto* dreamer = find_arm(*e, "DR+DA+EA");
      if (!dreamer || !dreamer->average) continue;
      std::optional<double> best;
      std::string best_arm;
      for (const auto& arm : e->arms)
        if (arm.arm != "DR+DA+EA" && arm.average && (!best || *arm.average > *best))
          best = arm.average, best_arm = arm.arm;
      if (!best || *best <= 0) continue;
      ratio = *dreamer->average / *best;
      m = {*dreamer->average - *best, e->name + "/DR+DA+EA vs " + best_arm};
      break;
    }
    t.rows.push_back(row(
        "outperforms ~2x larger models at the same tokens (average accuracy difference, points)",
        "> 0", "[PAPER] C8", m, fixed(m.value.value_or(0) * 100, 1),
        fixed(ratio, 2) + " (accuracy ratio; > 1 outperforms)"));
  }
  {
    // C9: expert-selection diversity (unique experts per token path, pooled over depths)
    // against the MoE baselines; the paper's metric was not recovered [spec s6.3]. The metric
    // compares only against a baseline whose paths revisit an expert pool: where every pool
    // serves one depth (a layered MoE), each path's experts are distinct by construction and
    // the metric is 1 whatever the router does.
    Measured m;
    double low = 0, high = 0;
    std::vector<std::string> by_construction;
    for (const auto* e : claim_experiments(analyses, "expert_diversity")) {
      auto pooled = [&](const std::string& arm) -> std::optional<double> {
        for (const auto& d : e->diversity)
          if (d.arm == arm && d.depth == 0 && d.site.find('@') == std::string::npos &&
              d.metrics.count("unique_experts_per_path"))
            return d.metrics.at("unique_experts_per_path");
        return std::nullopt;
      };
      auto revisits_a_pool = [&](const std::string& arm) {
        std::map<std::string, std::set<int64_t>> depths;  // site@pool -> depths using it
        for (const auto& d : e->diversity)
          if (d.arm == arm && d.depth > 0 && d.site.find('@') != std::string::npos)
            depths[d.site].insert(d.depth);
        for (const auto& [pool, used] : depths)
          if (used.size() > 1) return true;
        return false;
      };
      const auto dreamer = pooled("DR+DA+EA");
      if (!dreamer) continue;
      for (const std::string baseline : {"moe", "moeut"}) {
        const auto b = pooled(baseline);
        if (!b || *b <= 0) continue;
        if (!revisits_a_pool(baseline)) {
          by_construction.push_back(baseline);
          continue;
        }
        const double r = *dreamer / *b;
        low = m.value ? std::min(low, r) : r;
        high = m.value ? std::max(high, r) : r;
        m = {low, e->name + "/DR+DA+EA vs " + baseline};
      }
      if (!m.value && !by_construction.empty()) {
        std::string names;
        for (const auto& n : by_construction) names += (names.empty() ? "" : ", ") + n;
        t.rows.push_back(
            {"expert-selection diversity vs SOTA MoEs (unique_experts_per_path ratio, range)",
             "2-11x", "[PAPER] C9",
             "not comparable: " + names +
                 " never revisit an expert pool along a path, so their value is 1 by "
                 "construction",
             e->name, "—"});
        break;
      }
      if (m.value) break;
    }
    if (m.value || by_construction.empty())
      t.rows.push_back(
          row("expert-selection diversity vs SOTA MoEs (unique_experts_per_path ratio, range)",
              "2-11x", "[PAPER] C9", m, fixed(low, 2) + "-" + fixed(high, 2) + "x",
              fixed(low / 2, 2) + "-" + fixed(high / 11, 2)));
  }
  t.notes = {
      "Paper figures: ../shared/paper/dreamer-spec.md (s1 claims C7-C9 [PAPER]; s6.1 benchmark "
      "maxima [SUMMARY-H], "
      "each benchmark's best row, not one model). Measured: the paper-scale experiment when it has "
      "results, "
      "else its _small variant (toy scale: not comparable in size, data or tokenizer). For ranges "
      "the ratio "
      "column compares the low ends and the high ends separately."};
  return t;
}

std::string paper_view(const std::vector<std::string>& db_files) {
  if (db_files.empty()) throw InputError("report --paper", "needs at least one results database");
  std::vector<ExperimentAnalysis> analyses;
  std::map<std::string, std::string> file_of;  // experiment -> the database it was read from
  std::string names;
  for (const auto& file : db_files) {
    ReadOnlyDatabase db(file);
    bool any = false;
    for (const auto& name : experiment_names(db)) {
      if (!starts_with(name, "paper_")) continue;
      if (const auto seen = file_of.find(name); seen != file_of.end())
        throw InputError(db.file(), "holds experiment \"" + name + "\", which " + seen->second +
                                        " holds too: pass one of them");
      file_of.emplace(name, db.file());
      analyses.push_back(analyse(load_experiment(db, name)));
      any = true;
    }
    if (!any)
      throw InputError(
          db.file(),
          "no paper_* experiments (experiments/paper/) stored: nothing for the paper view");
    names += (names.empty() ? "" : ", ") + db.file();
  }
  return "# The paper's claims against this reproduction\n\n" +
         std::string(db_files.size() == 1 ? "Database: " : "Databases: ") + names + "\n\n" +
         render_table(paper_table(analyses));
}

}  // namespace dreamer::results
