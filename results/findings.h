#pragma once
// The "Findings" of a report: what the numbers say, in sentences, whichever way they went. A
// difference is stated only when it is significant (docs/RESULTS.md, "Statistics"); otherwise
// the sentence says that no difference was detected at this size.
#include <string>
#include <vector>

#include "results/analysis.h"

namespace dreamer::results {

std::vector<std::string> findings(const ExperimentAnalysis& analysis);

// "2.29x fewer tokens (95% interval [1.41x, 4.00x])", "no difference detected at this size
// (2.00x, 95% interval [0.80x, 3.10x] includes 1)", "not reached (< 1.00x) ...".
std::string describe_ratio(const TokensRatio& ratio);

// "a is higher by 0.200 [0.120, 0.280] (paired, n=100, McNemar p = 0.0001)" or "no
// difference detected at this size (n=100, p = 0.42; difference -0.100 [...])".
std::string describe_comparison(const Comparison& c, const std::string& a, const std::string& b,
                                const ExperimentTask& task);

}  // namespace dreamer::results
