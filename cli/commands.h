#pragma once
// Each subcommand registers itself on the app; main only wires them together.
#include <CLI/CLI.hpp>

namespace dreamer::cli {

void add_models_command(CLI::App& app);
void add_doctor_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_match_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_query_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_merge_command(CLI::App& app);

}  // namespace dreamer::cli
