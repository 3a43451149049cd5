#pragma once
// Human-readable numbers for tables: 1.23M parameters, 4.5 GFLOP, 512 MiB, 3:05.
#include <string>

namespace dreamer {

std::string human_count(double n);  // 950, 12.3k, 1.23M, 4.56B
std::string human_flops(double f);  // 12.3 MFLOP, 4.5 GFLOP, 1.2 PFLOP
std::string human_bytes(double b);  // 812 KiB, 512 MiB, 3.2 GiB

}  // namespace dreamer
