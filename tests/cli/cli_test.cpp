// The dreamer CLI as a user runs it: machine-readable output, clear errors, exit codes.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "results/store.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "util/fs.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CliModels, JsonListsEveryPresetWithItsInstantiatedCount) {
  auto result = run_cli("models --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto rows = nlohmann::json::parse(result.output);
  size_t expected_rows = 0;
  for (const auto& f : zoo::families()) expected_rows += f.presets.size();
  ASSERT_EQ(rows.size(), expected_rows);
  for (const auto& row : rows) {
    if (row["family"] != "dreamer") continue;  // instantiating big baselines is too slow here
    auto model = zoo::build_model(zoo::model_config_from_preset("dreamer", row["preset"]));
    auto counts = models::count_parameters(*model);
    EXPECT_EQ(row["params"]["total"].get<int64_t>(), counts.total) << row.dump();
    EXPECT_EQ(row["params"]["embedding"].get<int64_t>(), counts.embedding);
    EXPECT_EQ(row["params"]["non_embedding"].get<int64_t>(), counts.non_embedding);
  }
}

TEST(CliModels, ConfigJsonPrintsAResolvedConfigThatRebuildsTheModel) {
  auto file = write_file("m.json", R"({"family": "dreamer", "preset": "DR+DA", "d_model": 64})");
  auto result = run_cli("models --json --config " + file);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto j = nlohmann::json::parse(result.output);
  EXPECT_EQ(j["family"], "dreamer");
  EXPECT_EQ(j["config"]["d_model"], 64);
  EXPECT_EQ(j["config"]["ffn_experts"]["enabled"], false);
  auto rebuilt = zoo::build_model(zoo::model_config_from_json(j["config"]));
  EXPECT_EQ(j["params"]["total"].get<int64_t>(), models::count_parameters(*rebuilt).total);
}

TEST(CliModels, InvalidConfigFailsNamingFileAndField) {
  auto file =
      write_file("bad.json", R"({"family": "dreamer", "ffn_experts": {"n_experts": 4, "k": 5}})");
  auto result = run_cli("models --config " + file);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("bad.json"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("ffn_experts.k"), std::string::npos) << result.output;
}

TEST(CliModels, MalformedJsonNamesTheLine) {
  auto file = write_file("broken.json", "{\n  \"family\": \"dreamer\",\n  \"d_model\": ,\n}\n");
  auto result = run_cli("models --config " + file);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("broken.json:3:"), std::string::npos) << result.output;
}

TEST(CliFlags, BadFlagsExitNonZero) {
  EXPECT_NE(run_cli("--threads 0 doctor").exit_code, 0);
  EXPECT_NE(run_cli("models --config /nonexistent/file.json").exit_code, 0);
  EXPECT_NE(run_cli("no-such-command").exit_code, 0);
}

TEST(CliDoctor, ReportsVersionsAndThreads) {
  auto result = run_cli("doctor");  // run_cli passes --threads 1
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("libtorch:        " + std::to_string(TORCH_VERSION_MAJOR) + "."),
            std::string::npos);
  EXPECT_NE(result.output.find(std::string("sqlite:          ") + sqlite3_libversion()),
            std::string::npos);
  EXPECT_NE(result.output.find("threads:         1 intra-op"), std::string::npos) << result.output;
}

TEST(CliDemo, ShortDemoLowersTheLoss) {
  auto result = run_cli("demo --steps 30 --batch 8 --seq 32");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Last line: "loss A -> B (xR lower) ..."
  auto pos = result.output.rfind("loss ");
  ASSERT_NE(pos, std::string::npos);
  double first = 0, last = 0;
  ASSERT_EQ(sscanf(result.output.c_str() + pos, "loss %lf -> %lf", &first, &last), 2)
      << result.output;
  EXPECT_LT(last, first * 0.75) << result.output;
}

// The CLI without run_cli's --threads 1, for tests of the global flags themselves.
CommandResult run_cli_raw(const std::string& args) {
  const std::string command = std::string(DREAMER_CLI_PATH) + " " + args + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CliErrors, ThreadsZeroSaysWhatIsExpected) {
  const auto r = run_cli_raw("--threads 0 doctor");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(
      contains(r.output, "--threads: expected a number of threads from 1 to 4096, got \"0\""))
      << r.output;
  EXPECT_LT(r.output.size(), 400u) << r.output;  // no 300-digit bound
}

TEST(CliErrors, MistypedCommandSuggestsTheClosest) {
  auto r = run_cli("rn experiment.json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "error: unknown command \"rn\"; did you mean \"run\"?"))
      << r.output;
  r = run_cli("reprot results.db --out x");
  EXPECT_TRUE(contains(r.output, "did you mean \"report\"?")) << r.output;
  r = run_cli("zzzzzzzz");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "unknown command \"zzzzzzzz\" (commands: models,")) << r.output;
}

