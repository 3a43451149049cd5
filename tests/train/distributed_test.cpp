// Data-parallel training (train/distributed.h) through the real CLI: 2 Gloo worker processes
// against 1 process on the same global batch, a killed rank, and the refusals.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "results/sqlite.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/trainer.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::testing {
namespace {

bool has_gloo() {
  for (const auto& b : train::available_backends())
    if (b == "gloo") return true;
  return false;
}

#define REQUIRE_GLOO()                                                  \
  if (!has_gloo())                                                      \
  GTEST_SKIP() << "this build has no Gloo backend (no gloo headers at " \
                  "configure time; docs/DISTRIBUTED.md)"

std::string experiment_dir() {
  const auto dir = temp_dir();
  std::ofstream(dir + "/tiny.json") << tiny_experiment().dump();
  return dir;
}

std::map<std::string, torch::Tensor> final_state(const std::string& run_dir) {
  const auto latest = train::latest_checkpoint(run_dir);
  EXPECT_TRUE(latest.has_value()) << run_dir;
  std::map<std::string, torch::Tensor> out;
  if (!latest) return out;
  const auto ck = train::load_checkpoint(*latest);
  for (const auto& p : ck.model->named_parameters()) out[p.key()] = p.value().clone();
  for (const auto& b : ck.model->named_buffers()) out[b.key()] = b.value().clone();
  return out;
}

std::vector<std::vector<double>> losses(const std::string& db) {
  results::Database d(db);
  results::Statement s(d, "SELECT step, loss, grad_norm FROM train_metrics ORDER BY run_id, step");
  std::vector<std::vector<double>> rows;
  while (s.step()) rows.push_back({s.column_double(0), s.column_double(1), s.column_double(2)});
  return rows;
}

TEST(DataParallel, RankRowsPartitionTheGlobalBatch) {
  const auto batch = torch::arange(6 * 3).reshape({6, 3});
  const auto joined = torch::cat({train::rank_rows(batch, 0, 3), train::rank_rows(batch, 1, 3),
                                  train::rank_rows(batch, 2, 3)});
  EXPECT_TRUE(torch::equal(joined, batch));
  EXPECT_EQ(train::rank_rows(batch, 1, 3).size(0), 2);
  EXPECT_TRUE(torch::equal(train::rank_rows(batch, 1, 3)[0], batch[2]));
  EXPECT_THROW(train::rank_rows(batch, 0, 4), InputError);
}

TEST(DataParallel, EnvironmentErrorsNameTheVariable) {
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "2", 1);
  try {
    train::DistEnv::from_environment();
    ADD_FAILURE() << "RANK 2 of 2 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("RANK"), std::string::npos) << e.what();
  }
  setenv("RANK", "x", 1);
  EXPECT_THROW(train::DistEnv::from_environment(), InputError);
  unsetenv("RANK");
  unsetenv("WORLD_SIZE");
  EXPECT_FALSE(train::DistEnv::from_environment().distributed());
}

// Both arms (a DR+DA+EA model with balancing biases, a dense transformer), 8 steps each: the
// 2-process run's logged losses and final weights and buffers match the 1-process run's.
TEST(DataParallel, TwoGlooProcessesMatchOneProcess) {
  REQUIRE_GLOO();
  const auto dir = experiment_dir();
  const auto one = run_cli("run " + dir + "/tiny.json --db " + dir + "/one.db --out " + dir +
                           "/one --no-progress");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto two = run_cli("run " + dir + "/tiny.json --nproc 2 --db " + dir + "/two.db --out " +
                           dir + "/two --no-progress");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("2 workers"), std::string::npos) << two.output;

  const auto a = losses(dir + "/one.db"), b = losses(dir + "/two.db");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i][0], b[i][0]);
    EXPECT_NEAR(a[i][1], b[i][1], 1e-5 * std::abs(a[i][1])) << "loss at row " << i;
    EXPECT_NEAR(a[i][2], b[i][2], 1e-4 * std::abs(a[i][2]) + 1e-6) << "grad norm at row " << i;
  }
  for (const std::string arm : {"dreamer", "dense"}) {
    const auto w1 = final_state(dir + "/one/tiny/" + arm + "/seed0");
    const auto w2 = final_state(dir + "/two/tiny/" + arm + "/seed0");
    ASSERT_EQ(w1.size(), w2.size());
    ASSERT_FALSE(w1.empty());
    bool has_bias = false;
    for (const auto& [name, t] : w1) {
      ASSERT_TRUE(w2.count(name)) << name;
      EXPECT_TENSOR_NEAR(t, w2.at(name), 1e-5);
      has_bias = has_bias || name.find("selection_bias") != std::string::npos;
    }
    // The biases moved, so summing the ranks' load counts was exercised.
    if (arm == "dreamer") {
      EXPECT_TRUE(has_bias);
      for (const auto& [name, t] : w1) {
        if (name.find("selection_bias") != std::string::npos) {
          EXPECT_GT(t.abs().max().item<double>(), 0) << name;
        }
      }
    }
  }
}

