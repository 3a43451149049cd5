#include "eval/metrics.h"

#include <cmath>

namespace dreamer::eval {

double mean(const std::vector<double>& values) {
  if (values.empty()) return std::nan("");
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

std::optional<double> mean_stderr(const std::vector<double>& values) {
  const size_t n = values.size();
  if (n < 2) return std::nullopt;
  const double mu = mean(values);
  double ss = 0;
  for (double v : values) ss += (v - mu) * (v - mu);
  return std::sqrt(ss / static_cast<double>(n - 1)) / std::sqrt(static_cast<double>(n));
}

}  // namespace dreamer::eval
