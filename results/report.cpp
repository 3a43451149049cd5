#include "results/report.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <tuple>

#include "results/findings.h"
#include "results/units.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::results {

namespace {

const std::string kMissing = "—";

// The expert metrics the diversity tables show (docs/EVAL.md defines them), in column order.
const std::vector<std::string> kPooledDiversityMetrics = {
    "usage_rel_perplexity", "dead_expert_fraction",   "max_vio", "universal_score", "jaccard_mean",
    "consecutive_overlap",  "unique_experts_per_path"};
const std::vector<std::string> kPerDepthDiversityMetrics = {
    "usage_rel_perplexity", "dead_expert_fraction", "max_vio", "consecutive_overlap"};

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::string task_column(const ExperimentTask& task) {
  return task.task + " (" + task.metric + (task.higher_is_better ? ")" : ", lower is better)");
}

template <typename Format>
std::string optional_cell(const std::optional<double>& x, Format format) {
  return x ? format(*x) : kMissing;
}

std::string score_cell(double value, const std::optional<Interval>& interval) {
  return format_score(value) + (interval ? " " + format_interval(*interval) : "");
}

std::string score_cell(const SeedStat& s) {
  return score_cell(s.mean, s.interval);
}

Table main_table(const ExperimentAnalysis& a) {
  Table t;
  t.header = {"arm", "family", "seeds", "params", "active params", "FLOPs/token", "train memory"};
  for (const auto& task : a.tasks) t.header.push_back(task_column(task));
  t.header.push_back("average");
  for (const auto& arm : a.arms) {
    std::vector<std::string> row = {arm.arm,
                                    arm.family,
                                    std::to_string(arm.run_ids.size()),
                                    optional_cell(arm.params, human_count),
                                    optional_cell(arm.active_params, human_count),
                                    optional_cell(arm.flops_per_token, human_flops),
                                    optional_cell(arm.memory_bytes, human_bytes)};
    for (const auto& task : a.tasks) {
      auto it = arm.final_value.find(task.task);
      if (it == arm.final_value.end()) {
        row.push_back(kMissing);
        continue;
      }
      const SeedStat& s = it->second;
      std::string cell = score_cell(s);
      if (static_cast<size_t>(s.seeds) < arm.run_ids.size())
        cell += " (" + std::to_string(s.seeds) + " of " + std::to_string(arm.run_ids.size()) +
                " seeds)";
      row.push_back(cell);
    }
    row.push_back(arm.average ? score_cell(*arm.average, arm.average_interval) : kMissing);
    t.rows.push_back(std::move(row));
  }
  t.empty_note = "No runs are stored for this experiment.";
  t.notes.push_back(
      "Each run's value at its last evaluated checkpoint (most tokens) and its default depth; "
      "mean over seeds. [low, high]: 95% interval, a percentile bootstrap (" +
      std::to_string(kBootstrapResamples) +
      " resamples, fixed seed) over seeds and then the eval items within each seed; † marks a "
      "normal interval from the stored standard errors where no per-item samples were stored; "
      "none for metrics with neither (perplexities).");
  std::vector<std::string> averaged;
  for (const auto& task : a.tasks)
    if (task.higher_is_better) averaged.push_back(task.task);
  t.notes.push_back("average: mean over the higher-is-better tasks (" +
                    (averaged.empty() ? std::string("none") : join(averaged, ", ")) + "); " +
                    kMissing + " when an arm lacks one of them.");
  t.notes.push_back(
      "params: total parameters; FLOPs/token: forward FLOPs per token; train memory: predicted "
      "training peak (runs.memory_bytes).");
  if (!a.arms.empty() && !a.any_evals)
    t.notes.push_back("Nothing has been evaluated yet, so every task column is empty.");
  if (a.evals_with_unknown_tokens > 0)
    t.notes.push_back(std::to_string(a.evals_with_unknown_tokens) +
                      " eval rows name a checkpoint missing from the checkpoints table: they "
                      "count as earlier than any known checkpoint and are left out of curves.");
  return t;
}

std::string ratio_cell(const std::optional<TokensRatio>& r) {
  if (!r) return "n/a";
  return (r->reached ? "" : "< ") + format_ratio(r->ratio) +
         (r->interval ? " " + format_interval(*r->interval, true) : "");
}

Table tokens_table(const ExperimentAnalysis& a) {
  Table t;
  t.header = {"arm"};
  for (const auto& task : a.tasks) t.header.push_back(task_column(task));
  if (!a.reference_arm) {
    t.empty_note = "n/a: this experiment has no reference arm (experiments.reference_arm is NULL).";
    return t;
  }
  if (!a.reference_has_runs) {
    t.empty_note = "n/a: the reference arm " + *a.reference_arm + " has no runs.";
    return t;
  }
  const ArmSummary& reference = a.arms.front();
  for (const auto& arm : a.arms) {
    if (arm.arm == reference.arm) continue;
    std::vector<std::string> row = {arm.arm};
    for (const auto& task : a.tasks) {
      auto it = arm.vs_reference.find(task.task);
      row.push_back(ratio_cell(it == arm.vs_reference.end() ? std::nullopt : it->second));
    }
    t.rows.push_back(std::move(row));
  }
  t.empty_note = "Only the reference arm " + reference.arm + " has runs.";
  t.notes.push_back(
      "Ratio = tokens the reference needs to reach its own final value / tokens the arm needs "
      "to reach it, on curves interpolated linearly in log(tokens) between checkpoints "
      "(default depth, mean over seeds). > 1: the arm needs fewer tokens. \"< r\": the arm "
      "never reached it; r = reference tokens / the arm's last checkpoint's tokens bounds the "
      "ratio from above. n/a: fewer than two evaluated checkpoints.");
  t.notes.push_back(
      "[low, high]: 95% bootstrap interval of the ratio, recomputed on resampled curves of both "
      "arms (seeds, then items, each run's checkpoints sharing one draw of items); a resample in "
      "which the arm does not reach the target counts as 0 for the low end and as its bound for "
      "the high end. A ratio is a finding only when its interval excludes 1.");
  std::vector<std::string> targets;
  for (const auto& task : a.tasks) {
    auto it = reference.curve.find(task.task);
    if (it == reference.curve.end() || it->second.empty()) continue;
    const auto reached =
        tokens_to_reach(it->second, it->second.back().value, task.higher_is_better);
    targets.push_back(task.task + " " + format_score(it->second.back().value) + " (reached at " +
                      human_count(*reached) + " tokens)");
  }
  if (!targets.empty())
    t.notes.push_back("Targets, the reference " + reference.arm +
                      "'s final values: " + join(targets, "; ") + ".");
  return t;
}

// "0.0215", "< 0.0001": format_p_value without its "p = ".
std::string p_cell(double p) {
  const std::string text = format_p_value(p);
  return text.rfind("p = ", 0) == 0 ? text.substr(4) : text.substr(2);
}

Table paired_table(const ExperimentAnalysis& a) {
  Table t;
  t.header = {"arm",
              "task",
              "n",
              "arm value",
              "reference value",
              "difference [95%]",
              "arm only / reference only",
              "McNemar p",
              "verdict"};
  if (!a.reference_arm) {
    t.empty_note = "n/a: this experiment has no reference arm.";
    return t;
  }
  if (!a.reference_has_runs) {
    t.empty_note = "n/a: the reference arm " + *a.reference_arm + " has no runs.";
    return t;
  }
  const std::string& reference = a.arms.front().arm;
  for (const auto& arm : a.arms)
    for (const auto& task : a.tasks) {
      auto it = arm.against_reference.find(task.task);
      if (arm.arm == reference || it == arm.against_reference.end()) continue;
      const Comparison& c = it->second;
      const auto& p = c.paired;
      const std::string verdict = !c.significant ? "no difference detected"
                                                 : (c.a_better ? arm.arm : reference) + " " +
                                                       (task.higher_is_better ? "higher" : "lower");
      if (p)
        t.rows.push_back(
            {arm.arm, task_column(task),
             std::to_string(p->items) +
                 (p->seeds > 1 ? " x " + std::to_string(p->seeds) + " seeds" : ""),
             score_cell(c.a), score_cell(c.b),
             format_signed_score(p->difference) + " " + format_interval(p->interval),
             p->binary ? std::to_string(p->a_only) + " / " + std::to_string(p->b_only) : kMissing,
             p_cell(p->p_value) + (p->binary ? "" : " (bootstrap)"), verdict});
      else
        t.rows.push_back({arm.arm, task_column(task), std::to_string(c.a.items), score_cell(c.a),
                          score_cell(c.b), "unpaired", kMissing, kMissing,
                          c.a.interval && c.b.interval ? verdict : "not compared"});
    }
  t.empty_note = "Only the reference arm " + reference + " has runs.";
  t.notes.push_back(
      "Each arm against the reference " + reference +
      " on the same eval items, each run at its default depth and last checkpoint; runs paired "
      "by seed. n: items (x seed pairs). difference: arm - reference, mean over seed pairs, "
      "with its paired bootstrap interval (seed pairs, then items, one draw of items for both "
      "arms). arm only / reference only: discordant items (only one side correct), summed over "
      "seed pairs; McNemar p: exact two-sided binomial test on them. Bits per byte has no "
      "discordant items: its p (bootstrap) is twice the smaller share of bootstrap differences "
      "on either side of 0.");
  t.notes.push_back(
      "verdict: a difference only when p < 0.05 and the interval excludes 0. unpaired: no "
      "per-item samples on the same items; the verdict then compares the two 95% intervals "
      "(a difference only when they do not overlap).");
  return t;
}

Table depth_table(const ExperimentAnalysis& a) {
  Table t;
  std::set<int64_t> depths;
  for (const auto& arm : a.arms)
    for (const auto& [task, values] : arm.by_depth)
      for (const auto& [depth, value] : values) depths.insert(depth);
  t.header = {"arm", "task"};
  for (int64_t d : depths) t.header.push_back("depth " + std::to_string(d));
  std::vector<std::string> defaults;
  for (const auto& arm : a.arms) {
    if (arm.by_depth.empty()) continue;
    defaults.push_back(arm.arm + " " + std::to_string(arm.default_depth));
    for (const auto& task : a.tasks) {
      auto it = arm.by_depth.find(task.task);
      if (it == arm.by_depth.end()) continue;
      std::vector<std::string> row = {arm.arm, task_column(task)};
      for (int64_t d : depths) {
        auto v = it->second.find(d);
        row.push_back(v == it->second.end() ? kMissing : score_cell(v->second));
      }
      t.rows.push_back(std::move(row));
    }
  }
  t.empty_note = a.any_evals ? "No arm was evaluated at more than one depth."
                             : "Nothing has been evaluated yet.";
  t.notes.push_back(
      "depth = recurrences run at evaluation. Each run's values at its last checkpoint of the "
      "task, mean over seeds, with 95% intervals as in the main table.");
  if (!defaults.empty()) t.notes.push_back("Default depths: " + join(defaults, ", ") + ".");
  return t;
}

Table diversity_table(const ExperimentAnalysis& a, bool pooled) {
  const auto& wanted = pooled ? kPooledDiversityMetrics : kPerDepthDiversityMetrics;
  std::vector<const DiversitySummary*> rows;
  // Pooled rows: one per site ("ffn"), not the per-pool summaries ("ffn@layer1", docs/EVAL.md).
  auto shown = [&](const DiversitySummary& d) {
    return pooled ? d.depth == 0 && d.site.find('@') == std::string::npos : d.depth != 0;
  };
  for (const auto& d : a.diversity)
    if (shown(d) &&
        std::any_of(wanted.begin(), wanted.end(), [&](auto& m) { return d.metrics.count(m); }))
      rows.push_back(&d);
  auto arm_index = [&](const std::string& arm) {
    for (size_t i = 0; i < a.arms.size(); ++i)
      if (a.arms[i].arm == arm) return i;
    return a.arms.size();
  };
  std::stable_sort(rows.begin(), rows.end(), [&](auto* x, auto* y) {
    return std::make_tuple(arm_index(x->arm), x->site, x->depth) <
           std::make_tuple(arm_index(y->arm), y->site, y->depth);
  });
  std::vector<std::string> metrics;  // only the columns some row has
  for (const auto& m : wanted)
    if (std::any_of(rows.begin(), rows.end(), [&](auto* d) { return d->metrics.count(m); }))
      metrics.push_back(m);
  Table t;
  t.header = pooled ? std::vector<std::string>{"arm", "site"}
                    : std::vector<std::string>{"arm", "site", "depth"};
  t.header.insert(t.header.end(), metrics.begin(), metrics.end());
  for (const auto* d : rows) {
    std::vector<std::string> row = {d->arm, d->site};
    if (!pooled) row.push_back(std::to_string(d->depth));
    for (const auto& m : metrics) {
      auto it = d->metrics.find(m);
      row.push_back(it == d->metrics.end() ? kMissing : format_score(it->second));
    }
    t.rows.push_back(std::move(row));
  }
  t.empty_note = a.diversity.empty()
                     ? "No expert metrics stored (no arm with expert sites was evaluated)."
                     : "No " + std::string(pooled ? "pooled" : "per-depth") +
                           " expert metrics among those shown here.";
  t.notes.push_back(
      std::string("expert_metrics at each run's last checkpoint and default depth") +
      (pooled ? ", depth 0 (pooled over recurrence steps or layers; a site's expert pools "
                "count as distinct experts)"
              : ", per recurrence step or layer; site@pool names the expert pool it selects from") +
      "; mean over seeds and tasks. docs/EVAL.md defines the metrics.");
  return t;
}

std::string escape_cell(const std::string& cell) {
  std::string out;
  for (char ch : cell) {
    if (ch == '|') out += '\\';
    out += ch == '\n' ? ' ' : ch;
  }
  return out;
}

}  // namespace

