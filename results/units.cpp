#include "results/units.h"

#include <cmath>
#include <cstdio>
#include <vector>

namespace dreamer::results {

namespace {

std::string three_digits(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", x);
  return buffer;
}

// x in the smallest unit that keeps the three-digit mantissa below 1000 after rounding (so
// 999999 becomes 1M and not 1e+03K; 1000 bytes become 0.977 KiB).
std::string with_unit(double x, double base, const std::vector<std::string>& units) {
  if (!std::isfinite(x)) return three_digits(x);
  size_t unit = 0;
  double scaled = x;
  while (unit + 1 < units.size() && std::abs(std::stod(three_digits(scaled))) >= 1000) {
    scaled /= base;
    ++unit;
  }
  return three_digits(scaled) + units[unit];
}

}  // namespace

std::string human_count(double n) {
  return with_unit(n, 1000, {"", "K", "M", "B", "T"});
}

std::string human_flops(double n) {
  return with_unit(n, 1000, {" FLOP", " kFLOP", " MFLOP", " GFLOP", " TFLOP", " PFLOP"});
}

std::string human_bytes(double n) {
  return with_unit(n, 1024, {" B", " KiB", " MiB", " GiB", " TiB", " PiB"});
}

std::string format_score(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3f", std::abs(x) < 0.0005 ? 0.0 : x);  // no "-0.000"
  return buffer;
}

std::string format_ratio(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2fx", x);
  return buffer;
}

std::string format_signed_score(double x) {
  const std::string s = format_score(std::abs(x));
  if (s == format_score(0)) return s;
  return (x > 0 ? "+" : "-") + s;
}

std::string format_interval(const Interval& interval, bool ratio) {
  auto format = [&](double x) { return ratio ? format_ratio(x) : format_score(x); };
  return "[" + format(interval.low) + ", " + format(interval.high) + "]" +
         (interval.method == IntervalMethod::kNormal ? "†" : "");
}

std::string format_p_value(double p) {
  if (p < 1e-4) return "p < 0.0001";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "p = %.3g", p);
  return buffer;
}

}  // namespace dreamer::results
