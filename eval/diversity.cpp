#include "eval/diversity.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

namespace dreamer::eval {

namespace {

double total(const std::vector<int64_t>& counts) {
  double s = 0;
  for (auto c : counts) s += static_cast<double>(c);
  return s;
}

// Packs one sorted selection row into a hash key.
std::string combo_key(const int64_t* ids, int64_t k) {
  std::vector<int64_t> sorted(ids, ids + k);
  std::sort(sorted.begin(), sorted.end());
  return std::string(reinterpret_cast<const char*>(sorted.data()), sorted.size() * sizeof(int64_t));
}

std::string pool_name(const models::RoutingRecord& r) {
  return r.pool.empty() ? "depth" + std::to_string(r.depth) : r.pool;
}

}  // namespace

std::string pool_site(const models::RoutingRecord& record) {
  return record.site + "@" + pool_name(record);
}

std::string base_site(const std::string& row_site) {
  return row_site.substr(0, row_site.find('@'));
}

double usage_entropy(const std::vector<int64_t>& counts) {
  const double n = total(counts);
  if (n == 0) return 0;
  double h = 0;
  for (auto c : counts)
    if (c > 0) {
      const double p = static_cast<double>(c) / n;
      h -= p * std::log(p);
    }
  return h;
}

double usage_relative_perplexity(const std::vector<int64_t>& counts) {
  return std::exp(usage_entropy(counts)) / static_cast<double>(counts.size());
}

double dead_expert_fraction(const std::vector<int64_t>& counts) {
  const auto dead = std::count(counts.begin(), counts.end(), int64_t{0});
  return static_cast<double>(dead) / static_cast<double>(counts.size());
}

double max_violation(const std::vector<int64_t>& counts) {
  const double mean = total(counts) / static_cast<double>(counts.size());
  if (mean == 0) return 0;
  return (static_cast<double>(*std::max_element(counts.begin(), counts.end())) - mean) / mean;
}

double usage_overlap(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const double na = total(a), nb = total(b);
  if (na == 0 || nb == 0) return 0;
  double o = 0;
  for (size_t e = 0; e < a.size(); ++e) o += std::min(a[e] / na, b[e] / nb);
  return o;
}

void DiversityAccumulator::add(const models::RoutingTrace& trace) {
  std::map<std::string, std::vector<const models::RoutingRecord*>> by_site;
  for (const auto& r : trace.records) by_site[r.site].push_back(&r);
  for (auto& [name, records] : by_site) add_site(sites_[name], name, records);
}

void DiversityAccumulator::add_site(Site& site, const std::string& name,
                                    const std::vector<const models::RoutingRecord*>& records) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("routing trace, site " + name + ": " + why);
  };
  // Check the records against each other and the earlier traces, then group them by pool.
  std::map<std::string, std::vector<const models::RoutingRecord*>> by_pool;
  std::set<int64_t> depths_seen;
  for (const auto* r : records) {
    const std::string depth = "depth " + std::to_string(r->depth);
    if (!depths_seen.insert(r->depth).second) fail("two records for " + depth);
    const int64_t k = r->expert_ids.size(1);
    if (site.k == 0) site.k = k;
    if (k != site.k)
      fail(depth + " selects " + std::to_string(k) + " experts, earlier ones " +
           std::to_string(site.k));
    const std::string pool = pool_name(*r);
    const auto known = site.pool_of.emplace(r->depth, pool).first;
    if (known->second != pool)
      fail(depth + " is in pool " + pool + " and in pool " + known->second);
    Pool& p = site.pools[pool];
    if (p.n_experts == 0) p.n_experts = r->n_experts;
    if (r->n_experts != p.n_experts)
      fail("pool " + pool + " has " + std::to_string(r->n_experts) + " experts at " + depth + ", " +
           std::to_string(p.n_experts) + " elsewhere");
    by_pool[pool].push_back(r);
  }
  // Per-token metrics need the same tokens in every record of the call.
  const int64_t n = records.front()->expert_ids.size(0);
  const bool aligned = n > 0 && std::all_of(records.begin(), records.end(), [&](const auto* r) {
                         return r->expert_ids.size(0) == n;
                       });
  const int64_t k = site.k;
  auto site_union = torch::zeros({n}, torch::kFloat64);  // sum over pools of |U_d S(t, d)|
  double site_norm = 0;                                  // sum over pools of min(E, k D)
  for (auto& [pool_key, pool_records] : by_pool) {
    std::sort(pool_records.begin(), pool_records.end(),
              [](const auto* a, const auto* b) { return a->depth < b->depth; });
    Pool& pool = site.pools.at(pool_key);
    const int64_t E = pool.n_experts;
    std::vector<torch::Tensor> masks;  // per record: [N, E] bool, the selection sets
    for (const auto* r : pool_records) {
      auto ids = r->expert_ids.to(torch::kCPU, torch::kLong).contiguous();
      if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= E))
        fail("depth " + std::to_string(r->depth) + " has an expert id outside 0.." +
             std::to_string(E - 1));
      Depth& depth = pool.depths[r->depth];
      depth.counts.resize(E, 0);
      auto bins = torch::bincount(ids.flatten(), {}, E);
      auto bins_acc = bins.accessor<int64_t, 1>();
      for (int64_t e = 0; e < E; ++e) depth.counts[e] += bins_acc[e];
      const int64_t rows = ids.size(0);
      depth.tokens += rows;
      const int64_t* data = ids.data_ptr<int64_t>();
      for (int64_t t = 0; t < rows; ++t) {
        auto key = combo_key(data + t * k, k);
        depth.combos.insert(key);
        pool.combos.insert(std::move(key));
      }
      if (aligned) masks.push_back(torch::zeros({rows, E}, torch::kBool).scatter_(1, ids, true));
    }
    if (!aligned) continue;
    for (size_t i = 0; i < masks.size(); ++i) {
      auto size_i = masks[i].sum(1).to(torch::kFloat64);
      for (size_t j = i + 1; j < masks.size(); ++j) {
        auto inter = (masks[i] & masks[j]).sum(1).to(torch::kFloat64);
        auto uni = size_i + masks[j].sum(1).to(torch::kFloat64) - inter;
        auto& m = pool.jaccard[{pool_records[i]->depth, pool_records[j]->depth}];
        m.sum += (inter / uni.clamp_min(1)).sum().item<double>();
        m.n += n;
        if (j == i + 1) {  // the pool's next application after depth i
          auto& c = pool.depths.at(pool_records[j]->depth).consecutive;
          c.sum += inter.sum().item<double>() / static_cast<double>(k);
          c.n += n;
        }
      }
    }
    auto any = masks.front().clone();
    for (size_t i = 1; i < masks.size(); ++i) any |= masks[i];
    auto path = any.sum(1).to(torch::kFloat64);  // [N] |U_d S(t, d)| inside this pool
    const double norm =
        static_cast<double>(std::min<int64_t>(E, k * static_cast<int64_t>(masks.size())));
    const double sum = path.sum().item<double>();
    pool.path.experts.sum += sum;
    pool.path.experts.n += n;
    pool.path.fraction.sum += sum / norm;
    pool.path.fraction.n += n;
    site_union += path;
    site_norm += norm;
  }
  if (!aligned) return;
  const double sum = site_union.sum().item<double>();
  site.path.experts.sum += sum;
  site.path.experts.n += n;
  site.path.fraction.sum += sum / site_norm;
  site.path.fraction.n += n;
}

