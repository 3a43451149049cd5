#include <algorithm>
#include <stdexcept>
#include <vector>

#include "data/synthetic.h"

namespace dreamer::data {

Example graph_reachability(std::mt19937_64& rng, int steps, int branches) {
  if (steps < 1) throw std::invalid_argument("graph_reachability: steps must be >= 1");
  if (branches < 0) throw std::invalid_argument("graph_reachability: branches must be >= 0");
  if (2 * (steps + 1) + 2 * branches > 26)
    throw std::invalid_argument(
        "graph_reachability: 2*(steps+1) + 2*branches must be <= 26 (one letter per node)");
  std::string letters = "abcdefghijklmnopqrstuvwxyz";
  std::shuffle(letters.begin(), letters.end(), rng);
  size_t next = 0;
  auto edge = [](char from, char to) { return std::string{from, '>', to}; };

  std::vector<std::string> edges;
  std::string chain[2];
  for (auto& c : chain) {
    c = letters.substr(next, steps + 1);
    next += steps + 1;
    for (int i = 0; i < steps; ++i) edges.push_back(edge(c[i], c[i + 1]));
  }
  // Dead ends hang off any chain node; they lengthen the search but never shorten the path,
  // so the "yes" path stays exactly `steps` hops and the two components stay disjoint.
  for (const auto& c : chain) {
    std::uniform_int_distribution<int> at(0, steps);
    for (int b = 0; b < branches; ++b) edges.push_back(edge(c[at(rng)], letters[next++]));
  }
  std::shuffle(edges.begin(), edges.end(), rng);

  const bool reachable = std::bernoulli_distribution(0.5)(rng);
  const char source = chain[0][0], target = reachable ? chain[0][steps] : chain[1][steps];
  std::string prompt;
  for (const auto& e : edges) prompt += (prompt.empty() ? "" : ",") + e;
  prompt += ";" + edge(source, target) + "?";
  return {prompt, reachable ? "yes" : "no", steps};
}

}  // namespace dreamer::data
