#include "util/cpu_load.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace dreamer::util {

std::optional<CpuTimes> parse_proc_stat(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("cpu ", 0) != 0) continue;
    std::istringstream fields(line.substr(4));
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    std::vector<uint64_t> v;
    uint64_t x = 0;
    while (v.size() < 8 && fields >> x) v.push_back(x);
    if (v.size() < 4) return std::nullopt;
    CpuTimes t;
    for (uint64_t f : v) t.total += f;
    t.idle = v[3] + (v.size() > 4 ? v[4] : 0);
    return t;
  }
  return std::nullopt;
}

int threads_for_idle_share(int cores, const CpuTimes& before, const CpuTimes& after) {
  cores = std::max(1, cores);
  if (after.total <= before.total || after.idle < before.idle) return cores;
  const double idle_share = static_cast<double>(after.idle - before.idle) /
                            static_cast<double>(after.total - before.total);
  const int idle_cores = static_cast<int>(std::lround(std::min(1.0, idle_share) * cores));
  return std::clamp(idle_cores, 1, cores);
}

namespace {
std::optional<CpuTimes> read_proc_stat() {
  std::ifstream in("/proc/stat");
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return parse_proc_stat(text.str());
}
}  // namespace

int free_core_threads(int cores, int sample_ms) {
  const auto before = read_proc_stat();
  if (!before) return std::max(1, cores);
  std::this_thread::sleep_for(std::chrono::milliseconds(sample_ms));
  const auto after = read_proc_stat();
  if (!after) return std::max(1, cores);
  return threads_for_idle_share(cores, *before, *after);
}

}  // namespace dreamer::util
