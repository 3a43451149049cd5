#include "eval/voting.h"

#include <map>

#include "util/errors.h"

namespace dreamer::eval {

std::string majority_vote(const std::vector<std::string>& answers) {
  require(!answers.empty(), "majority_vote", "needs at least one answer");
  std::map<std::string, int64_t> counts;
  for (const auto& a : answers) ++counts[a];
  // Scanning in order of appearance keeps the first of the tied answers.
  const std::string* best = &answers.front();
  for (const auto& a : answers)
    if (counts[a] > counts[*best]) best = &a;
  return *best;
}

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  require(n >= 1 && c >= 0 && c <= n && k >= 1 && k <= n, "pass_at_k",
          "needs 0 <= c <= n and 1 <= k <= n, got n=" + std::to_string(n) +
              " c=" + std::to_string(c) + " k=" + std::to_string(k));
  if (n - c < k) return 1.0;
  double none = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) none *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - none;
}

ReducedResponses reduce_responses(const Filter& filter, const AnswerMatcher& matcher,
                                  const std::vector<std::string>& responses,
                                  const std::string& reference) {
  const auto& spec = filter.spec();
  size_t n = responses.size();
  if (spec.take_first_k > 0) {
    require(static_cast<size_t>(spec.take_first_k) <= n, spec.name,
            "take_first_k " + std::to_string(spec.take_first_k) +
                " needs that many responses, got " + std::to_string(n));
    n = static_cast<size_t>(spec.take_first_k);
  }
  require(n > 0, spec.name, "no responses to score");
  ReducedResponses out;
  for (size_t r = 0; r < n; ++r) out.answers.push_back(filter.apply(responses[r]));
  switch (spec.reduce) {
    case Reduction::kTakeFirst:
    case Reduction::kMajorityVote: {
      const auto answer =
          spec.reduce == Reduction::kTakeFirst ? out.answers.front() : majority_vote(out.answers);
      out.value = matcher.match(answer, reference) ? 1.0 : 0.0;
      out.filtered = answer;
      break;
    }
    case Reduction::kPassAtK: {
      int64_t correct = 0;
      for (const auto& a : out.answers) correct += matcher.match(a, reference);
      out.value = pass_at_k(static_cast<int64_t>(n), correct, spec.k);
      out.filtered = out.answers;
      break;
    }
  }
  return out;
}

}  // namespace dreamer::eval
