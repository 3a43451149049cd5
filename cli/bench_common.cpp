#include "cli/bench_common.h"

#include <torch/torch.h>

#include <fstream>
#include <iostream>

#include "util/errors.h"

namespace dreamer::cli {

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

bool use_bf16(const std::string& precision, const c10::Device& device) {
  require(precision == "auto" || precision == "fp32" || precision == "bf16", "--precision",
          "expected auto, fp32 or bf16, got \"" + precision + "\"");
  require(!(precision == "bf16" && !device.is_cuda()), "--precision",
          "bf16 autocast needs a CUDA device");
  return device.is_cuda() && precision != "fp32";
}

void emit(const nlohmann::json& result, const std::string& out) {
  std::cout << result.dump() << std::endl;
  if (out.empty()) return;
  std::ofstream file(out, std::ios::app);
  file << result.dump() << "\n";
  require(static_cast<bool>(file), out, "cannot append the result");
}

}  // namespace dreamer::cli