TEST(DataParallel, GlobalBatchMustDivideByTheProcesses) {
  REQUIRE_GLOO();
  const auto dir = experiment_dir();  // workload.batch 4
  const auto r = run_cli("run " + dir + "/tiny.json --nproc 3 --db " + dir + "/r.db --out " + dir +
                         "/runs --no-progress");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("workload.batch: is 4, not divisible by the 3 processes"),
            std::string::npos)
      << r.output;
}

TEST(DataParallel, ResumeNeedsTheSameWorldSize) {
  REQUIRE_GLOO();
  const auto dir = experiment_dir();
  const std::string common =
      " --db " + dir + "/r.db --out " + dir + "/runs --no-progress --arm dense";
  const auto paused = run_cli("run " + dir + "/tiny.json --nproc 2 --max-steps 3" + common);
  ASSERT_EQ(paused.exit_code, 0) << paused.output;
  const auto resumed = run_cli("run " + dir + "/tiny.json --resume" + common);
  EXPECT_NE(resumed.exit_code, 0);
  EXPECT_NE(resumed.output.find("was written by 2 process(es); this run has 1"), std::string::npos)
      << resumed.output;
  // With the world size it was written by, it finishes.
  const auto again = run_cli("run " + dir + "/tiny.json --nproc 2 --resume" + common);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("resumed from"), std::string::npos) << again.output;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// One worker as torchrun starts it: the variables set, output to `log`.
pid_t start_worker(const std::string& dir, int rank, int port, const std::string& kill_at) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string log = dir + "/rank" + std::to_string(rank) + ".log";
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    if (kill_at.empty())
      unsetenv("DREAMER_TEST_KILL_AT");
    else
      setenv("DREAMER_TEST_KILL_AT", kill_at.c_str(), 1);
    std::vector<std::string> args = {
        DREAMER_CLI_PATH, "--threads",   "1",     "run",         dir + "/tiny.json",
        "--db",           dir + "/r.db", "--out", dir + "/runs", "--no-progress",
        "--dist-timeout", "20",          "--arm", "dense"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` at most `limit` (a hang guard, not a timing assertion); kills it after.
std::optional<int> wait_at_most(pid_t pid, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return std::nullopt;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Rank 1 is SIGKILLed after its third step: rank 0 must not hang in the next collective but exit
// non-zero, saying which rank it is and that another rank went away, and record the run failed.
TEST(DataParallel, KilledRankMakesTheOtherExitWithAClearError) {
  REQUIRE_GLOO();
  const auto dir = experiment_dir();
  const int port = free_port();
  const pid_t rank0 = start_worker(dir, 0, port, "");
  const pid_t rank1 = start_worker(dir, 1, port, "step@3");
  const auto code1 = wait_at_most(rank1, std::chrono::seconds(240));
  ASSERT_TRUE(code1.has_value()) << read_file(dir + "/rank1.log");
  EXPECT_EQ(*code1, 128 + SIGKILL) << read_file(dir + "/rank1.log");
  const auto code0 = wait_at_most(rank0, std::chrono::seconds(240));
  const auto log0 = read_file(dir + "/rank0.log");
  ASSERT_TRUE(code0.has_value()) << "rank 0 hung after rank 1 died:\n" << log0;
  EXPECT_NE(*code0, 0) << log0;
  EXPECT_NE(log0.find("distributed rank 0 of 2"), std::string::npos) << log0;
  EXPECT_NE(log0.find("another rank exited or did not answer"), std::string::npos) << log0;
  results::Database db(dir + "/r.db");
  results::Statement s(db, "SELECT status FROM runs");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.column_text(0), "failed");
}

}  // namespace
}  // namespace dreamer::testing
