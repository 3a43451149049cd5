#include "models/blocks/rope.h"

namespace dreamer::models {

namespace {
torch::Tensor inverse_frequencies(int64_t head_dim, double base, const torch::Device& device) {
  auto idx = torch::arange(0, head_dim / 2, torch::dtype(torch::kFloat64).device(device));
  return torch::pow(base, -2.0 * idx / static_cast<double>(head_dim));
}
}  // namespace

torch::Tensor rope_angles(const torch::Tensor& positions, int64_t head_dim, double base) {
  TORCH_CHECK(head_dim % 2 == 0, "RoPE needs an even head dimension, got ", head_dim);
  auto inv = inverse_frequencies(head_dim, base, positions.device());
  // float64 angles keep long contexts exact; apply_rope casts cos/sin to the input dtype.
  return positions.to(torch::kFloat64).unsqueeze(-1) * inv;
}

torch::Tensor depth_rope_angles_forward_reverse(const torch::Tensor& depths, int64_t total,
                                                int64_t head_dim, double base) {
  // Each half gets the whole frequency ladder (as for a head of Dh/2): splitting one ladder
  // would leave the reverse half only the slowest frequencies, which barely turn over the
  // few dozen depths a model runs.
  auto inv = inverse_frequencies(head_dim / 2, base, depths.device());
  auto d = depths.to(torch::kFloat64).unsqueeze(-1);
  return torch::cat({d * inv, (static_cast<double>(total) - d) * inv}, -1);
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& angles) {
  const int64_t half = x.size(-1) / 2;
  auto cos = angles.cos().to(x.scalar_type());
  auto sin = angles.sin().to(x.scalar_type());
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

}  // namespace dreamer::models
