#include "train/loss.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <algorithm>

#ifdef DREAMER_WITH_CUDA_KERNELS
#include "train/cross_entropy_cuda.h"
#include "util/cuda_kernels.h"
#endif

namespace dreamer::train {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The dtype nn::Linear would compute the head in: autocast's on a GPU where it is on.
torch::ScalarType head_dtype(const torch::Tensor& hidden) {
  if (!hidden.is_cuda()) return hidden.scalar_type();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  if (at::autocast::is_autocast_enabled(at::kCUDA))
    return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  if (at::autocast::is_enabled()) return at::autocast::get_autocast_gpu_dtype();
#endif
  return hidden.scalar_type();
}

#ifdef DREAMER_WITH_CUDA_KERNELS
// Whether cross_entropy_grad_cuda takes the chunks' logits (of `dtype`, the head's).
bool use_kernel(const torch::Tensor& hidden, torch::ScalarType dtype,
                const torch::Tensor& targets) {
  return hidden.is_cuda() && targets.scalar_type() == torch::kLong && cuda_kernel_dtype(dtype);
}
#endif

struct LinearCrossEntropy : torch::autograd::Function<LinearCrossEntropy> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight,
                               const c10::optional<torch::Tensor>& bias,
                               const torch::Tensor& targets, int64_t chunk_rows) {
    const int64_t n = hidden.size(0);
    const auto dtype = head_dtype(hidden);
    const auto h = hidden.to(dtype), w = weight.to(dtype);
    const bool has_bias = bias.has_value() && bias->defined();
    const auto b = has_bias ? bias->to(dtype) : torch::Tensor();
    const bool grad_h = hidden.requires_grad(), grad_w = weight.requires_grad();
    const bool grad_b = has_bias && bias->requires_grad();
    // float32 statistics and gradients (float64 stays float64, for exact CPU references).
    const auto stat_dtype =
        hidden.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    const auto f32 = hidden.options().dtype(stat_dtype);
    torch::Tensor d_hidden = grad_h ? torch::empty_like(hidden) : torch::Tensor();
    torch::Tensor d_weight = grad_w ? torch::zeros(weight.sizes(), f32) : torch::Tensor();
    torch::Tensor d_bias = grad_b ? torch::zeros(bias->sizes(), f32) : torch::Tensor();
    auto total = torch::zeros({}, f32);
#ifdef DREAMER_WITH_CUDA_KERNELS
    const bool kernel = use_kernel(hidden, dtype, targets);
#endif
    for (int64_t start = 0; start < n; start += chunk_rows) {
      const int64_t rows = std::min(chunk_rows, n - start);
      auto hc = h.narrow(0, start, rows);
#ifdef DREAMER_WITH_CUDA_KERNELS
      // One kernel turns the chunk's logits (head dtype) into its gradient in place and
      // returns the rows' losses: the float32 statistics of the ops below and their single
      // rounding of the gradient to the head dtype, from two passes over the logits instead of
      // about seven over float32 copies. Run without gradients too (the logits are scratch).
      // d_bias sums the rounded gradient, in float32; the ops below sum it unrounded.
      if (kernel) {
        auto gd = has_bias ? torch::addmm(b, hc, w.t()) : torch::matmul(hc, w.t());
        total += cross_entropy_grad_cuda(gd, targets.narrow(0, start, rows),
                                         1.0 / static_cast<double>(n))
                     .sum();
        if (grad_h) d_hidden.narrow(0, start, rows).copy_(torch::matmul(gd, w));
        if (grad_w) d_weight.add_(torch::matmul(gd.t(), hc));
        if (grad_b) d_bias.add_(gd.sum({0}, /*keepdim=*/false, torch::kFloat32));
        continue;
      }
#endif
      auto logits = torch::matmul(hc, w.t());
      if (has_bias) logits = logits + b;
      auto lf = logits.to(stat_dtype);  // [rows, V]
      auto lse = lf.logsumexp(-1);      // [rows]
      auto target = targets.narrow(0, start, rows).unsqueeze(1);
      total += (lse - lf.gather(1, target).squeeze(1)).sum();
      if (!(grad_h || grad_w || grad_b)) continue;
      // d(mean loss)/d logits = (softmax - one_hot(target)) / N.
      auto g = (lf - lse.unsqueeze(1)).exp_();
      g.scatter_add_(1, target, -torch::ones(target.sizes(), g.options()));
      g.div_(static_cast<double>(n));
      auto gd = g.to(dtype);
      if (grad_h) d_hidden.narrow(0, start, rows).copy_(torch::matmul(gd, w));
      if (grad_w) d_weight.add_(torch::matmul(gd.t(), hc));
      if (grad_b) d_bias.add_(g.sum(0));
    }
    ctx->save_for_backward({d_hidden, d_weight, d_bias});
    ctx->saved_data["weight_dtype"] = static_cast<int64_t>(weight.scalar_type());
    return total / static_cast<double>(n);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& scale = grads[0];  // scalar
    auto weight_dtype = static_cast<torch::ScalarType>(ctx->saved_data["weight_dtype"].toInt());
    auto scaled = [&](const torch::Tensor& g, c10::optional<torch::ScalarType> dtype = {}) {
      if (!g.defined()) return torch::Tensor();
      auto out = g * scale.to(g.scalar_type());
      return dtype ? out.to(*dtype) : out;
    };
    return {scaled(saved[0]), scaled(saved[1], weight_dtype), scaled(saved[2]), torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor chunked_linear_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight,
                                           const torch::Tensor& bias, const torch::Tensor& targets,
                                           int64_t chunk_rows) {
  TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
              "chunked cross-entropy: hidden [N, d] and weight [V, d] expected, got ",
              hidden.sizes(), " and ", weight.sizes());
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == hidden.size(0),
              "chunked cross-entropy: targets [N] expected, got ", targets.sizes());
  TORCH_CHECK(chunk_rows >= 1, "chunked cross-entropy: chunk_rows must be >= 1");
  c10::optional<torch::Tensor> b;
  if (bias.defined()) b = bias;
  return LinearCrossEntropy::apply(hidden, weight, b, targets, chunk_rows);
}

int64_t cross_entropy_chunk_rows(int64_t vocab_size, int64_t bytes) {
  return std::max<int64_t>(1, bytes / (4 * std::max<int64_t>(vocab_size, 1)));
}

}  // namespace dreamer::train
