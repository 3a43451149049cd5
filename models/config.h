#pragma once
// ModelConfig: a family name plus that family's hyperparameters as JSON. The family's
// FamilyInfo (models/family.h) turns JSON into it, strictly (unknown keys are errors); the zoo
// (zoo/registry.h) finds the family by name.
#include <nlohmann/json.hpp>

#include <string>

namespace dreamer::models {

struct ModelConfig {
  std::string family;
  nlohmann::json params = nlohmann::json::object();  // fully resolved hyperparameters

  nlohmann::json to_json() const;
};

}  // namespace dreamer::models
