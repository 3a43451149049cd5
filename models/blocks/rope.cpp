#include "models/blocks/rope.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "util/cuda_kernels.h"

#ifdef DREAMER_WITH_CUDA_KERNELS
#include "models/blocks/rope_cuda.h"
#endif

namespace dreamer::models {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Whether rope_qk_cuda takes q and k (cos/sin then go to it in float32).
bool use_kernel(const torch::Tensor& q, const torch::Tensor& k) {
  return cuda_kernels_compiled() && q.is_cuda() && k.device() == q.device() &&
         cuda_kernel_dtype(q.scalar_type()) && cuda_kernel_dtype(k.scalar_type());
}

// q and k rotated by cos/sin, or by -angle when `inverse`: the fused kernel where it runs,
// else apply_rope_cos_sin on each with cos/sin in that tensor's dtype.
std::pair<torch::Tensor, torch::Tensor> rotate_qk(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& cos,
                                                  const torch::Tensor& sin, bool inverse) {
#ifdef DREAMER_WITH_CUDA_KERNELS
  if (use_kernel(q, k) && cos.scalar_type() == torch::kFloat32)
    return rope_qk_cuda(q, k, cos, sin, inverse);
#endif
  auto rotate = [&](const torch::Tensor& x) {
    auto c = cos.to(x.scalar_type()), s = sin.to(x.scalar_type());
    return apply_rope_cos_sin(x, c, inverse ? -s : s);
  };
  return {rotate(q), rotate(k)};
}

// The rotation of q and k as one autograd node, on every device (so the CPU tests cover the
// backward the GPU runs). Its backward is the same node with `inverse` flipped, since the
// transpose of a rotation is its inverse: one more fused launch, itself differentiable, and
// only cos/sin are saved.
struct RopeQK : torch::autograd::Function<RopeQK> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& cos, const torch::Tensor& sin, bool inverse) {
    ctx->save_for_backward({cos, sin});
    ctx->saved_data["inverse"] = inverse;
    auto [rq, rk] = rotate_qk(q, k, cos, sin, inverse);
    return {rq, rk};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // An output without a gradient arrives as zeros (grads are materialised by default).
    const auto saved = ctx->get_saved_variables();
    auto g =
        RopeQK::apply(grads[0], grads[1], saved[0], saved[1], !ctx->saved_data["inverse"].toBool());
    return {g[0], g[1], torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

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

torch::ScalarType rope_qk_rows_dtype(const torch::Tensor& q) {
  return use_kernel(q, q) ? torch::kFloat32 : q.scalar_type();
}

std::pair<torch::Tensor, torch::Tensor> apply_rope_qk(const torch::Tensor& q,
                                                      const torch::Tensor& k,
                                                      const torch::Tensor& cos,
                                                      const torch::Tensor& sin) {
  // The node treats cos/sin as constants and needs [B, H, T, D] of one T and D; anything else
  // (never the attention's own call) takes autograd through the plain ops.
  const bool node_shapes = q.dim() == 4 && k.dim() == 4 && q.size(2) == k.size(2) &&
                           q.size(3) == k.size(3) && cos.dim() == 2 && cos.sizes() == sin.sizes() &&
                           cos.size(0) == q.size(2) && 2 * cos.size(1) == q.size(3);
  if (!node_shapes || cos.requires_grad() || sin.requires_grad())
    return {apply_rope_cos_sin(q, cos.to(q.scalar_type()), sin.to(q.scalar_type())),
            apply_rope_cos_sin(k, cos.to(k.scalar_type()), sin.to(k.scalar_type()))};
  torch::Tensor c = cos, s = sin;
  if (use_kernel(q, k)) {  // no-ops for rows fetched in rope_qk_rows_dtype
    c = cos.to(q.device(), torch::kFloat32);
    s = sin.to(q.device(), torch::kFloat32);
  }
  auto out = RopeQK::apply(q, k, c, s, false);
  return {out[0], out[1]};
}

}  // namespace dreamer::models
