#include "models/roles.h"

#include <stdexcept>

namespace dreamer::models {

const char* role_name(ParameterRole role) {
  switch (role) {
    case ParameterRole::kEmbedding:
      return "embedding";
    case ParameterRole::kHead:
      return "head";
    case ParameterRole::kResidualOutput:
      return "residual_output";
    case ParameterRole::kRouter:
      return "router";
    case ParameterRole::kBalancingBias:
      return "balancing_bias";
    case ParameterRole::kNorm:
      return "norm";
    case ParameterRole::kProjection:
      return "projection";
  }
  return "?";
}

void RoleDeclarer::declare_roles(const std::string& child_name, const torch::nn::Module& child,
                                 ParameterRole role) {
  for (const auto& item : child.named_parameters(/*recurse=*/true))
    roles_[child_name + "." + item.key()] = role;
}

ParameterRoles collect_parameter_roles(const torch::nn::Module& model) {
  ParameterRoles roles;
  // apply() visits the root (key "") and then each module before the ones inside it, and
  // emplace keeps the first declaration of a name. (apply, unlike named_modules, needs no
  // shared_ptr to the root, which is still being constructed when its init asks for roles.)
  model.apply([&](const std::string& prefix, const torch::nn::Module& module) {
    const auto* declarer = dynamic_cast<const RoleDeclarer*>(&module);
    if (!declarer) return;
    for (const auto& [name, role] : declarer->declared_roles())
      roles.emplace(prefix.empty() ? name : prefix + "." + name, role);
  });
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    if (!roles.count(item.key()))
      throw std::logic_error("parameter " + item.key() +
                             " has no role: the module that creates it must declare one "
                             "(models/roles.h)");
  return roles;
}

ParameterRole role_of(const ParameterRoles& roles, const std::string& name) {
  auto it = roles.find(name);
  if (it == roles.end()) throw std::logic_error("parameter " + name + " has no role");
  return it->second;
}

}  // namespace dreamer::models