void add_learning_checks(ExperimentReport& report, const std::vector<LearningCheck>& checks) {
  Table& t = report.learning;
  t.header = {
      "arm",    "seed", "task", "depth", "first checkpoint", "last checkpoint", "majority answer",
      "learned"};
  std::map<std::string, std::vector<std::string>> not_learned;  // task -> runs
  std::map<std::string, int64_t> judged;
  for (const auto& c : checks) {
    auto at = [](double v, const std::optional<int64_t>& tokens) {
      return format_score(v) + (tokens
                                    ? " (" + human_count(static_cast<double>(*tokens)) + " tokens)"
                                    : std::string());
    };
    const std::string verdict = !c.learned ? "n/a" : *c.learned ? "yes" : "no";
    t.rows.push_back(
        {c.arm, std::to_string(c.seed), c.task, std::to_string(c.depth),
         at(c.first, c.first_tokens),
         at(c.last, c.last_tokens) + (c.last_stderr ? " ± " + format_score(*c.last_stderr) : ""),
         c.majority ? format_score(*c.majority) : kMissing, verdict});
    if (!c.learned) continue;
    ++judged[c.task];
    if (!*c.learned) not_learned[c.task].push_back(c.arm + " seed " + std::to_string(c.seed));
  }
  t.empty_note = "No run was evaluated yet.";
  t.notes.push_back(
      "Each run at its default depth. learned: the last checkpoint's value is more than 3 "
      "standard errors (its own, shown after ±) above the first checkpoint's and above the "
      "majority-answer rate (the most frequent reference among the stored samples; — when "
      "samples were not stored); n/a with a single checkpoint or no standard error.");
  for (const auto& [task, n] : judged) {
    auto it = not_learned.find(task);
    if (it == not_learned.end())
      report.findings.push_back("Every run learned " + task + " (" + std::to_string(n) +
                                " runs; see \"Did each run learn?\").");
    else
      report.findings.push_back(
          std::to_string(it->second.size()) + " of " + std::to_string(n) + " runs did not learn " +
          task + " (" + join(it->second, ", ") +
          "): comparisons on it compare runs near their starting value or the majority answer.");
  }
}