TEST(CliErrors, GlobalFlagsMayFollowTheCommand) {
  const auto r = run_cli_raw("doctor --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "threads:         1 intra-op")) << r.output;
}

// An experiment file in a fresh directory: the tiny experiment with `edit` applied.
std::string write_experiment(const std::string& dir,
                             const std::function<void(nlohmann::json&)>& edit = {}) {
  auto exp = tiny_experiment();
  if (edit) edit(exp);
  const std::string file = dir + "/exp.json";
  std::ofstream(file) << exp.dump(2);
  return file;
}

TEST(CliErrors, EmptyOrMissingDbDirectoryIsAnErrorBeforeAnythingTrains) {
  const auto dir = temp_dir();
  const auto file = write_experiment(dir);
  auto r = run_cli("run " + file + " --db '' --out " + dir + "/runs");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "error: --db: empty path: expected a results database file"))
      << r.output;
  r = run_cli("run " + file + " --db " + dir + "/missing/r.db --out " + dir + "/runs");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(
      contains(r.output, dir + "/missing/r.db: cannot create the results database: directory \"" +
                             dir + "/missing\" does not exist"))
      << r.output;
  EXPECT_FALSE(fs::exists(dir + "/runs/tiny/dense/seed0/step-000008"));
}

TEST(CliErrors, OutPointingAtAFileIsAnError) {
  const auto dir = temp_dir();
  const auto file = write_experiment(dir);
  const std::string not_a_folder = dir + "/notes.txt";
  std::ofstream(not_a_folder) << "notes\n";
  for (const auto& command :
       {"run " + file + " --db " + dir + "/r.db", "report " + dir + "/r.db"}) {
    const auto r = run_cli(command + " --out " + not_a_folder);
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(
        r.output,
        "--out: \"" + not_a_folder + "\" is a file; expected a folder (existing or to be created)"))
        << command << "\n"
        << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/r.db"));
}

TEST(CliErrors, MissingDataFileNamesTheExperimentsJsonPath) {
  const auto dir = temp_dir();
  const auto file = write_experiment(dir, [&](nlohmann::json& exp) {
    exp["data"]["train"] = {{"type", "jsonl"}, {"path", dir + "/gone.jsonl"}, {"fields", {"text"}}};
  });
  const auto r = run_cli("plan --no-calibrate " + file);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, file + ":$.data.train.path: cannot read data file \"" + dir +
                                     "/gone.jsonl\": No such file or directory"))
      << r.output;
}

TEST(CliErrors, MetricTypoNamesTheJsonPathAndTheTasksMetrics) {
  const auto dir = temp_dir();
  const auto file = write_experiment(
      dir, [](nlohmann::json& exp) { exp["eval"]["tasks"][0]["metric"] = "exact_match,wholee"; });
  for (const std::string command :
       {"plan --no-calibrate " + file, "run " + file + " --db " + dir + "/r.db"}) {
    const auto r = run_cli(command);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, file +
                                       ":$.eval.tasks[0].metric: task \"modular\" has no metric "
                                       "\"exact_match,wholee\" (its metrics: exact_match,whole)"))
        << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/r.db"));  // nothing written
}

TEST(CliErrors, NewerSchemaDatabaseIsReadWithAWarningAndNotWritten) {
  const auto dir = temp_dir();
  const std::string db = dir + "/r.db";
  const auto newer = std::to_string(results::migrations().size() + 1);
  {
    results::ResultStore store(db);
    results::Statement(store.db(), "UPDATE schema_version SET version = " + newer).run();
  }
  auto r = run_cli("query " + db + " runs");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(
      r.output, "warning: " + db + ": schema version " + newer + " was written by a newer dreamer"))
      << r.output;
  r = run_cli("report " + db + " --out " + dir + "/report");
  EXPECT_TRUE(contains(r.output, "warning: " + db + ": schema version " + newer)) << r.output;
  r = run_cli("run " + write_experiment(dir) + " --db " + db + " --out " + dir + "/runs");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "refusing to write to it")) << r.output;
}

TEST(CliOutput, ARedirectedLogHoldsTheLinesPrintedBeforeAKill) {
  // A run long enough to be killed mid-training; its first progress lines must already be in
  // the log file (block buffering would have kept them in the dead process's buffer).
  const auto dir = temp_dir();
  const auto file = write_experiment(dir, [](nlohmann::json& exp) {
    exp["train"]["tokens"] = 100000 * 4 * 16;
    exp["arms"].erase(0);  // only the dense arm
  });
  const std::string log = dir + "/log.txt";
  const std::string command = std::string(DREAMER_CLI_PATH) + " --threads 1 run " + file +
                              " --db " + dir + "/r.db --out " + dir + "/runs > " + log + " 2>&1";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string text;
  const std::string started = "tiny/dense/seed0: dense_transformer";  // printed as a run starts
  for (int i = 0; i < 200 && !contains(text, started); ++i) {         // up to 20 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(log);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));  // killed while running, not finished
  EXPECT_TRUE(contains(text, started)) << text;
}

}  // namespace
}  // namespace dreamer::testing
