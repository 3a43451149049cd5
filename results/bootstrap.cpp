#include "results/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dreamer::results {

uint64_t Resampler::next() {
  // SplitMix64 (Steele, Lea, Flood 2014), as in java.util.SplittableRandom.
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

size_t Resampler::below(size_t n) {
  // Lemire's multiply-shift: the bias is below n / 2^64, far under any bootstrap's resolution.
  return static_cast<size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
}

double Resampler::uniform() {
  return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53;
}

double Resampler::normal() {
  const double u1 = uniform(), u2 = uniform();
  constexpr double kTwoPi = 6.283185307179586;  // M_PI is not standard C++
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

double quantile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) throw std::invalid_argument("quantile of no values");
  const double h = (static_cast<double>(sorted.size()) - 1.0) * p;
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Interval percentile_interval(std::vector<double> replicates) {
  std::sort(replicates.begin(), replicates.end());
  const double tail = (1.0 - kConfidence) / 2.0;
  return {quantile(replicates, tail), quantile(replicates, 1.0 - tail), IntervalMethod::kBootstrap};
}

Interval normal_interval(double estimate, double standard_error) {
  return {estimate - kNormalQuantile * standard_error, estimate + kNormalQuantile * standard_error,
          IntervalMethod::kNormal};
}

std::optional<Replicates> resample(const std::vector<Unit>& units, int resamples, uint64_t seed) {
  if (units.empty()) return std::nullopt;
  const size_t n_measurements = units.front().size();
  size_t n_sets = 0;
  Replicates out;
  for (const auto& unit : units) {
    if (unit.size() != n_measurements)
      throw std::invalid_argument("bootstrap units with different numbers of measurements");
    for (const auto& m : unit) {
      if (m.items.empty() && !m.stderr_) return std::nullopt;
      out.from_items = out.from_items && !m.items.empty();
      n_sets = std::max(n_sets, m.item_set + 1);
    }
  }
  // Per unit and item set: how many items its measurements share (0: none has items).
  std::vector<std::vector<size_t>> set_size(units.size(), std::vector<size_t>(n_sets, 0));
  for (size_t u = 0; u < units.size(); ++u)
    for (const auto& m : units[u]) {
      if (m.items.empty()) continue;
      size_t& n = set_size[u][m.item_set];
      if (n != 0 && n != m.items.size())
        throw std::invalid_argument("bootstrap measurements of one item set differ in size");
      n = m.items.size();
      if (!m.weights.empty() && m.weights.size() != m.items.size())
        throw std::invalid_argument("bootstrap measurement has weights for not every item");
    }

  Resampler rng(seed);
  std::vector<size_t> draw;
  std::vector<double> sums(n_measurements);
  out.values.reserve(static_cast<size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (size_t pick = 0; pick < units.size(); ++pick) {
      const size_t u = rng.below(units.size());
      const Unit& unit = units[u];
      for (size_t set = 0; set < n_sets; ++set) {
        const size_t n = set_size[u][set];
        if (n == 0) continue;
        draw.resize(n);
        for (auto& i : draw) i = rng.below(n);
        for (size_t k = 0; k < n_measurements; ++k) {
          const Measurement& m = unit[k];
          if (m.item_set != set || m.items.empty()) continue;
          if (m.weights.empty()) {
            double sum = 0;
            for (size_t i : draw) sum += m.items[i];
            sums[k] += sum / static_cast<double>(n);
          } else {
            double sum = 0, weight = 0;
            for (size_t i : draw) sum += m.weights[i] * m.items[i], weight += m.weights[i];
            sums[k] += weight > 0 ? sum / weight : 0.0;
          }
        }
      }
      for (size_t k = 0; k < n_measurements; ++k)
        if (unit[k].items.empty()) sums[k] += unit[k].value + *unit[k].stderr_ * rng.normal();
    }
    for (auto& s : sums) s /= static_cast<double>(units.size());
    out.values.push_back(sums);
  }
  return out;
}

std::optional<Interval> mean_interval(const std::vector<Unit>& units, size_t measurement) {
  if (units.empty()) return std::nullopt;
  std::vector<Unit> only(units.size());
  bool all_items = true, all_stderr = true;
  double sum = 0, variance = 0;
  for (size_t u = 0; u < units.size(); ++u) {
    const Measurement& m = units[u].at(measurement);
    only[u] = {m};
    only[u][0].item_set = 0;
    all_items = all_items && !m.items.empty();
    all_stderr = all_stderr && m.stderr_.has_value();
    sum += m.value;
    if (m.stderr_) variance += *m.stderr_ * *m.stderr_;
  }
  const double n = static_cast<double>(units.size());
  if (all_items) {
    const auto replicates = resample(only);
    std::vector<double> column;
    for (const auto& row : replicates->values) column.push_back(row[0]);
    return percentile_interval(std::move(column));
  }
  if (all_stderr) return normal_interval(sum / n, std::sqrt(variance) / n);
  return std::nullopt;
}

double mcnemar_exact_p(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  const int64_t k = std::min(b, c);
  // P(X <= k) for X ~ Binomial(n, 1/2), term by term in log space (n may be thousands).
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  double tail = 0;
  for (int64_t i = 0; i <= k; ++i)
    tail +=
        std::exp(std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(i) + 1) -
                 std::lgamma(static_cast<double>(n - i) + 1) + log_half_n);
  return std::min(1.0, 2.0 * tail);
}

}  // namespace dreamer::results
