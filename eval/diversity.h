#pragma once
// Expert-selection diversity (docs/EVAL.md gives every formula; ANCHORS section E their origin).
// Routing traces stream in (one per forward call); counts and per-token statistics accumulate
// so a whole benchmark never has to keep its traces.
//
// Expert pools: the records of one site that name the same pool (RoutingRecord::pool) select
// from one parameter set, so expert e at depth 2 and expert e at depth 5 are the same expert
// only inside a pool. Metrics that compare depths (overlaps, Jaccard, path uniqueness, the
// universal score) compare only depths of the same pool; counts pooled over depths give every
// (pool, expert) pair its own id.
//
// Output rows (site, depth):
//   "<site>@<pool>", d >= 1   one depth (recurrence step or layer) of the pool
//   "<site>@<pool>", 0        the pool's depths pooled (only when the site has several pools)
//   "<site>", 0               every depth of every pool pooled, (pool, expert) ids distinct
#include <torch/torch.h>

#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "models/model.h"

namespace dreamer::eval {

struct ExpertCount {
  std::string site;  // "<site>@<pool>": expert_id indexes that pool
  int64_t depth = 0;
  int64_t expert_id = 0;
  int64_t count = 0;
};

struct ExpertMetric {
  std::string site;   // "<site>" or "<site>@<pool>" (see the file comment)
  int64_t depth = 0;  // 0: pooled over depths
  std::string metric;
  double value = 0;
};

// "<site>@<pool>", the site name the rows of one pool carry. An empty pool is the record's own
// pool "depth<d>" (RoutingRecord's default: nothing shared across depths).
std::string pool_site(const models::RoutingRecord& record);
// The site part of a row's site name ("ffn@layer3" -> "ffn").
std::string base_site(const std::string& row_site);

class DiversityAccumulator {
 public:
  // Throws std::invalid_argument when a trace contradicts the earlier ones (a depth in two
  // pools, two records for one site and depth, a pool whose expert count or k changes).
  void add(const models::RoutingTrace& trace);
  bool empty() const { return sites_.empty(); }
  std::vector<ExpertCount> counts() const;
  std::vector<ExpertMetric> metrics() const;

 private:
  struct Mean {
    double sum = 0;
    int64_t n = 0;
    double value() const { return n ? sum / static_cast<double>(n) : 0.0; }
    void add(const Mean& other) {
      sum += other.sum;
      n += other.n;
    }
  };
  struct Depth {
    std::vector<int64_t> counts;  // [E_pool]
    int64_t tokens = 0;
    std::unordered_set<std::string> combos;  // sorted k-tuples
    Mean consecutive;  // |S(d) n S(prev)| / k, prev = the pool's previous depth
  };
  // Mean over tokens of the union of a path's selections: its size, and its size over the
  // largest it could be.
  struct PathUnion {
    Mean experts, fraction;
  };
  struct Pool {
    int64_t n_experts = 0;
    std::map<int64_t, Depth> depths;
    std::unordered_set<std::string> combos;               // over the pool's depths
    std::map<std::pair<int64_t, int64_t>, Mean> jaccard;  // (d < d') of this pool
    PathUnion path;
  };
  struct Site {
    int64_t k = 0;
    std::map<std::string, Pool> pools;       // by pool name
    std::map<int64_t, std::string> pool_of;  // depth -> pool name
    PathUnion path;                          // over every pool, (pool, expert) ids distinct
  };
  void add_site(Site& site, const std::string& name,
                const std::vector<const models::RoutingRecord*>& records);
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
