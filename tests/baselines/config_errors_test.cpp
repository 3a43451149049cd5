// Invalid baseline configs fail with an InputError naming the offending field.
#include <gtest/gtest.h>

#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

void expect_error_at(const nlohmann::json& j, const std::string& where) {
  try {
    zoo::model_config_from_json(j);
    ADD_FAILURE() << "accepted " << j.dump();
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), where) << e.what();
  }
}

TEST(BaselineConfigErrors, NameTheField) {
  expect_error_at({{"family", "dense_transformer"}, {"n_kv_heads", 3}}, "$.n_kv_heads");
  expect_error_at({{"family", "dense_transformer"}, {"n_layer", 3}},
                  "$.n_layer");  // typo: unknown key
  expect_error_at({{"family", "dense_transformer"}, {"position_encoding", "alibi"}},
                  "$.position_encoding");
  expect_error_at({{"family", "dense_transformer"}, {"preset", "gpt3"}}, "$.preset");
  expect_error_at({{"family", "moe_transformer"}, {"ffn_experts", {{"n_experts", 4}, {"k", 5}}}},
                  "$.ffn_experts.k");
  expect_error_at({{"family", "moe_transformer"}, {"ffn_experts", {{"gate", "relu"}}}},
                  "$.ffn_experts.gate");
  expect_error_at({{"family", "moe_transformer"}, {"ffn_experts", {{"topk", 2}}}},
                  "$.ffn_experts.topk");
  expect_error_at({{"family", "moeut"}, {"group_size", 3}}, "$.group_size");
  expect_error_at({{"family", "moeut"}, {"ffn_experts", {{"k", 0}}}}, "$.ffn_experts.k");
  expect_error_at({{"family", "moeut"}, {"attention_experts", {{"k", 9}}}},
                  "$.attention_experts.k");
  expect_error_at({{"family", "huginn"}, {"injection", "concat"}}, "$.injection");
  expect_error_at({{"family", "huginn"}, {"recurrence", {{"mean", 0}}}}, "$.recurrence.mean");
  expect_error_at({{"family", "huginn"}, {"n_core", 0}}, "$.n_core");
  expect_error_at({{"family", "huginn"},
                   {"injection", "none"},
                   {"recurrence", {{"mean", 4}, {"backprop_depth", 2}}}},
                  "$.recurrence.backprop_depth");
  expect_error_at({{"family", "huginn"}, {"init", "xavier"}}, "$.init");
  expect_error_at({{"family", "huginn"}, {"init_std", -0.1}}, "$.init_std");
  expect_error_at({{"family", "universal_transformer"}, {"act", {{"threshold", 1.5}}}},
                  "$.act.threshold");
  expect_error_at({{"family", "universal_transformer"}, {"recurrence", {{"mean", 0}}}},
                  "$.recurrence.mean");
}

}  // namespace
}  // namespace dreamer::testing
