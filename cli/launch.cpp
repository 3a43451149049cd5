#include "cli/launch.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "util/errors.h"

namespace dreamer::cli {

namespace {

std::vector<pid_t> g_workers;  // for the signal handler

void forward_signal(int signal) {
  for (const pid_t pid : g_workers)
    if (pid > 0) kill(pid, signal);
}

// This process's arguments, from /proc (the subcommand's callback has no argv).
std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] == '\0') args.push_back(all.substr(start, i - start)), start = i + 1;
  return args;
}

// A TCP port free on the loopback interface now (the kernel picks it).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  require(fd >= 0, "--nproc", "cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  require(ok, "--nproc", "cannot find a free port on 127.0.0.1 (set MASTER_PORT)");
  return ntohs(addr.sin_port);
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

int exit_code(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace

int launch_local_workers(int nproc, bool threads_given) {
  require(std::getenv("WORLD_SIZE") == nullptr || std::string(std::getenv("WORLD_SIZE")) == "1",
          "--nproc",
          "this process is already a distributed worker (WORLD_SIZE is set): drop "
          "--nproc under torchrun or srun");
  // The same command line without --nproc N.
  std::vector<std::string> args;
  const auto own = own_arguments();
  for (size_t i = 1; i < own.size(); ++i) {
    if (own[i] == "--nproc") {
      ++i;
      continue;
    }
    if (own[i].rfind("--nproc=", 0) == 0) continue;
    args.push_back(own[i]);
  }
  if (!threads_given) {
    // N workers each using every core would oversubscribe the machine.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    args.push_back("--threads");
    args.push_back(std::to_string(std::max(1u, cores / static_cast<unsigned>(nproc))));
  }
  const char* addr = std::getenv("MASTER_ADDR");
  const std::string master_addr = addr && *addr ? addr : "127.0.0.1";
  const char* port = std::getenv("MASTER_PORT");
  const std::string master_port = port && *port ? port : std::to_string(free_port());

  std::cout << "dreamer run: " << nproc << " workers, rendezvous at " << master_addr << ":"
            << master_port << "\n";
  std::cout.flush();
  g_workers.assign(nproc, -1);
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = fork();
    require(pid >= 0, "--nproc", "fork failed for worker " + std::to_string(rank));
    if (pid == 0) {
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("MASTER_ADDR", master_addr.c_str(), 1);
      setenv("MASTER_PORT", master_port.c_str(), 1);
      std::vector<char*> argv;
      std::string exe = "/proc/self/exe";
      argv.push_back(exe.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    g_workers[rank] = pid;
  }
  signal(SIGINT, forward_signal);
  signal(SIGTERM, forward_signal);

  using Clock = std::chrono::steady_clock;
  int result = 0, running = nproc;
  bool killing = false;  // SIGTERM sent; SIGKILL at kill_at
  Clock::time_point kill_at{};
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      const auto it = std::find(g_workers.begin(), g_workers.end(), pid);
      if (it == g_workers.end()) continue;
      const int rank = static_cast<int>(it - g_workers.begin());
      *it = -1;
      --running;
      if (exit_code(status) != 0 && result == 0) {
        result = exit_code(status);
        if (running > 0) {
          std::cerr << "dreamer run --nproc: worker rank " << rank << " " << describe_exit(status)
                    << "; stopping the other workers\n";
          forward_signal(SIGTERM);
          killing = true;
          kill_at = Clock::now() + std::chrono::seconds(30);
        }
      }
      continue;
    }
    if (killing && Clock::now() > kill_at) {
      forward_signal(SIGKILL);
      killing = false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return result;
}

}  // namespace dreamer::cli
