#pragma once
// What a model family tells the zoo (zoo/registry.h) about itself: presets, the
// hyperparameters the matching solver may change, and how to resolve, build, count and cost a
// config. Each family fills one in its own file; only the zoo lists them all.
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "models/config.h"
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

// Resolves {"family": ..., "preset": optional, ...overrides} against the family it names
// (which the caller has looked up): the preset's values are the base and the remaining keys
// override them (objects merge key by key). Validates strictly and resolves every default, so
// ModelConfig::to_json() rebuilds exactly the same model. Errors name paths below `path`.
ModelConfig resolve_model_config(const FamilyInfo& family, const nlohmann::json& j,
                                 const std::string& path);

}  // namespace dreamer::models
