// dreamer: the Dreamer Bench command line. Subcommands live in cli/cmd_*.cpp.
#include <torch/torch.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli/bench_commands.h"
#include "cli/commands.h"
#include "results/sqlite.h"
#include "util/cpu_load.h"
#include "util/errors.h"

namespace {

// Edit distance (insertions, deletions, substitutions), for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "unknown command "rn"; did you mean "run"? (commands: ...)": CLI11 alone says only that the
// argument was not expected. Empty when `word` is a command.
std::string unknown_command_message(const CLI::App& app, const std::string& word) {
  std::string names, closest;
  size_t best = std::string::npos;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == word) return "";
    names += (names.empty() ? "" : ", ") + sub->get_name();
    const size_t d = edit_distance(word, sub->get_name());
    if (d < best) best = d, closest = sub->get_name();
  }
  std::string message = "unknown command \"" + word + "\"";
  if (best <= std::max<size_t>(2, word.size() / 3))
    message += "; did you mean \"" + closest + "\"?";
  return message + " (commands: " + names + ")";
}

// --threads: CLI11's PositiveNumber prints its bound (a 300-digit double) for 0.
const CLI::Validator kThreadCount(
    [](std::string& text) -> std::string {
      int value = 0;
      size_t used = 0;
      try {
        value = std::stoi(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != text.size() || value < 1 || value > 4096)
        return "expected a number of threads from 1 to 4096, got \"" + text + "\"";
      return "";
    },
    "1..4096");

const CLI::Validator kNonNegativeSeconds(
    [](std::string& text) -> std::string {
      double value = -1;
      size_t used = 0;
      try {
        value = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != text.size() || !(value >= 0))
        return "expected a number of seconds >= 0, got \"" + text + "\"";
      return "";
    },
    "SECONDS");

// Every subcommand's --out names a folder: an existing file there is an error now, not a
// filesystem message after the work is done.
const CLI::Validator kOutputFolder(
    [](std::string& path) -> std::string {
      struct stat info {};
      if (stat(path.c_str(), &info) == 0 && !S_ISDIR(info.st_mode))
        return "\"" + path + "\" is a file; expected a folder (existing or to be created)";
      return "";
    },
    "FOLDER");

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

namespace dreamer::cli {
void add_tokenizer_command(CLI::App& app);  // cli/cmd_tokenizer.cpp
void add_tokenize_command(CLI::App& app);   // cli/cmd_tokenize.cpp
void add_schema_command(CLI::App& app);     // cli/cmd_schema.cpp
}  // namespace dreamer::cli

int main(int argc, char** argv) {
  prefer_passive_openmp_waits(argv);
  // Progress lines reach a log file as they are printed, so a killed run's log shows how far
  // it got (stdout is block-buffered when redirected; stderr is unbuffered already).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  CLI::App app{"Dreamer Bench: depth-recurrent attention mixtures and matched baselines"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand: dreamer run X --db-timeout 600
  // LibTorch on these machines starts with one intra-op thread; use every idle core by default
  // (every core: measured 2.5x faster on 2 cores). Cores another process keeps busy at start
  // are left out: a thread sharing its core stalls the whole team at every barrier
  // (util/cpu_load.h; bench/cpu_contention.sh measures it).
  int threads = 0;  // 0: not given
  app.add_option("--threads", threads,
                 "intra-op CPU threads (default: the cores idle at start, at least 1)")
      ->check(kThreadCount);
  double db_timeout = dreamer::results::lock_timeout_seconds();
  app.add_option("--db-timeout", db_timeout,
                 "seconds a results-database writer waits for another process's lock before "
                 "failing (default 120)")
      ->check(kNonNegativeSeconds);
  app.parse_complete_callback([&] {
    if (threads == 0) {
      threads = dreamer::util::free_core_threads(
          static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    }
    torch::set_num_threads(threads);
    dreamer::results::set_lock_timeout_seconds(db_timeout);
  });

  dreamer::cli::add_models_command(app);
  dreamer::cli::add_doctor_command(app);
  dreamer::cli::add_demo_command(app);
  dreamer::cli::add_match_command(app);
  dreamer::cli::add_eval_command(app);
  dreamer::cli::add_score_command(app);
  dreamer::cli::add_plan_command(app);
  dreamer::cli::add_run_command(app);
  dreamer::cli::add_query_command(app);
  dreamer::cli::add_report_command(app);
  dreamer::cli::add_merge_command(app);
  dreamer::cli::add_schema_command(app);
  dreamer::cli::add_tokenizer_command(app);
  dreamer::cli::add_tokenize_command(app);
  for (auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (auto* out = sub->get_option_no_throw("--out")) out->check(kOutputFolder);
  dreamer::cli::add_bench_step_command(app);
  dreamer::cli::add_bench_memory_command(app);
  dreamer::cli::add_bench_eval_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const bool help = dynamic_cast<const CLI::CallForHelp*>(&e) ||
                      dynamic_cast<const CLI::CallForAllHelp*>(&e) ||
                      dynamic_cast<const CLI::Success*>(&e);
    if (!help && app.get_subcommands().empty()) {
      for (const auto& word : app.remaining()) {
        if (word.empty() || word[0] == '-') continue;
        const std::string message = unknown_command_message(app, word);
        if (message.empty()) break;
        std::cerr << "error: " << message << "\n";
        return 2;
      }
    }
    return app.exit(e);
  } catch (const std::exception& e) {  // InputError and everything else: one line, exit 1
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
