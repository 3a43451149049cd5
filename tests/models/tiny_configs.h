#pragma once
// Tiny configurations of every family and notable variant, small enough for CPU tests.
// The registry-wide invariant tests (model_invariants_test.cpp) run over all of them;
// a new family or variant only needs a line in tiny_configs.cpp.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace dreamer::testing {

struct TinyCase {
  std::string name;       // gtest-safe: letters, digits, underscores
  nlohmann::json config;  // a ModelConfig JSON
};

std::vector<TinyCase> tiny_model_cases();

}  // namespace dreamer::testing
