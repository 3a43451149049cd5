#include "matching/solver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "util/errors.h"
#include "util/json_reader.h"
#include "zoo/registry.h"

namespace dreamer::matching {

const std::vector<std::pair<std::string, Criterion>>& criterion_names() {
  static const std::vector<std::pair<std::string, Criterion>> kNames = {
      {"params", Criterion::kParams}, {"flops", Criterion::kFlops}, {"memory", Criterion::kMemory}};
  return kNames;
}

double criterion_value(const models::Cost& cost, Criterion c) {
  switch (c) {
    case Criterion::kParams:
      return static_cast<double>(cost.params.total);
    case Criterion::kFlops:
      return cost.flops_forward_per_token;
    case Criterion::kMemory:
      return cost.memory_train_bytes;
  }
  return 0;
}

std::optional<double> target_of(const Targets& t, Criterion c) {
  return c == Criterion::kParams ? t.params : c == Criterion::kFlops ? t.flops : t.memory;
}

std::string criterion_name(Criterion c) {
  return enum_name(c, criterion_names());
}

Targets targets_of(const models::Cost& cost) {
  return {criterion_value(cost, Criterion::kParams), criterion_value(cost, Criterion::kFlops),
          criterion_value(cost, Criterion::kMemory)};
}

Deviations deviations(const models::Cost& cost, const Targets& t) {
  Deviations d;
  for (auto [name, c] : criterion_names()) {
    if (auto target = target_of(t, c)) d.of(c) = criterion_value(cost, c) / *target - 1;
  }
  return d;
}

double Deviations::worst(const std::vector<Criterion>& criteria) const {
  double w = 0;
  for (Criterion c : criteria) {
    const auto& v = of(c);
    w = std::max(w, v ? std::abs(*v) : std::numeric_limits<double>::infinity());
  }
  return w;
}

namespace {

nlohmann::json::json_pointer pointer_of(const std::string& dotted) {
  std::string p;
  size_t start = 0;
  while (true) {
    size_t dot = dotted.find('.', start);
    p += "/" + dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return nlohmann::json::json_pointer(p);
}

struct Candidate {
  models::ModelConfig config;
  models::Cost cost;
  double worst = std::numeric_limits<double>::infinity();
  double sum = std::numeric_limits<double>::infinity();  // tie-breaker
};

}  // namespace

Match solve(const Arm& arm, const Targets& targets, const models::Workload& workload,
            const std::string& path) {
  // The arm's starting point: its model JSON resolved (preset + fixed overrides + defaults).
  const models::ModelConfig start = zoo::model_config_from_json(arm.model, path + ".model");
  const auto& family = zoo::family(start.family);
  if (!family.cost)
    throw InputError(path + ".model.family", "family " + start.family + " has no cost model yet");
  for (Criterion c : arm.criteria)
    if (!target_of(targets, c))
      throw InputError(path + ".match",
                       "criterion " + criterion_name(c) + " has no reference value");
  std::vector<nlohmann::json::json_pointer> pointers;
  for (size_t i = 0; i < arm.free.size(); ++i) {
    auto ptr = pointer_of(arm.free[i].name);
    if (!start.params.contains(ptr) || !start.params.at(ptr).is_number_integer())
      throw InputError(
          path + ".free[" + std::to_string(i) + "]",
          "\"" + arm.free[i].name + "\" is not an integer hyperparameter of " + start.family);
    const auto& v = arm.free[i];
    if (v.multiple_of < 1 || (v.min + v.multiple_of - 1) / v.multiple_of * v.multiple_of > v.max)
      throw InputError(path + ".free[" + std::to_string(i) + "]",
                       "no multiple of " + std::to_string(v.multiple_of) + " lies in [" +
                           std::to_string(v.min) + ", " + std::to_string(v.max) + "]");
    pointers.push_back(ptr);
  }

  Match match;
  match.arm = arm.name;
  // Evaluates one assignment of the free variables. The family's cost function parses and
  // validates the params once; a constraint violation (InputError) scores infinity.
  auto evaluate = [&](const nlohmann::json& params) {
    Candidate c;
    ++match.evaluations;
    try {
      c.config.family = start.family;
      c.config.params = params;
      c.cost = family.cost(c.config, workload);
    } catch (const InputError&) {
      return c;
    }
    auto d = deviations(c.cost, targets);
    c.worst = d.worst(arm.criteria);
    c.sum = 0;
    for (Criterion cr : arm.criteria) c.sum += *d.of(cr) * *d.of(cr);
    return c;
  };
  auto by_sum = [](const Candidate& a, const Candidate& b) { return a.sum < b.sum - 1e-15; };
  auto by_worst = [](const Candidate& a, const Candidate& b) {
    return a.worst < b.worst - 1e-12 ||
           (std::abs(a.worst - b.worst) <= 1e-12 && a.sum < b.sum - 1e-15);
  };
  auto value_of = [&](const nlohmann::json& params, size_t i) {
    return params.at(pointers[i]).get<int64_t>();
  };
  auto snap = [&](size_t i, double x) {
    const auto& v = arm.free[i];
    const int64_t m = v.multiple_of;
    int64_t snapped = static_cast<int64_t>(std::llround(x / m)) * m;
    const int64_t lo = (v.min + m - 1) / m * m, hi = v.max / m * m;
    return std::clamp(snapped, lo, hi);
  };

  nlohmann::json params = start.params;
  for (size_t i = 0; i < arm.free.size(); ++i) params[pointers[i]] = snap(i, value_of(params, i));
  Candidate best = evaluate(params);

  // 1) Coordinate descent on the sum of squared deviations (smooth, so one variable at a time
  //    cannot stall at the kink where two criteria trade off). Candidates: a geometric ladder
  //    around the current value (factors 2^(j/8), j = -48..48) plus the nearest grid points.
  for (int sweep = 0; sweep < 16; ++sweep) {
    bool changed = false;
    for (size_t i = 0; i < arm.free.size(); ++i) {
      const int64_t current = value_of(params, i);
      std::set<int64_t> candidates;
      for (int j = -48; j <= 48; ++j) candidates.insert(snap(i, current * std::pow(2.0, j / 8.0)));
      for (int j = -4; j <= 4; ++j)
        candidates.insert(snap(i, current + j * arm.free[i].multiple_of));
      for (int64_t x : candidates) {
        if (x == current) continue;
        nlohmann::json trial = params;
        trial[pointers[i]] = x;
        Candidate c = evaluate(trial);
        if (by_sum(c, best)) {
          best = c;
          params = trial;
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  // 2) Joint local search on the worst deviation: every combination of up to +-2 grid steps.
  const size_t n = arm.free.size();
  if (n > 0 && n <= 4) {
    bool improved = true;
    for (int round = 0; improved && round < 8; ++round) {
      improved = false;
      const nlohmann::json centre = params;
      std::vector<int> step(n, -2);
      while (true) {
        nlohmann::json trial = centre;
        bool moved = false;
        for (size_t i = 0; i < n; ++i) {
          const int64_t x = snap(i, value_of(centre, i) + step[i] * arm.free[i].multiple_of);
          moved |= x != value_of(centre, i);
          trial[pointers[i]] = x;
        }
        if (moved) {
          Candidate c = evaluate(trial);
          if (by_worst(c, best)) {
            best = c;
            params = trial;
            improved = true;
          }
        }
        size_t i = 0;
        while (i < n && ++step[i] > 2) step[i++] = -2;
        if (i == n) break;
      }
    }
  }
  // Re-resolve the winner through the full path (defaults, presets, validation).
  if (std::isfinite(best.worst)) {
    nlohmann::json j = params;
    j["family"] = start.family;
    best.config = zoo::model_config_from_json(j, path + ".model");
  }
  if (!std::isfinite(best.worst))
    throw InputError(path, "no valid configuration of " + start.family + " within the free ranges");
  match.config = best.config;
  match.cost = best.cost;
  match.deviation = deviations(best.cost, targets);
  match.within_tolerance = best.worst <= arm.tolerance;
  if (!match.within_tolerance) {
    Criterion failing = arm.criteria.front();
    double worst = -1;
    for (Criterion c : arm.criteria) {
      const double d = std::abs(*match.deviation.of(c));
      if (d > worst) {
        worst = d;
        failing = c;
      }
    }
    match.failure = "arm " + arm.name + ": " + criterion_name(failing) + " is off by " +
                    std::to_string(100 * worst) + "% at best, over the tolerance of " +
                    std::to_string(100 * arm.tolerance) + "%";
  }
  return match;
}

}  // namespace dreamer::matching
