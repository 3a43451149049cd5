#pragma once
// What each parameter of a model is for, declared by the module that creates it. Init, weight
// decay and the embedding count ask a parameter's role instead of guessing from its name
// (issue 15: a block renamed "down" to "out" would otherwise have silently changed its init).
#include <torch/torch.h>

#include <map>
#include <string>

namespace dreamer::models {

enum class ParameterRole {
  kEmbedding,       // a token or position table: scales with the vocabulary or the context
  kHead,            // an untied LM head, weight and bias: counted with the embedding
  kResidualOutput,  // writes into the residual stream (attention o, FFN down, experts' down):
                    // GPT-2 init scales it by 1 / sqrt(residual writes)
  kRouter,          // expert selection (queries, keys, depth offsets): keeps its own init
  kBalancingBias,   // a selection bias moved outside the optimizer (a buffer, never decayed)
  kNorm,            // a norm's gain and bias: as constructed, never decayed
  kProjection,      // any other weight or bias of a block (q, k, v, gate, up, adapters, ...)
};

const char* role_name(ParameterRole role);

// Full parameter name ("layer.attention.o.weight") -> role.
using ParameterRoles = std::map<std::string, ParameterRole>;

// Mixed into a module that creates parameters: it declares, as it registers them, what they
// are for. Names are relative to the module; a child it registers that declares nothing itself
// (torch::nn::Linear, Embedding) is covered with declare_roles().
class RoleDeclarer {
 public:
  virtual ~RoleDeclarer() = default;
  void declare_role(const std::string& name, ParameterRole role) { roles_[name] = role; }
  // Every parameter of `child`, registered on this module under the name `child_name`.
  void declare_roles(const std::string& child_name, const torch::nn::Module& child,
                     ParameterRole role);
  const ParameterRoles& declared_roles() const { return roles_; }

 private:
  ParameterRoles roles_;
};

// The role of every parameter of `model` (and of the buffers declared), collected from the
// modules of its tree. A module's declaration wins over one made inside it: the composer knows
// the context. Throws std::logic_error naming the first parameter that has no role.
ParameterRoles collect_parameter_roles(const torch::nn::Module& model);

// The role of one parameter, by full name; throws std::logic_error when it has none.
ParameterRole role_of(const ParameterRoles& roles, const std::string& name);

// Counted in ParameterCounts::embedding (the tables and head that scale with the vocabulary).
inline bool counts_as_embedding(ParameterRole role) {
  return role == ParameterRole::kEmbedding || role == ParameterRole::kHead;
}

// AdamW's decayed group: matrices, but never norms or balancing biases; vectors (biases,
// gains) of any role are exempt.
inline bool takes_weight_decay(ParameterRole role, const torch::Tensor& parameter) {
  return parameter.dim() >= 2 && role != ParameterRole::kNorm &&
         role != ParameterRole::kBalancingBias;
}

}  // namespace dreamer::models
