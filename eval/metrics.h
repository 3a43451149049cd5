#pragma once
// Aggregations of per-document scores, as lm-eval's lm_eval/api/metrics.py.
#include <optional>
#include <vector>

namespace dreamer::eval {

double mean(const std::vector<double>& values);
// Standard error of the mean: sample standard deviation (n - 1 denominator) / sqrt(n)
// (lm-eval mean_stderr). nullopt for fewer than two values.
std::optional<double> mean_stderr(const std::vector<double>& values);

}  // namespace dreamer::eval
