#include "models/blocks/rope.h"

#include <algorithm>
#include <map>
#include <mutex>

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
  return apply_rope_cos_sin(x, angles.cos().to(x.scalar_type()), angles.sin().to(x.scalar_type()));
}

void RopeTable::cover(int64_t needed, const torch::Device& device) {
  if (cos64_.defined() && cos64_.size(0) >= needed && cos64_.device() == device) return;
  // Grow geometrically so that decoding one token at a time rebuilds O(log T) times.
  const int64_t size = std::max<int64_t>(needed, cos64_.defined() ? 2 * cos64_.size(0) : 0);
  auto angles =
      rope_angles(torch::arange(size, torch::dtype(torch::kLong).device(device)), head_dim_, base_);
  cos64_ = angles.cos();
  sin64_ = angles.sin();
}

std::pair<torch::Tensor, torch::Tensor> RopeTable::rows(int64_t start, int64_t n,
                                                        const torch::Device& device,
                                                        torch::ScalarType dtype) {
  if (start == last_start_ && n == last_n_ && last_cos_.device() == device &&
      last_cos_.scalar_type() == dtype)
    return {last_cos_, last_sin_};
  cover(start + n, device);
  last_start_ = start;
  last_n_ = n;
  last_cos_ = cos64_.narrow(0, start, n).to(dtype);
  last_sin_ = sin64_.narrow(0, start, n).to(dtype);
  return {last_cos_, last_sin_};
}

std::pair<torch::Tensor, torch::Tensor> RopeTable::rows_at(const torch::Tensor& positions,
                                                           int64_t table_size,
                                                           torch::ScalarType dtype) {
  cover(table_size, positions.device());
  if (!cast_cos_.defined() || cast_cos_.size(0) != cos64_.size(0) ||
      cast_cos_.device() != cos64_.device() || cast_cos_.scalar_type() != dtype) {
    cast_cos_ = cos64_.to(dtype);
    cast_sin_ = sin64_.to(dtype);
  }
  return {cast_cos_.index_select(0, positions), cast_sin_.index_select(0, positions)};
}

namespace {
// The process-wide table of one (head_dim, base), used under its mutex.
template <typename Use>
std::pair<torch::Tensor, torch::Tensor> with_shared_table(int64_t head_dim, double base,
                                                          const Use& use) {
  // Never destroyed: tensors freed by static destructors at exit can outlive the CUDA runtime.
  static auto* tables = new std::map<std::pair<int64_t, double>, RopeTable>();
  static auto* mutex = new std::mutex();
  std::lock_guard<std::mutex> lock(*mutex);
  return use(tables->try_emplace({head_dim, base}, head_dim, base).first->second);
}
}  // namespace

std::pair<torch::Tensor, torch::Tensor> shared_rope_rows(int64_t head_dim, double base,
                                                         int64_t start, int64_t n,
                                                         const torch::Device& device,
                                                         torch::ScalarType dtype) {
  return with_shared_table(head_dim, base,
                           [&](RopeTable& t) { return t.rows(start, n, device, dtype); });
}

torch::Tensor apply_rope_cos_sin(const torch::Tensor& x, const torch::Tensor& cos,
                                 const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

std::pair<torch::Tensor, torch::Tensor> shared_rope_rows_at(int64_t head_dim, double base,
                                                            const torch::Tensor& positions,
                                                            int64_t table_size,
                                                            torch::ScalarType dtype) {
  return with_shared_table(head_dim, base,
                           [&](RopeTable& t) { return t.rows_at(positions, table_size, dtype); });
}

}  // namespace dreamer::models
