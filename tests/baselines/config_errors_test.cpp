// Invalid baseline configs fail with an InputError naming the offending field.
#include <gtest/gtest.h>

#include "models/registry.h"
#include "util/errors.h"

namespace dreamer::testing {
namespace {

void expect_error_at(const nlohmann::json& j, const std::string& where) {
  try {
    models::ModelConfig::from_json(j);
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
  expect_error_at({{"family", "moe_transformer"}, {"moe", {{"n_experts", 4}, {"k", 5}}}},
                  "$.moe.k");
  expect_error_at({{"family", "moe_transformer"}, {"moe", {{"gate", "relu"}}}}, "$.moe.gate");
  expect_error_at({{"family", "moe_transformer"}, {"moe", {{"topk", 2}}}}, "$.moe.topk");
  expect_error_at({{"family", "moeut"}, {"group_size", 3}}, "$.group_size");
  expect_error_at({{"family", "moeut"}, {"ff_k", 0}}, "$.ff_k");
  expect_error_at({{"family", "moeut"}, {"att_k", 9}}, "$.att_k");
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
  expect_error_at({{"family", "universal_transformer"}, {"recurrences", 0}}, "$.recurrences");
}

}  // namespace
}  // namespace dreamer::testing