ExperimentReport build_experiment_report(const ExperimentAnalysis& a) {
  ExperimentReport r;
  r.experiment = a.name;
  std::vector<std::string> tasks;
  for (const auto& task : a.tasks) tasks.push_back(task_column(task));
  size_t runs = 0;
  for (const auto& arm : a.arms) runs += arm.run_ids.size();
  r.summary = "Reference arm: " + (a.reference_arm ? *a.reference_arm : std::string("none")) +
              ". Tasks: " + (tasks.empty() ? std::string("none") : join(tasks, ", ")) +
              ". Runs: " + std::to_string(runs) + " in " + std::to_string(a.arms.size()) +
              (a.arms.size() == 1 ? " arm." : " arms.");
  r.findings = findings(a);
  r.main = main_table(a);
  r.tokens_to_accuracy = tokens_table(a);
  r.paired = paired_table(a);
  r.by_depth = depth_table(a);
  r.diversity = diversity_table(a, true);
  r.diversity_by_depth = diversity_table(a, false);
  return r;
}

std::string render_table(const Table& table) {
  std::string out;
  if (table.rows.empty()) {
    out = table.empty_note + "\n";
  } else {
    auto line = [](const std::vector<std::string>& cells) {
      std::string s = "|";
      for (const auto& c : cells) s += " " + escape_cell(c) + " |";
      return s + "\n";
    };
    out += line(table.header);
    out += line(std::vector<std::string>(table.header.size(), "---"));
    for (const auto& row : table.rows) out += line(row);
    out += "\n";
    for (const auto& note : table.notes) out += "- " + note + "\n";
  }
  return out + "\n";
}

