#include "eval/diversity.h"

#include <algorithm>
#include <cmath>

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

}  // namespace

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
  for (auto& [name, records] : by_site) {
    Site& site = sites_[name];
    site.n_experts = records.front()->n_experts;
    site.k = records.front()->expert_ids.size(1);
    add_site(site, records);
  }
}

void DiversityAccumulator::add_site(Site& site, std::vector<const models::RoutingRecord*> records) {
  std::sort(records.begin(), records.end(), [](auto* a, auto* b) { return a->depth < b->depth; });
  const int64_t E = site.n_experts, k = site.k;
  std::vector<torch::Tensor> masks;  // per record: [N, E] bool, the selection sets
  bool aligned = true;               // every depth saw the same tokens (per-token metrics)
  for (const auto* r : records) {
    auto ids = r->expert_ids.to(torch::kCPU, torch::kLong).contiguous();
    const int64_t n = ids.size(0);
    auto& counts = site.counts[r->depth];
    counts.resize(E, 0);
    auto bins = torch::bincount(ids.flatten(), {}, E);
    auto bins_acc = bins.accessor<int64_t, 1>();
    for (int64_t e = 0; e < E; ++e) counts[e] += bins_acc[e];
    site.tokens[r->depth] += n;
    const int64_t* data = ids.data_ptr<int64_t>();
    auto& combos = site.combos[r->depth];
    for (int64_t t = 0; t < n; ++t) {
      auto key = combo_key(data + t * k, k);
      combos.insert(key);
      site.pooled_combos.insert(std::move(key));
    }
    masks.push_back(torch::zeros({n, E}, torch::kBool).scatter_(1, ids, true));
    if (masks.size() > 1 && masks.back().size(0) != masks.front().size(0)) aligned = false;
  }
  if (!aligned || masks.empty() || masks.front().size(0) == 0) return;
  const int64_t n = masks.front().size(0);
  for (size_t i = 0; i < records.size(); ++i) {
    auto size_i = masks[i].sum(1).to(torch::kFloat64);
    for (size_t j = i + 1; j < records.size(); ++j) {
      auto inter = (masks[i] & masks[j]).sum(1).to(torch::kFloat64);
      auto uni = size_i + masks[j].sum(1).to(torch::kFloat64) - inter;
      auto& m = site.jaccard[{records[i]->depth, records[j]->depth}];
      m.sum += (inter / uni.clamp_min(1)).sum().item<double>();
      m.n += n;
      if (j == i + 1 && records[j]->depth == records[i]->depth + 1) {
        auto& c = site.consecutive[records[j]->depth];
        c.sum += inter.sum().item<double>() / static_cast<double>(k);
        c.n += n;
      }
    }
  }
  auto any = masks.front().clone();
  for (size_t i = 1; i < masks.size(); ++i) any |= masks[i];
  const double norm =
      static_cast<double>(std::min<int64_t>(E, k * static_cast<int64_t>(masks.size())));
  site.path_unique.sum += any.sum().item<double>() / norm;
  site.path_unique.n += n;
}

std::vector<ExpertCount> DiversityAccumulator::counts() const {
  std::vector<ExpertCount> out;
  for (const auto& [name, site] : sites_)
    for (const auto& [depth, counts] : site.counts)
      for (size_t e = 0; e < counts.size(); ++e)
        out.push_back({name, depth, static_cast<int64_t>(e), counts[e]});
  return out;
}

std::vector<ExpertMetric> DiversityAccumulator::metrics() const {
  std::vector<ExpertMetric> out;
  for (const auto& [name, site] : sites_) {
    auto put = [&](int64_t depth, const std::string& metric, double value) {
      out.push_back({name, depth, metric, value});
    };
    const double log_e = std::log(static_cast<double>(site.n_experts));
    auto usage = [&](int64_t depth, const std::vector<int64_t>& counts) {
      put(depth, "usage_rel_perplexity", usage_relative_perplexity(counts));
      if (site.n_experts > 1) put(depth, "usage_entropy_norm", usage_entropy(counts) / log_e);
      put(depth, "dead_expert_fraction", dead_expert_fraction(counts));
      put(depth, "max_vio", max_violation(counts));
    };
    std::vector<int64_t> pooled(site.n_experts, 0);
    for (const auto& [depth, counts] : site.counts) {
      usage(depth, counts);
      put(depth, "tokens", static_cast<double>(site.tokens.at(depth)));
      put(depth, "unique_combinations", static_cast<double>(site.combos.at(depth).size()));
      if (auto it = site.consecutive.find(depth); it != site.consecutive.end())
        put(depth, "consecutive_overlap", it->second.value());
      for (const auto& [other, other_counts] : site.counts)
        if (other != depth)
          put(depth, "usage_overlap_d" + std::to_string(other),
              usage_overlap(counts, other_counts));
      for (const auto& [pair, m] : site.jaccard) {
        if (pair.first == depth) put(depth, "jaccard_d" + std::to_string(pair.second), m.value());
        if (pair.second == depth) put(depth, "jaccard_d" + std::to_string(pair.first), m.value());
      }
      for (size_t e = 0; e < counts.size(); ++e) pooled[e] += counts[e];
    }
    usage(0, pooled);
    put(0, "unique_combinations", static_cast<double>(site.pooled_combos.size()));
    put(0, "n_depths", static_cast<double>(site.counts.size()));
    if (site.counts.size() >= 2) {
      // MoEUT's universal score: mean usage overlap over distinct depth pairs; the "optimist"
      // variant pairs each depth with its most similar other depth.
      double sum = 0, optimist = 0;
      int64_t pairs = 0;
      for (const auto& [d, a] : site.counts) {
        double best = 0;
        for (const auto& [d2, b] : site.counts) {
          if (d2 == d) continue;
          const double o = usage_overlap(a, b);
          best = std::max(best, o);
          if (d < d2) {
            sum += o;
            ++pairs;
          }
        }
        optimist += best;
      }
      put(0, "universal_score", sum / static_cast<double>(pairs));
      put(0, "universal_score_optimist", optimist / static_cast<double>(site.counts.size()));
    }
    if (!site.jaccard.empty()) {
      double sum = 0;
      for (const auto& [pair, m] : site.jaccard) sum += m.value();
      put(0, "jaccard_mean", sum / static_cast<double>(site.jaccard.size()));
    }
    if (!site.consecutive.empty()) {
      Mean all;
      for (const auto& [d, m] : site.consecutive) {
        all.sum += m.sum;
        all.n += m.n;
      }
      put(0, "consecutive_overlap", all.value());
    }
    if (site.path_unique.n) put(0, "unique_experts_per_path", site.path_unique.value());
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
