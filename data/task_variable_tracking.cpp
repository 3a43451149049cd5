#include <algorithm>
#include <stdexcept>
#include <vector>

#include "data/synthetic.h"

namespace dreamer::data {

Example variable_tracking(std::mt19937_64& rng, int steps, int distractors) {
  if (steps < 1) throw std::invalid_argument("variable_tracking: steps must be >= 1");
  if (distractors < 0) throw std::invalid_argument("variable_tracking: distractors must be >= 0");
  if (steps + 1 + distractors > 26)
    throw std::invalid_argument(
        "variable_tracking: steps + 1 + distractors must be <= 26 (one letter per variable)");
  std::string letters = "abcdefghijklmnopqrstuvwxyz";
  std::shuffle(letters.begin(), letters.end(), rng);
  std::uniform_int_distribution<int> digit(0, 9);

  // The chain: letters[0] = d, letters[1] = letters[0], ..., letters[steps] = letters[steps-1].
  std::vector<std::string> assignments;
  const int value = digit(rng);
  assignments.push_back(std::string(1, letters[0]) + "=" + std::to_string(value));
  for (int i = 1; i <= steps; ++i)
    assignments.push_back(std::string(1, letters[i]) + "=" + letters[i - 1]);
  // Distractors point at a digit or at any variable defined so far (never at themselves or
  // later ones, so there are no cycles), including chain variables.
  for (int j = 0; j < distractors; ++j) {
    const int index = steps + 1 + j;
    std::uniform_int_distribution<int> target(-1, index - 1);
    const int t = target(rng);
    assignments.push_back(std::string(1, letters[index]) + "=" +
                          (t < 0 ? std::to_string(digit(rng)) : std::string(1, letters[t])));
  }
  std::shuffle(assignments.begin(), assignments.end(), rng);

  std::string prompt;
  for (const auto& a : assignments) prompt += (prompt.empty() ? "" : ",") + a;
  prompt += ";" + std::string(1, letters[steps]) + "=";
  return {prompt, std::to_string(value), steps};
}

}  // namespace dreamer::data
