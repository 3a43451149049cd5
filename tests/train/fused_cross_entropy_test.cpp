// The fused CUDA cross-entropy (train/cross_entropy_cuda.h) against float64 references from
// the same inputs: the kernel alone on given logits, and chunked_linear_cross_entropy (loss,
// d_hidden, d_weight, d_bias) against its CPU fallback in float64. V is not a multiple of 8
// (so rows start misaligned for 16-byte loads and have scalar heads and tails), row counts
// leave a partial last chunk. CudaFusedCrossEntropy.*: skipped without a device or without
// the project's kernels; the file builds everywhere.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "tests/test_util.h"
#include "train/loss.h"
#include "util/cuda_kernels.h"
#include "util/device.h"

#ifdef DREAMER_WITH_CUDA_KERNELS
#include "train/cross_entropy_cuda.h"
#endif

namespace dreamer::testing {
namespace {

const torch::Device kCuda(torch::kCUDA, 0);

#ifdef DREAMER_WITH_CUDA_KERNELS
// Elementwise |got - ref| <= bound, reporting the largest difference.
void expect_within(const torch::Tensor& got, const torch::Tensor& ref, const torch::Tensor& bound) {
  ASSERT_EQ(got.sizes(), ref.sizes());
  const auto diff = (got.to(torch::kCPU, torch::kFloat64) - ref).abs();
  EXPECT_LE((diff - bound).max().item<double>(), 0.0)
      << "max |got - ref| = " << diff.max().item<double>();
}

TEST(CudaFusedCrossEntropy, KernelEqualsFloat64SoftmaxOnTheSameLogits) {
  SKIP_WITHOUT_CUDA();
  if (!cuda_kernels_compiled()) GTEST_SKIP() << "built without the project's kernels";
  torch::manual_seed(0);
  // Bounds per element. The kernel's float32 math (__expf of |x - lse| < 30, a float32 lse) puts
  // softmax p within ~5e-6 of it relative, so the gradient (p - one_hot) * scale within
  // 1e-5 * scale * p (a target entry near p = 1 is close to 0: the error is p's, not its own),
  // and the loss lse - x within 1e-5 relative plus 1e-5 absolute. bf16/fp16 then round once:
  // at most half an ulp (2^-8, 2^-11 relative), bounded by one ulp (2^-7, 2^-10). fp16
  // gradients at V 32003 fall in its subnormals: one subnormal step (2^-24) absolute on top.
  struct Case {
    torch::ScalarType dtype;
    double rel, abs;
  };
  for (const Case& c : {Case{torch::kFloat32, 1e-5, 0.0}, Case{torch::kBFloat16, 0x1p-7, 0.0},
                        Case{torch::kFloat16, 0x1p-10, 0x1p-24}})
    for (int64_t vocab : {7, 8, 1000, 32003})
      for (int64_t rows : {1, 5}) {
        SCOPED_TRACE(::testing::Message() << c.dtype << " V " << vocab << " rows " << rows);
        const auto options = torch::dtype(c.dtype).device(kCuda);
        // One element past an aligned start: row 0 starts misaligned too.
        auto storage = torch::empty({rows * vocab + 1}, options);
        auto logits = storage.narrow(0, 1, rows * vocab).view({rows, vocab});
        logits.copy_(torch::randn({rows, vocab}, options) * 3);
        auto targets = torch::randint(0, vocab, {rows}, torch::dtype(torch::kLong).device(kCuda));
        const double scale = 0.25;
        const auto lf = logits.to(torch::kCPU, torch::kFloat64);
        const auto t = targets.cpu().unsqueeze(1);
        const auto lse = lf.logsumexp(1);
        const auto ref_loss = lse - lf.gather(1, t).squeeze(1);
        const auto p = (lf - lse.unsqueeze(1)).exp();
        auto ref_grad = p.clone().scatter_add_(1, t, -torch::ones(t.sizes(), p.options()));
        ref_grad.mul_(scale);

        const auto loss = train::cross_entropy_grad_cuda(logits, targets, scale);
        EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
        expect_within(loss, ref_loss, ref_loss.abs() * 1e-5 + 1e-5);
        expect_within(logits, ref_grad, ref_grad.abs() * c.rel + p * (1e-5 * scale) + c.abs);
      }
}

TEST(CudaFusedCrossEntropy, TargetOutsideTheVocabularyGivesNaNLoss) {
  SKIP_WITHOUT_CUDA();
  if (!cuda_kernels_compiled()) GTEST_SKIP() << "built without the project's kernels";
  const int64_t vocab = 100;
  auto logits = torch::randn({4, vocab}, kCuda);
  auto targets =
      torch::tensor({int64_t{3}, int64_t{-1}, vocab, int64_t{99}}, torch::dtype(torch::kLong))
          .to(kCuda);
  const auto loss = train::cross_entropy_grad_cuda(logits, targets, 1.0).cpu();
  EXPECT_FALSE(std::isnan(loss[0].item<float>()));
  EXPECT_TRUE(std::isnan(loss[1].item<float>()));
  EXPECT_TRUE(std::isnan(loss[2].item<float>()));
  EXPECT_FALSE(std::isnan(loss[3].item<float>()));
}
#endif

TEST(CudaFusedCrossEntropy, ChunkedLossAndGradientsEqualTheFloat64Fallback) {
  SKIP_WITHOUT_CUDA();
  if (!cuda_kernels_compiled()) GTEST_SKIP() << "built without the project's kernels";
  torch::manual_seed(0);
  // Bounds relative to each tensor's largest entry (the loss: to itself). float32: no
  // rounding beyond float32 matmuls and __expf, 1e-4. bf16 (plain bf16 leaves, or float32
  // leaves under bf16 autocast): the reference is float64 on the same bf16-rounded inputs, so
  // what remains is the GPU's rounding of the logits (2^-8 relative, at |logits| up to ~3.5:
  // up to 1.4e-2 of a softmax entry), of the gradient and of the d_hidden / d_weight matmul
  // outputs (2^-8 each); 3e-2 bounds their sum. The loss (~7, one row at N 1) moves by at most
  // the logits' 1.4e-2: 4e-3 relative.
  // A wrong target or a missing 1/N moves a gradient by O(1) of its largest entry.
  struct Case {
    torch::ScalarType leaves;
    bool autocast;
    double loss_tol, grad_tol;
  };
  for (const Case& c :
       {Case{torch::kFloat32, false, 1e-5, 1e-4}, Case{torch::kBFloat16, false, 4e-3, 3e-2},
        Case{torch::kFloat32, true, 4e-3, 3e-2}})
    for (int64_t vocab : {1000, 32003})
      for (int64_t n : {1, 37, 300})
        for (bool with_bias : {false, true}) {
          const int64_t d = 64, chunk = 128;  // 300 rows: chunks of 128, 128, 44
          SCOPED_TRACE(::testing::Message() << c.leaves << (c.autocast ? " autocast" : "") << " V "
                                            << vocab << " N " << n << " bias " << with_bias);
          const auto options = torch::dtype(c.leaves).device(kCuda);
          auto hidden = torch::randn({n, d}, options).requires_grad_();
          auto weight = (torch::randn({vocab, d}, options) * 0.1).requires_grad_();
          auto bias =
              with_bias ? (torch::randn({vocab}, options) * 0.5).requires_grad_() : torch::Tensor();
          auto targets = torch::randint(0, vocab, {n}, torch::dtype(torch::kLong).device(kCuda));
          std::vector<torch::Tensor> inputs = {hidden, weight};
          if (with_bias) inputs.push_back(bias);
          torch::Tensor loss;
          {
            CudaAutocast autocast(c.autocast);
            loss = train::chunked_linear_cross_entropy(hidden, weight, bias, targets, chunk);
          }
          const auto grads = torch::autograd::grad({loss}, inputs);

          // The CPU fallback in float64 on the inputs as the head saw them (rounded to bf16).
          const auto head = c.autocast ? torch::kBFloat16 : c.leaves;
          std::vector<torch::Tensor> ref_inputs;
          for (const auto& x : inputs)
            ref_inputs.push_back(
                x.detach().to(head).to(torch::kCPU, torch::kFloat64).requires_grad_());
          const auto ref_bias = with_bias ? ref_inputs[2] : torch::Tensor();
          const auto ref = train::chunked_linear_cross_entropy(ref_inputs[0], ref_inputs[1],
                                                               ref_bias, targets.cpu(), chunk);
          const auto ref_grads = torch::autograd::grad({ref}, ref_inputs);

          EXPECT_NEAR(loss.item<double>(), ref.item<double>(), c.loss_tol * ref.item<double>());
          for (size_t i = 0; i < grads.size(); ++i) {
            SCOPED_TRACE(::testing::Message() << "gradient " << i);
            EXPECT_EQ(grads[i].scalar_type(), c.leaves);
            EXPECT_RELATIVE_NEAR(grads[i].to(torch::kCPU, torch::kFloat64), ref_grads[i],
                                 c.grad_tol);
          }
        }
}

TEST(CudaFusedCrossEntropy, LossWithoutGradientsEqualsTheFloat64Fallback) {
  SKIP_WITHOUT_CUDA();
  if (!cuda_kernels_compiled()) GTEST_SKIP() << "built without the project's kernels";
  torch::manual_seed(1);
  auto hidden = torch::randn({50, 32}, kCuda), weight = torch::randn({1001, 32}, kCuda) * 0.3;
  auto targets = torch::randint(0, 1001, {50}, torch::dtype(torch::kLong).device(kCuda));
  torch::NoGradGuard no_grad;
  const auto loss = train::chunked_linear_cross_entropy(hidden, weight, {}, targets, 16);
  const auto ref = train::chunked_linear_cross_entropy(hidden.to(torch::kCPU, torch::kFloat64),
                                                       weight.to(torch::kCPU, torch::kFloat64), {},
                                                       targets.cpu(), 16);
  EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-5 * ref.item<double>());
}

}  // namespace
}  // namespace dreamer::testing
