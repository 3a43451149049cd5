// The crash-test harness: `dreamer run` children SIGKILLed at random (seeded) moments and at
// aimed points (checkpoint writes, the gap between a checkpoint and its scores, evaluation),
// then resumed until they finish; the final database must equal an uninterrupted run's, row
// for row, but for timestamps and timings (tests/experiments/db_rows.h). Also a real SIGINT,
// and a second one during the first's checkpoint.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <random>
#include <thread>

#include "tests/experiments/db_rows.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "util/fs.h"

namespace dreamer::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
};

// `dreamer --threads 1 run FILE --db DB --out OUT --no-progress [--resume]`, output to `log`,
// with DREAMER_TEST_KILL_AT=kill_at when given.
Child start(const std::string& dir, bool resume, const std::string& kill_at) {
  std::vector<std::string> args = {
      DREAMER_CLI_PATH, "--threads",         "1",     "run",         dir + "/tiny.json",
      "--db",           dir + "/results.db", "--out", dir + "/runs", "--no-progress"};
  if (resume) args.push_back("--resume");
  const std::string log = dir + "/log.txt";
  Child child;
  child.pid = fork();
  if (child.pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    if (kill_at.empty())
      unsetenv("DREAMER_TEST_KILL_AT");
    else
      setenv("DREAMER_TEST_KILL_AT", kill_at.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return child;
}

// The child's exit: its code, or -signal when a signal ended it.
int wait_for(const Child& child) {
  int status = 0;
  waitpid(child.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string log_of(const std::string& dir) {
  std::ifstream in(dir + "/log.txt");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string make_experiment_dir() {
  const auto dir = temp_dir();
  std::ofstream(dir + "/tiny.json") << tiny_experiment().dump();
  return dir;
}

// Resumes until a run exits 0 (at most `attempts` times); returns how many it took.
int resume_to_the_end(const std::string& dir, int attempts = 6) {
  for (int i = 1; i <= attempts; ++i) {
    const int code = wait_for(start(dir, true, ""));
    if (code == 0) return i;
    ADD_FAILURE() << "resume exited " << code << ":\n" << log_of(dir);
  }
  return attempts;
}

class CrashTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_dir_ = new std::string(make_experiment_dir());
    const auto t0 = Clock::now();
    const int code = wait_for(start(*reference_dir_, false, ""));
    ASSERT_EQ(code, 0) << log_of(*reference_dir_);
    reference_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
    reference_rows_ = new std::string(result_rows(*reference_dir_ + "/results.db"));
  }
  static std::string* reference_dir_;
  static std::string* reference_rows_;
  static double reference_seconds_;
};
std::string* CrashTest::reference_dir_ = nullptr;
std::string* CrashTest::reference_rows_ = nullptr;
double CrashTest::reference_seconds_ = 0;

TEST_F(CrashTest, KillsAtAimedPointsThenResumeEqualAnUninterruptedRun) {
  // Two runs (dreamer, then dense) of two checkpoints (steps 4 and 8) and one task each:
  // checkpoint-write@3 is inside the dreamer run's first checkpoint, checkpoint-renamed@2 after
  // its last checkpoint's rename and before its scores, eval-task@2 in that evaluation,
  // eval-stored@3 after the dense run's first scores and before they count as evaluated.
  for (const char* point : {"checkpoint-write@3", "checkpoint-before-rename@2",
                            "checkpoint-renamed@2", "eval-task@2", "eval-stored@3", "step@11"}) {
    const auto dir = make_experiment_dir();
    EXPECT_EQ(wait_for(start(dir, false, point)), -SIGKILL) << point << "\n" << log_of(dir);
    resume_to_the_end(dir);
    EXPECT_EQ(result_rows(dir + "/results.db"), *reference_rows_) << point << "\n" << log_of(dir);
  }
}

TEST_F(CrashTest, KillsAtRandomMomentsThenResumeEqualAnUninterruptedRun) {
  std::mt19937 random(17);  // seeded: a failure reproduces
  std::uniform_real_distribution<double> when(0.0, reference_seconds_);
  for (int trial = 0; trial < 3; ++trial) {
    const auto dir = make_experiment_dir();
    // Two kills per trial, each at a random moment of one attempt.
    for (int kill = 0; kill < 2; ++kill) {
      const auto child = start(dir, kill > 0, "");
      std::this_thread::sleep_for(std::chrono::duration<double>(when(random)));
      ::kill(child.pid, SIGKILL);
      wait_for(child);
    }
    resume_to_the_end(dir);
    EXPECT_EQ(result_rows(dir + "/results.db"), *reference_rows_) << "trial " << trial << "\n"
                                                                  << log_of(dir);
  }
}

TEST_F(CrashTest, SigintCheckpointsAndExitsNonZeroAndASecondOneExitsAtOnce) {
  const auto dir = make_experiment_dir();
  // SIGINT (2) after the 3rd step: a checkpoint at step 3, the run interrupted, exit 128 + 2.
  EXPECT_EQ(wait_for(start(dir, false, "step@3:2")), 130) << log_of(dir);
  EXPECT_NE(log_of(dir).find("tiny/dreamer/seed0: interrupted at step 3"), std::string::npos)
      << log_of(dir);
  {
    results::Database d(dir + "/results.db");
    results::Statement s(d, "SELECT status, steps_trained FROM runs WHERE arm = 'dreamer'");
    ASSERT_TRUE(s.step());
    EXPECT_EQ(s.column_text(0), "interrupted");
    EXPECT_EQ(s.column_int(1), 3);
  }
  // A second SIGINT while the first one's checkpoint (step 3) is being written: out at once
  // (130), the half-written checkpoint left as .partial, which the resume ignores.
  const auto dir2 = make_experiment_dir();
  EXPECT_EQ(wait_for(start(dir2, false, "step@3:2,checkpoint-write@1:2")), 130) << log_of(dir2);
  EXPECT_TRUE(fs::is_directory(dir2 + "/runs/tiny/dreamer/seed0/step-000003.partial"));
  EXPECT_FALSE(fs::exists(dir2 + "/runs/tiny/dreamer/seed0/step-000003"));
  resume_to_the_end(dir);
  resume_to_the_end(dir2);
  EXPECT_EQ(result_rows(dir + "/results.db"), *reference_rows_) << log_of(dir);
  EXPECT_EQ(result_rows(dir2 + "/results.db"), *reference_rows_) << log_of(dir2);
}

}  // namespace
}  // namespace dreamer::testing
