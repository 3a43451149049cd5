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
  // float64 angles keep long contexts exact before the cast.
  return (positions.to(torch::kFloat64).unsqueeze(-1) * inv).to(torch::kFloat32);
}

torch::Tensor depth_rope_angles_forward_reverse(const torch::Tensor& depths, int64_t total,
                                                int64_t head_dim, double base) {
  auto inv = inverse_frequencies(head_dim, base, depths.device());
  const int64_t half = head_dim / 4;  // pairs driven by the forward index
  auto d = depths.to(torch::kFloat64).unsqueeze(-1);
  auto forward = d * inv.slice(0, 0, half);
  auto reverse = (static_cast<double>(total) - d) * inv.slice(0, half);
  return torch::cat({forward, reverse}, -1).to(torch::kFloat32);
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
