#include "tests/models/tiny_configs.h"

namespace dreamer::testing {

namespace {

nlohmann::json tiny_dreamer(const std::string& preset,
                            nlohmann::json overrides = nlohmann::json::object()) {
  nlohmann::json j = {
      {"family", "dreamer"},
      {"preset", preset},
      {"vocab_size", 64},
      {"d_model", 32},
      {"n_heads", 4},
      {"n_kv_heads", 2},
      {"depth_attention", {{"n_heads", 2}, {"head_dim", 8}, {"zero_init_output", false}}},
      {"ffn_experts", {{"n_experts", 8}, {"k", 2}, {"expert_dim", 16}}},
      {"recurrence", {{"mean", 3}, {"max", 8}}}};
  j.merge_patch(overrides);
  return j;
}

nlohmann::json tiny(const std::string& family, nlohmann::json overrides) {
  nlohmann::json j = {{"family", family}, {"vocab_size", 64}, {"d_model", 32}, {"n_heads", 4}};
  j.merge_patch(overrides);
  return j;
}

nlohmann::json tiny_moeut(int64_t att_n_experts) {
  return {{"family", "moeut"},
          {"vocab_size", 64},
          {"d_model", 32},
          {"n_layers", 4},
          {"group_size", 2},
          {"n_heads", 2},
          {"head_dim", 8},
          {"attention_experts", {{"n_experts", att_n_experts}, {"k", 2}}},
          {"ffn_experts", {{"n_experts", 6}, {"k", 2}, {"expert_dim", 8}}}};
}

}  // namespace

std::vector<TinyCase> tiny_model_cases() {
  return {
      // Dreamer family: the four presets (parallel mixing, EA as a branch) and the
      // depth-attention / mixing / norm / injection variants.
      {"dreamer_DR", tiny_dreamer("DR")},
      {"dreamer_DR_DA", tiny_dreamer("DR+DA")},
      {"dreamer_DR_EA", tiny_dreamer("DR+EA")},
      {"dreamer_DR_DA_EA", tiny_dreamer("DR+DA+EA")},
      {"dreamer_da_all_tokens",
       tiny_dreamer("DR+DA+EA", {{"depth_attention", {{"scope", "all_tokens_causal"}}}})},
      {"dreamer_da_no_depth0_forward_rope",
       tiny_dreamer("DR+DA",
                    {{"depth_attention", {{"include_depth0", false}, {"rope", "forward"}}}})},
      {"dreamer_joint_sa_da", tiny_dreamer("DR+DA+EA", {{"mix_mode", "joint_sa_da"}})},
      {"dreamer_separate", tiny_dreamer("DR+DA+EA", {{"mix_mode", "separate"}})},
      {"dreamer_separate_all_tokens_peri",
       tiny_dreamer("DR+DA+EA", {{"mix_mode", "separate"},
                                 {"norm_placement", "peri"},
                                 {"depth_attention", {{"scope", "all_tokens_causal"}}}})},
      {"dreamer_parallel_expert_after", tiny_dreamer("DR+DA+EA", {{"parallel_expert", "after"}})},
      {"dreamer_parallel_after_dense_ffn", tiny_dreamer("DR+DA", {{"parallel_expert", "after"}})},
      {"dreamer_injection_truncated_backprop",
       tiny_dreamer("DR+EA",
                    {{"input_injection", "add"},
                     {"recurrence", {{"sampling", "poisson_lognormal"}, {"backprop_depth", 1}}}})},
      {"dreamer_peri_norm_rope_routing",
       tiny_dreamer("DR+DA+EA",
                    {{"norm_placement", "peri"},
                     {"ffn_experts", {{"depth_encoding", "rope"}, {"gate", "softmax"}}}})},
      {"dreamer_tied_identity_router",
       tiny_dreamer("DR+EA", {{"tie_embeddings", true},
                              {"ffn_experts", {{"query", "identity"}, {"renormalize", false}}}})},
      // Baselines.
      {"dense_llama", tiny("dense_transformer", {{"n_layers", 2}, {"n_kv_heads", 2}})},
      {"dense_gpt2", tiny("dense_transformer", {{"preset", "gpt2_small"},
                                                {"vocab_size", 64},
                                                {"d_model", 32},
                                                {"n_heads", 4},
                                                {"n_layers", 2},
                                                {"ffn", {{"hidden", 64}}},
                                                {"max_seq_len", 16}})},
      {"moe_softmax_aux",
       tiny("moe_transformer",
            {{"preset", "switch_softmax_aux"},
             {"n_layers", 2},
             {"ffn_experts", {{"n_experts", 4}, {"k", 2}, {"expert_dim", 16}}}})},
      {"moe_sigmoid_bias_shared",
       tiny("moe_transformer",
            {{"preset", "deepseek_sigmoid_bias"},
             {"n_layers", 2},
             {"n_kv_heads", 2},
             {"ffn_experts",
              {{"n_experts", 6}, {"k", 2}, {"expert_dim", 8}, {"n_shared_experts", 1}}}})},
      {"moeut_switchhead", tiny_moeut(3)},
      {"moeut_gated_attention", tiny_moeut(1)},
      {"huginn_linear",
       tiny("huginn", {{"ffn", {{"hidden", 64}}},
                       {"recurrence", {{"mean", 3}, {"backprop_depth", 2}, {"max", 6}}}})},
      {"huginn_add_zero_prenorm",
       tiny("huginn", {{"ffn", {{"hidden", 64}}},
                       {"injection", "add"},
                       {"state_init", "zero"},
                       {"sandwich", false},
                       {"qk_bias", false},
                       {"tie_embeddings", false},
                       {"n_prelude", 0},
                       {"recurrence", {{"mean", 2}, {"backprop_depth", 1}, {"max", 6}}}})},
      {"ut_fixed",
       tiny("universal_transformer", {{"recurrence", {{"mean", 3}}}, {"n_kv_heads", 1}})},
      {"ut_act", tiny("universal_transformer", {{"preset", "act"}, {"recurrence", {{"mean", 4}}}})},
  };
}

}  // namespace dreamer::testing
