#pragma once
// `dreamer report --paper`: each claim of the paper as a row, the paper's figure (with its
// evidence tag from ../shared/paper/dreamer-spec.md) beside the measured one and their ratio.
// Measured figures come from the experiments of experiments/paper/ (names "paper_<claim>" and
// "paper_<claim>_small"), read from the database through the ordinary analysis (analysis.h).
#include <string>
#include <vector>

#include "results/analysis.h"
#include "results/report.h"

namespace dreamer::results {

// One row per claim; experiments not in `analyses` leave their claims "not run".
Table paper_table(const std::vector<ExperimentAnalysis>& analyses);

// Reads every paper_* experiment of the databases and renders the table as markdown. Each
// experiment of experiments/paper/ usually has its own database (`dreamer merge` joins the shards
// of one experiment, never two experiments), so the view reads several; an experiment stored in
// two of them is an error naming both, since either could be the one meant.
std::string paper_view(const std::vector<std::string>& db_files);

}  // namespace dreamer::results
