#include "tests/baselines/reference_fixture.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace dreamer::testing {

namespace {
std::vector<int64_t> shape_of(const nlohmann::json& tensor) {
  return tensor.at("shape").get<std::vector<int64_t>>();
}
}  // namespace

nlohmann::json read_reference_fixture(const std::string& relative) {
  return read_json_file(std::string(DREAMER_SOURCE_DIR) + "/tests/fixtures/" + relative);
}

torch::Tensor fixture_ints(const nlohmann::json& tensor, double scale) {
  const auto data = tensor.at("data").get<std::vector<int64_t>>();
  auto t = torch::tensor(data, torch::kFloat64) * scale;
  return t.reshape(shape_of(tensor)).to(torch::kFloat32);
}

torch::Tensor fixture_floats(const nlohmann::json& tensor) {
  const auto data = tensor.at("data").get<std::vector<double>>();
  return torch::tensor(data, torch::kFloat64).reshape(shape_of(tensor)).to(torch::kFloat32);
}

torch::Tensor fixture_tokens(const nlohmann::json& rows) {
  std::vector<torch::Tensor> out;
  for (const auto& row : rows)
    out.push_back(torch::tensor(row.get<std::vector<int64_t>>(), torch::kLong));
  return torch::stack(out);
}

void load_parameters(torch::nn::Module& model,
                     const std::map<std::string, torch::Tensor>& weights) {
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  for (const auto& [name, value] : weights)
    ASSERT_TRUE(params.contains(name)) << "the harness model has no parameter " << name;
  for (auto& item : params) {
    auto it = weights.find(item.key());
    ASSERT_NE(it, weights.end()) << "the reference fixture gives no value for " << item.key();
    ASSERT_EQ(item.value().sizes(), it->second.sizes()) << item.key();
    item.value().copy_(it->second);
  }
}

double max_relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  auto a = actual.to(torch::kFloat64), e = expected.to(torch::kFloat64);
  return ((a - e).abs().max() / e.abs().max()).item<double>();
}

std::string three_digits(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

}  // namespace dreamer::testing
