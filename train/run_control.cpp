#include "train/run_control.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <vector>

namespace dreamer::train {

namespace {

volatile sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int signal) {
  if (g_stop_signal != 0) _exit(128 + signal);  // the second signal: at once
  g_stop_signal = signal;
  const char message[] =
      "\nstopping at the next step boundary after a checkpoint (signal again to exit at once)\n";
  (void)!write(2, message, sizeof message - 1);
}

struct KillTarget {
  std::string name;
  long nth = 1;
  int signal = SIGKILL;
};

// DREAMER_TEST_KILL_AT: comma-separated NAME[@N][:SIGNAL] targets.
const std::vector<KillTarget>& kill_targets() {
  static const std::vector<KillTarget> targets = [] {
    std::vector<KillTarget> out;
    const char* env = std::getenv("DREAMER_TEST_KILL_AT");
    std::string list = env ? env : "";
    size_t begin = 0;
    while (begin < list.size()) {
      const size_t end = std::min(list.find(',', begin), list.size());
      std::string spec = list.substr(begin, end - begin);
      begin = end + 1;
      KillTarget t;
      if (const auto colon = spec.find(':'); colon != std::string::npos) {
        t.signal = std::atoi(spec.c_str() + colon + 1);
        spec.resize(colon);
      }
      if (const auto at = spec.find('@'); at != std::string::npos) {
        t.nth = std::atol(spec.c_str() + at + 1);
        spec.resize(at);
      }
      t.name = spec;
      if (!t.name.empty()) out.push_back(t);
    }
    return out;
  }();
  return targets;
}

std::function<void(const std::string&)>& hook() {
  static auto* h = new std::function<void(const std::string&)>();  // never destroyed
  return *h;
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking reads and writes continue after the first signal
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_requested() {
  return g_stop_signal;
}

void request_stop(int signal) {
  g_stop_signal = signal;
}

void test_point(const std::string& name) {
  if (hook()) hook()(name);
  const auto& targets = kill_targets();
  if (targets.empty()) return;
  static std::map<std::string, long> reached;
  const long count = ++reached[name];
  for (const auto& t : targets)
    if (t.name == name && t.nth == count)
      ::raise(t.signal);  // this thread: handled before it returns
}

void set_test_point_hook(std::function<void(const std::string&)> h) {
  hook() = std::move(h);
}

}  // namespace dreamer::train
