#include "models/family.h"

#include "util/errors.h"

namespace dreamer::models {

namespace {

// RFC 7386-style merge restricted to objects: keys of `patch` replace those of `base`,
// nested objects merge recursively.
void merge_into(nlohmann::json& base, const nlohmann::json& patch) {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_object() && base.contains(it.key()) && base[it.key()].is_object())
      merge_into(base[it.key()], it.value());
    else
      base[it.key()] = it.value();
  }
}

}  // namespace

ModelConfig resolve_model_config(const FamilyInfo& info, const nlohmann::json& j,
                                 const std::string& path) {
  ModelConfig config;
  config.family = info.name;
  nlohmann::json params = nlohmann::json::object();
  if (j.contains("preset")) {
    if (!j["preset"].is_string()) throw InputError(path + ".preset", "expected a string");
    const std::string preset = j["preset"].get<std::string>();
    bool found = false;
    std::string names;
    for (const auto& [name, overrides] : info.presets) {
      names += (names.empty() ? "" : ", ") + name;
      if (name == preset) {
        params = overrides;
        found = true;
      }
    }
    if (!found)
      throw InputError(path + ".preset", "unknown preset \"" + preset + "\" of family " +
                                             config.family + "; expected one of {" + names + "}");
  }
  nlohmann::json overrides = j;
  overrides.erase("family");
  overrides.erase("preset");
  merge_into(params, overrides);
  config.params = info.resolve(params, path);
  return config;
}

}  // namespace dreamer::models
