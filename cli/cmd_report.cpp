// dreamer report DB --out DIR [--experiment NAME] [--no-plots]: tables, findings and plots of
// the experiments in a results database, written to DIR/report.md and printed.
// dreamer report DB [DB...] --paper: the paper's claims beside the measured figures, read from
// the paper experiments of one or more databases (one per experiment, as they are run).
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "results/paper_view.h"
#include "results/query.h"
#include "results/report.h"
#include "results/store.h"
#include "util/errors.h"

namespace dreamer::cli {

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report", "write DIR/report.md (tables, findings, plots) from a results database");
  static results::ReportOptions options;
  static bool no_plots = false, paper = false;
  static std::vector<std::string> dbs;
  cmd->add_option("db", dbs, "SQLite results file (with --paper: one or more)")->required();
  auto* out = cmd->add_option("--out", options.out_dir, "folder for report.md and the plots");
  cmd->add_flag("--paper", paper,
                "print the paper view instead: each claim of the paper beside the measured figure "
                "(experiments/paper/; docs/REPRODUCING.md)");
  cmd->add_option("--experiment", options.experiment,
                  "report only this experiment (default: every experiment in the file)");
  cmd->add_flag("--no-plots", no_plots, "skip the gnuplot figures");
  cmd->callback([out] {
    if (paper) {
      std::cout << results::paper_view(dbs);
      return;
    }
    if (dbs.size() != 1)
      throw InputError("db", "one results database without --paper (got " +
                                 std::to_string(dbs.size()) +
                                 "); `dreamer merge` joins the shards of one experiment");
    options.db = dbs.front();
    if (out->count() == 0)
      throw InputError("--out", "required (the folder for report.md and the plots)");
    options.plots = !no_plots;
    if (const auto warning = results::schema_warning(results::ReadOnlyDatabase(options.db));
        !warning.empty())
      std::cerr << "warning: " << warning << "\n";
    std::cout << results::write_report(options);
  });
}

}  // namespace dreamer::cli
