#pragma once
// The report's figures, drawn by gnuplot: loss vs tokens (one line per run), accuracy vs tokens
// per task (one line per arm), expert-usage heatmaps per arm and expert site. Each plot is a
// data file plus a .gp script in the output folder (so it can be re-run or edited by hand)
// and a .png and an .svg made from them.
#include <string>
#include <vector>

#include "results/analysis.h"

namespace dreamer::results {

struct PlotLink {
  std::string title;
  std::string png;  // relative to the report's folder
};

struct PlotSet {
  std::vector<PlotLink> links;
  std::vector<std::string> notes;  // gnuplot missing or failing, plots without data
};

// Writes into out_dir/subdir/ and links relative to out_dir.
PlotSet write_plots(const ExperimentData& data, const ExperimentAnalysis& analysis,
                    const std::vector<TrainPoint>& train,
                    const std::vector<ExpertCountRecord>& counts, const std::string& out_dir,
                    const std::string& subdir);

// Letters, digits, '.', '-' and '_' kept; anything else becomes '_' ("a/b c" -> "a_b_c").
std::string sanitize_file_name(const std::string& name);

// Empty when `gnuplot --version` runs; otherwise why not.
std::string gnuplot_problem();

}  // namespace dreamer::results
