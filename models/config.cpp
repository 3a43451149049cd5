#include "models/config.h"

#include "models/registry.h"
#include "util/errors.h"
#include "util/json_reader.h"

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

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object())
    throw InputError(path, std::string("expected an object, got ") + j.type_name());
  if (!j.contains("family") || !j["family"].is_string())
    throw InputError(path + ".family", "required string naming a model family");
  ModelConfig config;
  config.family = j["family"].get<std::string>();
  const FamilyInfo* found_family = nullptr;
  try {
    found_family = &models::family(config.family);
  } catch (const InputError& e) {
    throw InputError(path + ".family", e.message());
  }
  const FamilyInfo& info = *found_family;

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

ModelConfig ModelConfig::from_file(const std::string& file) {
  return from_json(read_json_file(file), file + ":$");
}

ModelConfig ModelConfig::from_preset(const std::string& family_name, const std::string& preset) {
  return from_json({{"family", family_name}, {"preset", preset}});
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = params;
  j["family"] = family;
  return j;
}

}  // namespace dreamer::models
