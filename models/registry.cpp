#include "models/registry.h"

#include "baselines/dense_transformer.h"
#include "baselines/huginn.h"
#include "baselines/moe_transformer.h"
#include "baselines/moeut.h"
#include "baselines/universal_transformer.h"
#include "models/dreamer.h"
#include "util/errors.h"

namespace dreamer::models {

const std::vector<FamilyInfo>& families() {
  static const std::vector<FamilyInfo> kFamilies = [] {
    std::vector<FamilyInfo> list;
    list.push_back(dreamer_family());
    list.push_back(baselines::dense_transformer_family());
    list.push_back(baselines::moe_transformer_family());
    list.push_back(baselines::moeut_family());
    list.push_back(baselines::huginn_family());
    list.push_back(baselines::universal_transformer_family());
    return list;
  }();
  return kFamilies;
}

const FamilyInfo& family(const std::string& name) {
  std::string names;
  for (const auto& f : families()) {
    if (f.name == name) return f;
    names += (names.empty() ? "" : ", ") + f.name;
  }
  throw InputError("family",
                   "unknown model family \"" + name + "\"; expected one of {" + names + "}");
}

LanguageModelPtr build_model(const ModelConfig& config) {
  return family(config.family).build(config);
}

ParameterCounts analytic_parameter_counts(const ModelConfig& config) {
  return family(config.family).count(config);
}

int64_t norm_parameters(NormKind kind, int64_t dim) {
  return kind == NormKind::kLayerNorm ? 2 * dim : dim;
}

}  // namespace dreamer::models
