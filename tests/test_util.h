#pragma once
// Helpers shared by the test files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <string>

#include "util/errors.h"

namespace dreamer::testing {

// Largest absolute difference, for messages.
inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

#define EXPECT_TENSOR_NEAR(a, b, tol)                                \
  do {                                                               \
    ASSERT_EQ((a).sizes(), (b).sizes());                             \
    const double _diff = ::dreamer::testing::max_abs_diff((a), (b)); \
    EXPECT_LE(_diff, (tol)) << "max |" #a " - " #b "| = " << _diff;  \
  } while (0)

// max |a - b| / max |b|: for bf16 and other tolerances that scale with the values.
inline double relative_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = b.abs().max().item<double>();
  return max_abs_diff(a, b) / std::max(scale, 1e-30);
}

#define EXPECT_RELATIVE_NEAR(a, b, tol)                                          \
  do {                                                                           \
    ASSERT_EQ((a).sizes(), (b).sizes());                                         \
    const double _rel = ::dreamer::testing::relative_diff((a), (b));             \
    EXPECT_LE(_rel, (tol)) << "max |" #a " - " #b "| / max |" #b "| = " << _rel; \
  } while (0)

// The first line of a CUDA-only test: skip cleanly where there is no device.
#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device in this build or machine"

// What the InputError thrown by `body` says (where: what), or "no error" when it throws none:
// the tests of bad input compare it with the message a user would read.
inline std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

// The InputError `body` throws, for tests of its parts (where(), message()); a test failure
// when it throws none.
inline InputError input_error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "no InputError";
  return InputError("", "");
}

struct CommandResult {
  int exit_code = 0;
  std::string output;  // stdout and stderr together
};

// Runs the built `dreamer` CLI with the given arguments (shell-quoted by the caller).
CommandResult run_cli(const std::string& args);

// A fresh temporary directory, removed at process exit.
std::string temp_dir();

}  // namespace dreamer::testing
