#pragma once
// The model zoo: every family (Dreamer and the baselines) with its presets, behind one
// interface. Families are listed explicitly in registry.cpp (no static-initialiser magic,
// which static libraries silently drop).
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "models/blocks/norm.h"
#include "models/cost.h"
#include "models/model.h"

namespace dreamer::models {

// A hyperparameter the matching solver may change, with its constraints.
struct FreeHyperparameter {
  std::string name;  // JSON path inside params, e.g. "d_model" or "expert_attention.k"
  int64_t min = 1, max = 1 << 20;
  int64_t multiple_of = 1;
  std::string constraint;  // human-readable extra constraint, e.g. "divides d_model"
};

struct FamilyInfo {
  std::string name;
  std::string description;
  std::string source;                                           // paper / reference code it follows
  std::vector<std::pair<std::string, nlohmann::json>> presets;  // name -> overrides of defaults
  std::vector<FreeHyperparameter> free_hyperparameters;
  // Strict parse of the params object: fills every default, validates, returns the resolved
  // params. Throws InputError with a JSON path below `path`.
  std::function<nlohmann::json(const nlohmann::json& params, const std::string& path)> resolve;
  std::function<LanguageModelPtr(const ModelConfig& config)> build;
  // Analytic parameter counts (no instantiation, so billion-parameter presets list
  // instantly). A test checks them against count_parameters() of the built module.
  std::function<ParameterCounts(const ModelConfig& config)> count;
  // Parameters, FLOPs and memory under a workload (models/cost.h); empty when the family has
  // no cost model yet.
  std::function<Cost(const ModelConfig& config, const Workload& workload)> cost;
};

const std::vector<FamilyInfo>& families();
const FamilyInfo& family(const std::string& name);  // throws InputError for unknown names
LanguageModelPtr build_model(const ModelConfig& config);
// The family's analytic count.
ParameterCounts analytic_parameter_counts(const ModelConfig& config);
// Parameters of one norm layer of this kind and width.
int64_t norm_parameters(NormKind kind, int64_t dim);

}  // namespace dreamer::models
