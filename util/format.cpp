#include "util/format.h"

#include <cmath>
#include <cstdio>

namespace dreamer {

namespace {

std::string scaled(double value, double base, const char* const* units, int n_units, const char* suffix) {
  int u = 0;
  double v = value;
  while (std::fabs(v) >= base && u + 1 < n_units) v /= base, ++u;
  char text[48];
  const int digits = std::fabs(v) >= 100 || u == 0 ? 0 : std::fabs(v) >= 10 ? 1 : 2;
  std::snprintf(text, sizeof text, "%.*f%s%s", digits, v, units[u], suffix);
  return text;
}

}  // namespace

std::string human_count(double n) {
  static const char* const units[] = {"", "k", "M", "B", "T"};
  return scaled(n, 1000, units, 5, "");
}

std::string human_flops(double f) {
  static const char* const units[] = {" ", " k", " M", " G", " T", " P", " E"};
  return scaled(f, 1000, units, 7, "FLOP");
}

std::string human_bytes(double b) {
  static const char* const units[] = {" B", " KiB", " MiB", " GiB", " TiB"};
  return scaled(b, 1024, units, 5, "");
}

}  // namespace dreamer
