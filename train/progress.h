#pragma once
// Training progress on stdout: a bar redrawn in place (with ETA) when stdout is a terminal,
// one plain line per update otherwise (logs, CI, pipes).
#include <cstdint>
#include <string>

namespace dreamer::train {

class Progress {
 public:
  Progress(std::string label, int64_t total_steps, bool enabled);
  // `elapsed_s` is the training time so far, `done` the steps done this process started with
  // excluded from the ETA (so a resumed run estimates from its own speed).
  void update(int64_t step, int64_t steps_this_process, double elapsed_s, const std::string& stats);
  void finish();  // ends the bar's line

 private:
  std::string label_;
  int64_t total_;
  bool enabled_, tty_, open_line_ = false;
  int64_t next_line_ = 0;  // without a terminal: about 20 lines per run, not one per log
};

std::string format_duration(double seconds);  // "1:02:03", "4:05"

}  // namespace dreamer::train
