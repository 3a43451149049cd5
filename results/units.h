#pragma once
// Numbers as a reader of the report wants them: 1.2M parameters, 3.4 GFLOP, 512 MiB, 0.412.
#include <string>

#include "results/bootstrap.h"

namespace dreamer::results {

std::string human_count(double n);   // 950, 12.3K, 1.2M, 3.4B, 1.5T (three significant digits)
std::string human_flops(double n);   // 850 MFLOP, 3.4 GFLOP
std::string human_bytes(double n);   // 512 MiB, 1.5 GiB (powers of 1024)
std::string format_score(double x);  // three decimals: 0.412, 23.456
std::string format_ratio(double x);  // 2.29x
std::string format_signed_score(double x);  // +0.200, -0.105, 0.000
// "[0.431, 0.569]" (scores) or "[1.41x, 4.00x]" (ratios); a trailing "†" marks a normal
// interval from stored standard errors rather than a bootstrap over items.
std::string format_interval(const Interval& interval, bool ratio = false);
std::string format_p_value(double p);  // "p = 0.0215", "p = 1", "p < 0.0001"

}  // namespace dreamer::results
