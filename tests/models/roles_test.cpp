// Parameter roles (models/roles.h): every parameter of every tiny config has one, and they
// classify the parameters exactly as the name tests they replaced did, so init, weight decay
// and the embedding count are unchanged.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "models/roles.h"
#include "tests/models/tiny_configs.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using models::ParameterRole;

class Roles : public ::testing::TestWithParam<TinyCase> {};

TEST_P(Roles, EveryParameterHasOne) {
  const auto model = zoo::build_model(zoo::model_config_from_json(GetParam().config));
  models::ParameterRoles roles;
  ASSERT_NO_THROW(roles = model->parameter_roles());
  for (const auto& item : model->named_parameters())
    EXPECT_TRUE(roles.count(item.key())) << item.key();
}

// The name tests of models/model.cpp, baselines/common.cpp, models/dreamer.cpp and
// baselines/huginn.cpp before roles: the roles must agree with them wherever those decided.
TEST_P(Roles, AgreeWithTheNameTestsTheyReplace) {
  const auto model = zoo::build_model(zoo::model_config_from_json(GetParam().config));
  const auto roles = model->parameter_roles();
  const bool moeut = GetParam().config.at("family") == "moeut";  // its own init, no name tests
  for (const auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const auto role = models::role_of(roles, name);
    SCOPED_TRACE(name + " (" + models::role_name(role) + ")");
    auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
    auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
    EXPECT_EQ(models::counts_as_embedding(role),
              starts("embedding.") || starts("position_embedding.") || starts("lm_head."));
    EXPECT_EQ(models::takes_weight_decay(role, item.value()), item.value().dim() >= 2);
    if (has("norm")) EXPECT_EQ(role, ParameterRole::kNorm);
    if (moeut) continue;
    EXPECT_EQ(role == ParameterRole::kNorm, has("norm"));
    EXPECT_EQ(role == ParameterRole::kRouter, has("router."));
    if (item.value().dim() >= 2)
      EXPECT_EQ(role == ParameterRole::kResidualOutput, has(".o.weight") || has("down"));
  }
}

INSTANTIATE_TEST_SUITE_P(TinyConfigs, Roles, ::testing::ValuesIn(tiny_model_cases()),
                         [](const auto& info) { return info.param.name; });

// A module's own declaration covers a child that declares nothing; the outer one wins; a
// parameter nobody declared is named.
struct Inner : torch::nn::Module, models::RoleDeclarer {
  Inner() {
    register_parameter("w", torch::zeros({2, 2}));
    declare_role("w", ParameterRole::kProjection);
  }
};
struct Outer : torch::nn::Module, models::RoleDeclarer {
  Outer() {
    inner = register_module("inner", std::make_shared<Inner>());
    plain = register_module("plain", torch::nn::Linear(2, 2));
    declare_roles("plain", *plain, ParameterRole::kHead);
    declare_role("inner.w", ParameterRole::kResidualOutput);
  }
  std::shared_ptr<Inner> inner;
  torch::nn::Linear plain{nullptr};
};

TEST(RoleCollection, OuterDeclarationsWinAndMissingRolesAreNamed) {
  Outer outer;
  const auto roles = models::collect_parameter_roles(outer);
  EXPECT_EQ(roles.at("inner.w"), ParameterRole::kResidualOutput);
  EXPECT_EQ(roles.at("plain.weight"), ParameterRole::kHead);
  EXPECT_EQ(roles.at("plain.bias"), ParameterRole::kHead);
  outer.register_parameter("stray", torch::zeros({3}));
  try {
    models::collect_parameter_roles(outer);
    ADD_FAILURE() << "a parameter without a role was accepted";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("stray"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dreamer::testing