std::string render_experiment(const ExperimentReport& report, const std::vector<PlotLink>& plots,
                              const std::vector<std::string>& plot_notes) {
  std::string out = "## Experiment " + report.experiment + "\n\n" + report.summary + "\n\n";
  out += "### Findings\n\n";
  for (const auto& f : report.findings) out += "- " + f + "\n";
  out += "\n### Main results\n\n" + render_table(report.main);
  out += "### Paired comparison against the reference\n\n" + render_table(report.paired);
  out += "### Tokens to reach the reference's final value\n\n" +
         render_table(report.tokens_to_accuracy);
  if (!report.learning.header.empty())
    out += "### Did each run learn?\n\n" + render_table(report.learning);
  out += "### Accuracy by depth\n\n" + render_table(report.by_depth);
  out += "### Expert diversity (pooled over depths)\n\n" + render_table(report.diversity);
  out += "### Expert diversity by depth\n\n" + render_table(report.diversity_by_depth);
  if (!plots.empty() || !plot_notes.empty()) {
    out += "### Plots\n\n";
    for (const auto& p : plots) out += "![" + p.title + "](" + p.png + ")\n\n";
    for (const auto& n : plot_notes) out += "- " + n + "\n";
    if (!plot_notes.empty()) out += "\n";
  }
  return out;
}

