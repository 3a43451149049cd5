#include "tests/models/tiny_configs.h"

namespace dreamer::testing {

namespace {

nlohmann::json tiny_dreamer(const std::string& preset, nlohmann::json overrides = nlohmann::json::object()) {
  nlohmann::json j = {{"family", "dreamer"},
                      {"preset", preset},
                      {"vocab_size", 64},
                      {"d_model", 32},
                      {"n_heads", 4},
                      {"n_kv_heads", 2},
                      {"depth_attention", {{"n_heads", 2}, {"head_dim", 8}, {"zero_init_output", false}}},
                      {"expert_attention", {{"n_experts", 8}, {"k", 2}, {"expert_dim", 16}}},
                      {"recurrence", {{"mean", 3}, {"max", 8}}}};
  j.merge_patch(overrides);
  return j;
}

}  // namespace

std::vector<TinyCase> tiny_model_cases() {
  return {
      // Dreamer family: the four presets and the depth-attention / mixing / norm variants.
      {"dreamer_DR", tiny_dreamer("DR")},
      {"dreamer_DR_DA", tiny_dreamer("DR+DA")},
      {"dreamer_DR_EA", tiny_dreamer("DR+EA")},
      {"dreamer_DR_DA_EA", tiny_dreamer("DR+DA+EA")},
      {"dreamer_da_all_tokens", tiny_dreamer("DR+DA+EA", {{"depth_attention", {{"scope", "all_tokens_causal"}}}})},
      {"dreamer_da_no_depth0_forward_rope",
       tiny_dreamer("DR+DA", {{"depth_attention", {{"include_depth0", false}, {"rope", "forward"}}}})},
      {"dreamer_joint_sa_da", tiny_dreamer("DR+DA+EA", {{"mix_mode", "joint_sa_da"}})},
      {"dreamer_peri_norm_rope_routing",
       tiny_dreamer("DR+DA+EA", {{"norm_placement", "peri"},
                                 {"expert_attention", {{"depth_encoding", "rope"}, {"gate", "softmax"}}}})},
      {"dreamer_tied_identity_router",
       tiny_dreamer("DR+EA", {{"tie_embeddings", true},
                              {"expert_attention", {{"query", "identity"}, {"renormalize", false}}}})},
  };
}

}  // namespace dreamer::testing
