#pragma once
// Expert-selection diversity (docs/EVAL.md gives every formula; ANCHORS section E their origin).
// Routing traces stream in (one per forward call); counts and per-token statistics accumulate
// so a whole benchmark never has to keep its traces. Depth 0 in the output means "all depths
// pooled"; depths 1..D are the recurrence steps (or layers) of the site.
#include <torch/torch.h>

#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "models/model.h"

namespace dreamer::eval {

struct ExpertCount {
  std::string site;
  int64_t depth = 0;
  int64_t expert_id = 0;
  int64_t count = 0;
};

struct ExpertMetric {
  std::string site;
  int64_t depth = 0;  // 0: pooled over depths
  std::string metric;
  double value = 0;
};

class DiversityAccumulator {
 public:
  void add(const models::RoutingTrace& trace);
  bool empty() const { return sites_.empty(); }
  std::vector<ExpertCount> counts() const;
  std::vector<ExpertMetric> metrics() const;

 private:
  struct Mean {
    double sum = 0;
    int64_t n = 0;
    double value() const { return n ? sum / static_cast<double>(n) : 0.0; }
  };
  struct Site {
    int64_t n_experts = 0, k = 0;
    std::map<int64_t, std::vector<int64_t>> counts;             // depth -> [E]
    std::map<int64_t, int64_t> tokens;                          // depth -> rows seen
    std::map<int64_t, std::unordered_set<std::string>> combos;  // depth -> sorted k-tuples
    std::unordered_set<std::string> pooled_combos;
    std::map<int64_t, Mean> consecutive;                  // d -> |S(d) n S(d-1)| / k
    std::map<std::pair<int64_t, int64_t>, Mean> jaccard;  // (d < d') -> Jaccard
    Mean path_unique;                                     // |U_d S(d)| / min(E, kD)
  };
  void add_site(Site& site, std::vector<const models::RoutingRecord*> records);
  std::map<std::string, Site> sites_;
};

// Usage statistics of one count vector (exposed for the tests and the trainer).
double usage_entropy(const std::vector<int64_t>& counts);              // H(p), natural log
double usage_relative_perplexity(const std::vector<int64_t>& counts);  // exp(H(p)) / E
double dead_expert_fraction(const std::vector<int64_t>& counts);
double max_violation(const std::vector<int64_t>& counts);  // (max c - mean c) / mean c
double usage_overlap(const std::vector<int64_t>& a,
                     const std::vector<int64_t>& b);  // sum_e min(p, q)

// min, max and max - min of every buffer named "...selection_bias" (balancing biases), with
// the buffer's module path as the site and depth 0.
std::vector<ExpertMetric> balancing_bias_metrics(const torch::nn::Module& model);

}  // namespace dreamer::eval
