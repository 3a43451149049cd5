#pragma once
// ModelConfig: a family name plus that family's hyperparameters as JSON. The registry turns
// it into the family's typed config (strict: unknown keys are errors) and back.
#include <nlohmann/json.hpp>

#include <string>

namespace dreamer::models {

struct ModelConfig {
  std::string family;
  nlohmann::json params = nlohmann::json::object();  // fully resolved hyperparameters

  // Reads {"family": ..., "preset": optional, ...overrides}; the preset's values are the base
  // and the remaining keys override them (objects merge key by key). Validates strictly and
  // resolves every default, so to_json() rebuilds exactly the same model.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& path = "$");
  static ModelConfig from_file(const std::string& file);
  static ModelConfig from_preset(const std::string& family, const std::string& preset);
  nlohmann::json to_json() const;
};

}  // namespace dreamer::models
