#pragma once
// bench-step and bench-experts (cli/cmd_bench_step.cpp): timing commands that bench/gpu and
// scripts/gpu-bench.sh drive. Declared apart from commands.h so that adding them rebuilt no
// other command.
#include <CLI/CLI.hpp>

namespace dreamer::cli {

void add_bench_step_command(CLI::App& app);    // registers bench-step and bench-experts
void add_bench_memory_command(CLI::App& app);  // cli/cmd_bench_memory.cpp
void add_bench_eval_commands(CLI::App& app);   // bench-decode and bench-eval (cmd_bench_eval.cpp)

}  // namespace dreamer::cli
