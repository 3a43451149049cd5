#pragma once
// The model zoo: every family (Dreamer and the baselines) behind one interface, and the
// parsing of model configs that name a family. It is the layer above models/ and baselines/
// (docs/DESIGN.md, "Layers"): the families define themselves (models/family.h) and only this
// file knows them all. Families are listed explicitly in registry.cpp (no static-initialiser
// magic, which static libraries silently drop).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "models/config.h"
#include "models/family.h"
#include "models/model.h"

namespace dreamer::zoo {

const std::vector<models::FamilyInfo>& families();
const models::FamilyInfo& family(const std::string& name);  // throws InputError for unknown names
models::LanguageModelPtr build_model(const models::ModelConfig& config);
// The family's analytic count.
models::ParameterCounts analytic_parameter_counts(const models::ModelConfig& config);

// Reads {"family": ..., "preset": optional, ...overrides} (models::resolve_model_config):
// validates strictly and resolves every default. Errors name JSON paths below `path`.
models::ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& path = "$");
models::ModelConfig model_config_from_file(const std::string& file);
models::ModelConfig model_config_from_preset(const std::string& family, const std::string& preset);

}  // namespace dreamer::zoo
