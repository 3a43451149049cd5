// dreamer: the Dreamer Bench command line. Subcommands live in cli/cmd_*.cpp.
#include <torch/torch.h>

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli/bench_commands.h"
#include "cli/commands.h"
#include "util/errors.h"

namespace {

// libgomp (LibTorch's OpenMP) reads OMP_WAIT_POLICY once, when it is loaded, before main. Its
// default spins idle threads for a while at every barrier; when another process takes a core,
// the spinning threads and the neighbour starve the one thread doing work (measured: 18k ->
// 200 tokens/s on 2 cores beside a compiler). PASSIVE threads sleep instead. So, unless the user
// chose a policy, set it and run this binary again once, before anything else happens.
void prefer_passive_openmp_waits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: carry on with the default policy
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp_waits(argv);
  CLI::App app{"Dreamer Bench: depth-recurrent attention mixtures and matched baselines"};
  app.require_subcommand(1);
  // LibTorch on these machines starts with one intra-op thread; use every core by default
  // (measured 2.5x faster on 2 cores).
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("--threads", threads, "intra-op CPU threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  app.parse_complete_callback([&] { torch::set_num_threads(threads); });

  dreamer::cli::add_models_command(app);
  dreamer::cli::add_doctor_command(app);
  dreamer::cli::add_demo_command(app);
  dreamer::cli::add_match_command(app);
  dreamer::cli::add_eval_command(app);
  dreamer::cli::add_plan_command(app);
  dreamer::cli::add_run_command(app);
  dreamer::cli::add_query_command(app);
  dreamer::cli::add_report_command(app);
  dreamer::cli::add_bench_step_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dreamer::InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