std::vector<ExpertCount> DiversityAccumulator::counts() const {
  std::vector<ExpertCount> out;
  for (const auto& [name, site] : sites_)
    for (const auto& [pool_key, pool] : site.pools)
      for (const auto& [depth, d] : pool.depths)
        for (size_t e = 0; e < d.counts.size(); ++e)
          out.push_back({name + "@" + pool_key, depth, static_cast<int64_t>(e), d.counts[e]});
  return out;
}

std::vector<ExpertMetric> DiversityAccumulator::metrics() const {
  std::vector<ExpertMetric> out;
  auto put = [&](const std::string& site, int64_t depth, const std::string& metric, double value) {
    out.push_back({site, depth, metric, value});
  };
  // Usage of one count vector; its length is the number of distinct experts.
  auto usage = [&](const std::string& site, int64_t depth, const std::vector<int64_t>& counts) {
    put(site, depth, "usage_rel_perplexity", usage_relative_perplexity(counts));
    if (counts.size() > 1)
      put(site, depth, "usage_entropy_norm",
          usage_entropy(counts) / std::log(static_cast<double>(counts.size())));
    put(site, depth, "dead_expert_fraction", dead_expert_fraction(counts));
    put(site, depth, "max_vio", max_violation(counts));
  };
  // Summaries of the depth pairs inside each of `pools` (never across two pools).
  auto cross_depth = [&](const std::string& site, const std::vector<const Pool*>& pools) {
    double overlap_sum = 0, optimist_sum = 0, jaccard_sum = 0;
    int64_t pairs = 0, with_partner = 0, jaccard_pairs = 0;
    Mean consecutive;
    for (const Pool* pool : pools) {
      for (const auto& [d, a] : pool->depths) {
        double best = -1;  // MoEUT's "optimist" pairs each depth with its most similar one
        for (const auto& [d2, b] : pool->depths) {
          if (d2 == d) continue;
          const double o = usage_overlap(a.counts, b.counts);
          best = std::max(best, o);
          if (d < d2) {
            overlap_sum += o;
            ++pairs;
          }
        }
        if (best >= 0) {
          optimist_sum += best;
          ++with_partner;
        }
        consecutive.add(a.consecutive);
      }
      for (const auto& [pair, m] : pool->jaccard) {
        jaccard_sum += m.value();
        ++jaccard_pairs;
      }
    }
    if (pairs) {
      put(site, 0, "universal_score", overlap_sum / static_cast<double>(pairs));
      put(site, 0, "universal_score_optimist", optimist_sum / static_cast<double>(with_partner));
    }
    if (jaccard_pairs)
      put(site, 0, "jaccard_mean", jaccard_sum / static_cast<double>(jaccard_pairs));
    if (consecutive.n) put(site, 0, "consecutive_overlap", consecutive.value());
  };
  auto path = [&](const std::string& site, const PathUnion& p) {
    if (!p.fraction.n) return;
    put(site, 0, "unique_experts_per_path", p.fraction.value());
    put(site, 0, "experts_per_path", p.experts.value());
  };

  for (const auto& [name, site] : sites_) {
    const bool several_pools = site.pools.size() > 1;
    std::vector<int64_t> all_counts;  // every pool's pooled counts, one after the other
    std::vector<const Pool*> pools;
    size_t all_combos = 0, all_depths = 0;
    for (const auto& [pool_key, pool] : site.pools) {
      const std::string ps = name + "@" + pool_key;
      std::vector<int64_t> pooled(pool.n_experts, 0);
      for (const auto& [depth, d] : pool.depths) {
        usage(ps, depth, d.counts);
        put(ps, depth, "tokens", static_cast<double>(d.tokens));
        put(ps, depth, "unique_combinations", static_cast<double>(d.combos.size()));
        if (d.consecutive.n) put(ps, depth, "consecutive_overlap", d.consecutive.value());
        for (const auto& [other, o] : pool.depths)
          if (other != depth)
            put(ps, depth, "usage_overlap_d" + std::to_string(other),
                usage_overlap(d.counts, o.counts));
        for (const auto& [pair, m] : pool.jaccard) {
          if (pair.first == depth)
            put(ps, depth, "jaccard_d" + std::to_string(pair.second), m.value());
          if (pair.second == depth)
            put(ps, depth, "jaccard_d" + std::to_string(pair.first), m.value());
        }
        for (size_t e = 0; e < pooled.size(); ++e) pooled[e] += d.counts[e];
      }
      if (several_pools) {
        usage(ps, 0, pooled);
        put(ps, 0, "unique_combinations", static_cast<double>(pool.combos.size()));
        put(ps, 0, "n_depths", static_cast<double>(pool.depths.size()));
        cross_depth(ps, {&pool});
        path(ps, pool.path);
      }
      all_counts.insert(all_counts.end(), pooled.begin(), pooled.end());
      pools.push_back(&pool);
      all_combos += pool.combos.size();
      all_depths += pool.depths.size();
    }
    usage(name, 0, all_counts);
    put(name, 0, "unique_combinations", static_cast<double>(all_combos));
    put(name, 0, "n_depths", static_cast<double>(all_depths));
    put(name, 0, "n_pools", static_cast<double>(site.pools.size()));
    cross_depth(name, pools);
    path(name, site.path);
  }
  return out;
}

std::vector<ExpertMetric> balancing_bias_metrics(const torch::nn::Module& model) {
  static const std::string kSuffix = "selection_bias";
  std::vector<ExpertMetric> out;
  for (const auto& item : model.named_buffers()) {
    const std::string& name = item.key();
    if (name.size() < kSuffix.size() ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      continue;
    std::string site = name.substr(0, name.size() - kSuffix.size());
    if (!site.empty() && site.back() == '.') site.pop_back();
    const double lo = item.value().min().item<double>(), hi = item.value().max().item<double>();
    out.push_back({site, 0, "selection_bias_min", lo});
    out.push_back({site, 0, "selection_bias_max", hi});
    out.push_back({site, 0, "selection_bias_range", hi - lo});
  }
  return out;
}

}  // namespace dreamer::eval
