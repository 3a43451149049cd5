#pragma once
// The "Findings" of a report: what the numbers say, in sentences, whichever way they went.
#include <string>
#include <vector>

#include "results/analysis.h"

namespace dreamer::results {

std::vector<std::string> findings(const ExperimentAnalysis& analysis);

// "2.29x fewer tokens", "0.80x (1.25x more tokens)", "not reached (< 1.00x)".
std::string describe_ratio(const TokensRatio& ratio);

}  // namespace dreamer::results
