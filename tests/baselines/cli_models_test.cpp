// `dreamer models` lists every registered family and preset, as text and as JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

TEST(CliModels, ListsEveryFamilyAndPreset) {
  auto text = run_cli("models");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  auto json = run_cli("models --json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto rows = nlohmann::json::parse(json.output);
  for (const auto& family : zoo::families()) {
    EXPECT_NE(text.output.find(family.name), std::string::npos) << family.name;
    for (const auto& [preset, overrides] : family.presets) {
      bool found = false;
      for (const auto& row : rows) found |= row["family"] == family.name && row["preset"] == preset;
      EXPECT_TRUE(found) << family.name << "/" << preset << " missing from --json";
    }
  }
}

}  // namespace
}  // namespace dreamer::testing