std::string write_report(const ReportOptions& options) {
  ReadOnlyDatabase db(options.db);
  const auto names = experiment_names(db);
  if (names.empty()) throw InputError(db.file(), "no experiments stored yet: nothing to report");
  std::vector<std::string> selected = names;
  if (!options.experiment.empty()) {
    if (std::find(names.begin(), names.end(), options.experiment) == names.end())
      throw InputError("--experiment", "no experiment \"" + options.experiment + "\" in " +
                                           db.file() + " (it has: " + join(names, ", ") + ")");
    selected = {options.experiment};
  }
  const std::string made = fs::try_create_directories(options.out_dir);
  if (!made.empty() || !fs::is_directory(options.out_dir))
    throw InputError("--out", options.out_dir + ": cannot create the folder" +
                                  (made.empty() ? std::string() : ": " + made));

  std::string markdown = "# Dreamer Bench results\n\nDatabase: " + db.file() + "\n\n";
  std::set<std::string> plot_dirs;  // experiments whose names sanitise alike get their own
  for (const auto& name : selected) {
    std::string plot_dir = sanitize_file_name(name);
    for (int i = 2; !plot_dirs.insert(plot_dir).second; ++i)
      plot_dir = sanitize_file_name(name) + "_" + std::to_string(i);
    const auto data = load_experiment(db, name);
    const auto analysis = analyse(data);
    PlotSet plots;
    if (options.plots)
      plots = write_plots(data, analysis, load_train_loss(db, name),
                          load_last_expert_counts(db, data), options.out_dir, plot_dir);
    auto report = build_experiment_report(analysis);
    add_learning_checks(report, check_learning(data, majority_rates(db, data)));
    markdown += render_experiment(report, plots.links, plots.notes);
  }
  const std::string file = fs::join(options.out_dir, "report.md");
  std::ofstream out(file);
  out << markdown;
  if (!out) throw InputError(file, "cannot write the report");
  return markdown;
}

}  // namespace dreamer::results
