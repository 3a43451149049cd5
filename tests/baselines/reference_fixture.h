#pragma once
// Reads the reference fixtures written by tests/fixtures/<family>/make_reference.py: JSON with
// tensors as {"shape": [...], "data": [...]}, weights as integers times the file's "scale"
// (exact in float32), logits as floats.
#include <torch/torch.h>

#include <map>
#include <string>

#include "util/json_reader.h"

namespace dreamer::testing {

// tests/fixtures/<relative> under the source tree.
nlohmann::json read_reference_fixture(const std::string& relative);

torch::Tensor fixture_ints(const nlohmann::json& tensor, double scale);  // float32
torch::Tensor fixture_floats(const nlohmann::json& tensor);              // float32
torch::Tensor fixture_tokens(const nlohmann::json& rows);                // [[int]] -> [B, T] int64

// Every parameter of `model` from `weights` (harness name -> tensor): the two name sets must
// be equal and the shapes must agree.
void load_parameters(torch::nn::Module& model, const std::map<std::string, torch::Tensor>& weights);

// max |actual - expected| / max |expected|.
double max_relative_error(const torch::Tensor& actual, const torch::Tensor& expected);

// "%.3g", for RecordProperty (the measured error lands in --gtest_output=xml).
std::string three_digits(double value);

}  // namespace dreamer::testing
