#pragma once
// Numbers as a reader of the report wants them: 1.2M parameters, 3.4 GFLOP, 512 MiB, 0.412.
#include <string>

namespace dreamer::results {

std::string human_count(double n);   // 950, 12.3K, 1.2M, 3.4B, 1.5T (three significant digits)
std::string human_flops(double n);   // 850 MFLOP, 3.4 GFLOP
std::string human_bytes(double n);   // 512 MiB, 1.5 GiB (powers of 1024)
std::string format_score(double x);  // three decimals: 0.412, 23.456
std::string format_ratio(double x);  // 2.29x

}  // namespace dreamer::results
