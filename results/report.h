#pragma once
// `dreamer report`: per experiment the main results table in the paper's shape (with 95%
// intervals), paired comparisons against the reference arm, tokens to reach the reference's
// accuracy, accuracy by recurrence depth, expert diversity, findings in
// words, and plots; written to DIR/report.md. docs/RESULTS.md describes every table.
#include <string>
#include <vector>

#include "results/analysis.h"
#include "results/learning.h"
#include "results/plots.h"

namespace dreamer::results {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;  // printed under the table
  std::string empty_note;          // printed instead of the table when it has no rows
};

struct ExperimentReport {
  std::string experiment;
  std::string summary;  // reference arm and tasks, one line
  std::vector<std::string> findings;
  Table main;                // arm | family | seeds | costs | one column per task | average
  Table paired;              // arm | task | n | values | difference | discordant | p | verdict
  Table tokens_to_accuracy;  // non-reference arm | one ratio per task
  Table learning;            // arm | seed | task | depth | first | last | majority | learned
  Table by_depth;            // arm | task | one column per evaluated depth
  Table diversity;           // arm | site | pooled (depth 0) metrics
  Table diversity_by_depth;  // arm | site | depth | per-depth metrics
};

// The tables and findings of one experiment, from its numbers (no plots).
ExperimentReport build_experiment_report(const ExperimentAnalysis& analysis);
// Fills report.learning from the checks and adds a finding that names the runs that did not
// learn (or says that every run did).
void add_learning_checks(ExperimentReport& report, const std::vector<LearningCheck>& checks);

// GitHub-flavoured markdown of a table ("|" in cells escaped), or its empty note.
std::string render_table(const Table& table);

// One experiment's section of report.md.
std::string render_experiment(const ExperimentReport& report, const std::vector<PlotLink>& plots,
                              const std::vector<std::string>& plot_notes);

struct ReportOptions {
  std::string db;
  std::string out_dir;
  std::string experiment;  // empty: every experiment in the database
  bool plots = true;
};

// Reads the database (read-only), writes out_dir/report.md (and the plots) and returns the
// markdown. InputError for a missing or old database, no experiments, an unknown experiment.
std::string write_report(const ReportOptions& options);

}  // namespace dreamer::results
