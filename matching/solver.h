#pragma once
// The matching solver: for each arm (a family with fixed and free hyperparameters), find the
// config whose cost is closest to a reference's on the chosen criteria, minimising the worst
// relative deviation, within the family's constraints (its own validation) and the declared
// ranges and multiples.
#include <optional>
#include <string>
#include <vector>

#include "models/cost.h"
#include "zoo/registry.h"

namespace dreamer::matching {

enum class Criterion { kParams, kFlops, kMemory };
const std::vector<std::pair<std::string, Criterion>>& criterion_names();

struct FreeVariable {
  std::string name;  // dotted path inside params, e.g. "ffn_experts.n_experts"
  int64_t min = 1, max = 1 << 20, multiple_of = 1;
};

struct Targets {  // reference numbers; unset ones cannot be matched
  std::optional<double> params, flops, memory;
};

struct Arm {
  std::string name;
  nlohmann::json model;  // ModelConfig JSON: family, optional preset, fixed overrides
  std::vector<FreeVariable> free;
  std::vector<Criterion> criteria;
  double tolerance = 0.05;  // max |value / target - 1| on every criterion
};

struct Deviations {
  std::optional<double> params, flops, memory;  // value / target - 1, for every set target
  std::optional<double>& of(Criterion c) {
    return c == Criterion::kParams ? params : c == Criterion::kFlops ? flops : memory;
  }
  const std::optional<double>& of(Criterion c) const {
    return c == Criterion::kParams ? params : c == Criterion::kFlops ? flops : memory;
  }
  double worst(const std::vector<Criterion>& criteria) const;
};

struct Match {
  std::string arm;
  models::ModelConfig config;
  models::Cost cost;
  Deviations deviation;
  bool within_tolerance = false;
  std::string failure;  // names the failing criterion and its closest deviation
  int64_t evaluations = 0;
};

Targets targets_of(const models::Cost& cost);
std::optional<double> target_of(const Targets& targets, Criterion c);
std::string criterion_name(Criterion c);
Deviations deviations(const models::Cost& cost, const Targets& targets);
double criterion_value(const models::Cost& cost, Criterion c);

// Throws InputError (with `path`) when an arm is malformed (unknown family, no cost model,
// free variable not an integer field of the config, criterion without a target).
Match solve(const Arm& arm, const Targets& targets, const models::Workload& workload,
            const std::string& path = "$");

}  // namespace dreamer::matching
