#include "train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace dreamer::train {

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return text;
}

Progress::Progress(std::string label, int64_t total_steps, bool enabled)
    : label_(std::move(label)),
      total_(std::max<int64_t>(1, total_steps)),
      enabled_(enabled),
      tty_(isatty(fileno(stdout)) != 0) {}

void Progress::update(int64_t step, int64_t steps_this_process, double elapsed_s,
                      const std::string& stats) {
  if (!enabled_) return;
  const double per_step = steps_this_process > 0 ? elapsed_s / steps_this_process : 0;
  const std::string eta = format_duration(per_step * static_cast<double>(total_ - step));
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * step / total_);
    std::cout << "\r\033[K" << label_ << " [" << std::string(filled, '#')
              << std::string(kWidth - filled, '.') << "] " << step << "/" << total_ << " " << stats
              << " ETA " << eta << std::flush;
    open_line_ = true;
  } else if (step >= next_line_ || step == total_) {
    next_line_ = step + std::max<int64_t>(1, total_ / 20);
    std::cout << label_ << " step " << step << "/" << total_ << " " << stats << " eta " << eta
              << "\n";
  }
}

void Progress::finish() {
  if (open_line_) std::cout << "\n";
  open_line_ = false;
}

}  // namespace dreamer::train
