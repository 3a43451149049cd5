#include "tests/test_util.h"

#include <execinfo.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "util/fs.h"

namespace dreamer::testing {

CommandResult run_cli(const std::string& args) {
  const std::string command = std::string(DREAMER_CLI_PATH) + " --threads 1 " + args + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

namespace {
// Directories made by temp_dir(), removed by a GoogleTest environment after the last test:
// inside RUN_ALL_TESTS rather than in a static destructor or an atexit handler, both of which
// crashed at process exit in LibTorch 2.11/CUDA builds after every test had passed.
std::vector<std::string>& temp_dirs() {
  static auto* dirs = new std::vector<std::string>();  // never destroyed: no exit-time work
  return *dirs;
}

class TempDirCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const auto& d : temp_dirs()) fs::try_remove_all(d);  // best effort
    temp_dirs().clear();
  }
};

// A crash prints its stack (the GPU machines have no debugger): the frames name the culprit.
void print_stack_and_die(int signal) {
  void* frames[64];
  const int n = backtrace(frames, 64);
  const char header[] = "\n*** fatal signal; stack:\n";
  (void)!write(2, header, sizeof header - 1);
  backtrace_symbols_fd(frames, n, 2);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}
[[maybe_unused]] const bool kStackOnCrash = [] {
  std::signal(SIGSEGV, print_stack_and_die);
  std::signal(SIGABRT, print_stack_and_die);
  return true;
}();

[[maybe_unused]] const auto* const kCleanup =
    ::testing::AddGlobalTestEnvironment(new TempDirCleanup);
}  // namespace

std::string temp_dir() {
  std::string pattern = fs::join(fs::temp_directory(), "dreamer_test_XXXXXX");
  char* made = mkdtemp(pattern.data());
  if (!made) throw std::runtime_error("mkdtemp failed");
  temp_dirs().push_back(made);
  return made;
}

}  // namespace dreamer::testing
