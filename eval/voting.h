#pragma once
// Scoring several responses of one document (a task with `repeats`), as lm-eval's filter
// steps take_first_k, majority_vote and take_first do, plus the unbiased pass@k estimator.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "eval/extraction.h"
#include "eval/normalize.h"

namespace dreamer::eval {

// The most common string; among equally common ones the first to appear (Python's
// Counter(answers).most_common(1), which lm-eval's majority_vote uses). `answers` not empty.
std::string majority_vote(const std::vector<std::string>& answers);

// Probability that at least one of k responses drawn without replacement from n, of which c
// are correct, is correct: 1 - C(n-c, k) / C(n, k), computed as lm-eval's code_eval
// estimate_pass_at_k does (1 - prod(1 - k / i) for i in n-c+1..n).
double pass_at_k(int64_t n, int64_t c, int64_t k);

struct ReducedResponses {
  double value = 0;         // the document's score under this filter (0/1, or pass@k)
  nlohmann::json filtered;  // lm-eval filtered_resps entry: the answer, or every answer (pass@k)
  std::vector<std::string> answers;  // each considered response's extraction
};

// One filter over a document's responses: the first take_first_k, each extracted, then
// reduced and matched against `reference`.
ReducedResponses reduce_responses(const Filter& filter, const AnswerMatcher& matcher,
                                  const std::vector<std::string>& responses,
                                  const std::string& reference);

}  // namespace dreamer::eval
