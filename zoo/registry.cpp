#include "zoo/registry.h"

#include "baselines/dense_transformer.h"
#include "baselines/huginn.h"
#include "baselines/moe_transformer.h"
#include "baselines/moeut.h"
#include "baselines/universal_transformer.h"
#include "models/dreamer.h"
#include "util/errors.h"
#include "util/json_reader.h"

namespace dreamer::zoo {

const std::vector<models::FamilyInfo>& families() {
  static const std::vector<models::FamilyInfo> kFamilies = [] {
    std::vector<models::FamilyInfo> list;
    list.push_back(models::dreamer_family());
    list.push_back(baselines::dense_transformer_family());
    list.push_back(baselines::moe_transformer_family());
    list.push_back(baselines::moeut_family());
    list.push_back(baselines::huginn_family());
    list.push_back(baselines::universal_transformer_family());
    return list;
  }();
  return kFamilies;
}

const models::FamilyInfo& family(const std::string& name) {
  std::string names;
  for (const auto& f : families()) {
    if (f.name == name) return f;
    names += (names.empty() ? "" : ", ") + f.name;
  }
  throw InputError("family",
                   "unknown model family \"" + name + "\"; expected one of {" + names + "}");
}

models::LanguageModelPtr build_model(const models::ModelConfig& config) {
  return family(config.family).build(config);
}

models::ParameterCounts analytic_parameter_counts(const models::ModelConfig& config) {
  return family(config.family).count(config);
}

models::ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object())
    throw InputError(path, std::string("expected an object, got ") + j.type_name());
  if (!j.contains("family") || !j["family"].is_string())
    throw InputError(path + ".family", "required string naming a model family");
  const models::FamilyInfo* found = nullptr;
  try {
    found = &family(j["family"].get<std::string>());
  } catch (const InputError& e) {
    throw InputError(path + ".family", e.message());
  }
  return models::resolve_model_config(*found, j, path);
}

models::ModelConfig model_config_from_file(const std::string& file) {
  return model_config_from_json(read_json_file(file), file + ":$");
}

models::ModelConfig model_config_from_preset(const std::string& family_name,
                                             const std::string& preset) {
  return model_config_from_json({{"family", family_name}, {"preset", preset}});
}

}  // namespace dreamer::zoo
