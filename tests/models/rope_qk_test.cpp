// apply_rope_qk (rope.h) against apply_rope_cos_sin, forward and gradients, on inputs laid out as
// SequenceAttention::project makes them: [B, H, T, D] views of [B, T, H * D] projections
// (non-contiguous), GQA (fewer k heads), one decode position past the start and longer runs.
// On the CPU this checks the autograd node and its inverse-rotation backward; on CUDA
// (Cuda*, skipped without a device or without the project's kernels) the fused kernel.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>
#include <vector>

#include "models/blocks/rope.h"
#include "tests/test_util.h"
#include "util/cuda_kernels.h"

namespace dreamer::testing {
namespace {

using namespace dreamer::models;

struct Shape {
  int64_t b, hq, hkv, t, d, start;
};

// The projections (leaves) and their head views, strided as in SequenceAttention::project.
struct Projections {
  torch::Tensor yq, yk, q, k;
};

Projections heads_of(const torch::Tensor& yq, const torch::Tensor& yk, const Shape& s) {
  Projections p{yq.detach().clone().requires_grad_(), yk.detach().clone().requires_grad_(), {}, {}};
  p.q = p.yq.view({s.b, s.t, s.hq, s.d}).transpose(1, 2);
  p.k = p.yk.view({s.b, s.t, s.hkv, s.d}).transpose(1, 2);
  return p;
}

Projections random_projections(const Shape& s, const torch::TensorOptions& options) {
  return heads_of(torch::randn({s.b, s.t, s.hq * s.d}, options),
                  torch::randn({s.b, s.t, s.hkv * s.d}, options), s);
}

// Upstream gradients [B, H, T, D] with the strides of a transposed view, as attention's
// backward can hand them.
torch::Tensor strided_grad(const torch::Tensor& like) {
  return torch::randn({like.size(0), like.size(2), like.size(1), like.size(3)}, like.options())
      .transpose(1, 2);
}

// Rotated q, k, then the gradients of both projections under upstream gq, gk.
std::vector<torch::Tensor> rotate_and_backward(bool use_qk, const Projections& p,
                                               const torch::Tensor& cos, const torch::Tensor& sin,
                                               const torch::Tensor& gq, const torch::Tensor& gk) {
  torch::Tensor rq, rk;
  if (use_qk) {
    std::tie(rq, rk) = apply_rope_qk(p.q, p.k, cos, sin);
  } else {
    const auto dtype = p.q.scalar_type();
    rq = apply_rope_cos_sin(p.q, cos.to(dtype), sin.to(dtype));
    rk = apply_rope_cos_sin(p.k, cos.to(dtype), sin.to(dtype));
  }
  auto grads =
      torch::autograd::grad({rq, rk}, {p.yq, p.yk}, {gq.to(rq.dtype()), gk.to(rk.dtype())});
  return {rq.detach(), rk.detach(), grads[0], grads[1]};
}

const char* kNames[] = {"q", "k", "grad q", "grad k"};

TEST(RopeQk, EqualsApplyRopeCosSinWithGradientsOnCpu) {
  torch::manual_seed(0);
  for (auto dtype : {torch::kFloat32, torch::kFloat64})
    for (const Shape& s : {Shape{2, 4, 2, 1, 16, 9}, Shape{2, 4, 1, 7, 12, 0}}) {
      SCOPED_TRACE(::testing::Message() << dtype << " T " << s.t << " D " << s.d);
      auto p = random_projections(s, torch::dtype(dtype));
      auto [cos, sin] = shared_rope_rows(s.d, 10000.0, s.start, s.t, torch::kCPU, dtype);
      const auto gq = strided_grad(p.q), gk = strided_grad(p.k);
      auto ref = rotate_and_backward(false, p, cos, sin, gq, gk);
      auto got = rotate_and_backward(true, heads_of(p.yq, p.yk, s), cos, sin, gq, gk);
      // The same ops in the same order (the backward's -sin only flips signs): exact.
      for (int i = 0; i < 4; ++i) EXPECT_TRUE(torch::equal(got[i], ref[i])) << kNames[i];
    }
}

TEST(RopeQk, BackwardIsItselfDifferentiable) {
  // rope is linear: grad_x = R^T g, so d<grad_x, w>/dg = R w, which the node's backward (the
  // node again, inverted) must give.
  torch::manual_seed(0);
  const Shape s{1, 2, 2, 5, 8, 3};
  auto p = random_projections(s, torch::dtype(torch::kFloat64));
  auto [cos, sin] = shared_rope_rows(s.d, 10000.0, s.start, s.t, torch::kCPU, torch::kFloat64);
  auto [rq, rk] = apply_rope_qk(p.q, p.k, cos, sin);
  auto gq = torch::randn_like(rq).requires_grad_(), gk = torch::randn_like(rk).requires_grad_();
  auto grad_q = torch::autograd::grad({rq, rk}, {p.yq}, {gq, gk}, true, true)[0];
  auto w = torch::randn_like(grad_q);
  auto second = torch::autograd::grad({(grad_q * w).sum()}, {gq})[0];
  auto wq = w.view({s.b, s.t, s.hq, s.d}).transpose(1, 2);
  EXPECT_TENSOR_NEAR(second, apply_rope_cos_sin(wq, cos, sin), 1e-12);
}

// ---------------------------------------------------------------- CUDA

const torch::Device kCuda(torch::kCUDA, 0);

// Decode (T 1 past a nonzero start), a prefill whose D/2 is not a multiple of a warp, and a
// training-sized run; all GQA.
const Shape kCudaShapes[] = {{4, 8, 2, 1, 64, 37}, {2, 8, 4, 33, 96, 0}, {2, 16, 4, 256, 128, 5}};

TEST(CudaRopeQk, FusedEqualsFallbackForwardAndBackward) {
  SKIP_WITHOUT_CUDA();
  if (!cuda_kernels_compiled()) GTEST_SKIP() << "built without the project's CUDA kernels";
  torch::manual_seed(0);
  // Bounds, relative to each tensor's largest entry. float32: the kernel fuses multiply-adds
  // (a few float32 ulps). bf16/fp16: the kernel rounds its float32 result once, at most
  // 2^-8 (bf16) or 2^-11 (fp16) of the value off the float32 reference on the same inputs;
  // the bound is twice that. The old bf16 path (bf16 cos/sin, a rounding per op) is within 2e-2.
  struct Case {
    torch::ScalarType dtype;
    double tol;
  };
  for (const Case& c :
       {Case{torch::kFloat32, 1e-6}, Case{torch::kBFloat16, 8e-3}, Case{torch::kFloat16, 1e-3}})
    for (const Shape& s : kCudaShapes) {
      SCOPED_TRACE(::testing::Message() << c.dtype << " T " << s.t << " D " << s.d);
      auto p = random_projections(s, torch::dtype(c.dtype).device(kCuda));
      const auto gq = strided_grad(p.q), gk = strided_grad(p.k);
      auto [cos, sin] = shared_rope_rows(s.d, 10000.0, s.start, s.t, kCuda, torch::kFloat32);
      auto got = rotate_and_backward(true, p, cos, sin, gq, gk);
      // The fallback in float32 on the same (rounded) inputs and upstream gradients.
      auto p32 = heads_of(p.yq.to(torch::kFloat32), p.yk.to(torch::kFloat32), s);
      auto ref =
          rotate_and_backward(false, p32, cos, sin, gq.to(torch::kFloat32), gk.to(torch::kFloat32));
      for (int i = 0; i < 4; ++i) {
        SCOPED_TRACE(kNames[i]);
        EXPECT_EQ(got[i].scalar_type(), c.dtype);
        EXPECT_RELATIVE_NEAR(got[i].to(torch::kFloat32), ref[i], c.tol);
      }
      EXPECT_TRUE(got[0].is_contiguous() && got[1].is_contiguous());
      if (c.dtype == torch::kBFloat16) {  // the old path, all in bf16
        auto old = rotate_and_backward(false, heads_of(p.yq, p.yk, s), cos, sin, gq, gk);
        for (int i = 0; i < 4; ++i) {
          SCOPED_TRACE(::testing::Message() << "old path, " << kNames[i]);
          EXPECT_RELATIVE_NEAR(got[i].to(torch::kFloat32), old[i].to(torch::kFloat32), 2e-2);
        }
      }
    }
}

TEST(CudaRopeQk, QAndKOfDifferentDtypes) {
  SKIP_WITHOUT_CUDA();
  if (!cuda_kernels_compiled()) GTEST_SKIP() << "built without the project's CUDA kernels";
  torch::manual_seed(0);
  const Shape s = kCudaShapes[1];
  auto q = torch::randn({s.b, s.t, s.hq * s.d}, kCuda).view({s.b, s.t, s.hq, s.d}).transpose(1, 2);
  auto k = torch::randn({s.b, s.t, s.hkv * s.d}, torch::dtype(torch::kBFloat16).device(kCuda))
               .view({s.b, s.t, s.hkv, s.d})
               .transpose(1, 2);
  auto [cos, sin] = shared_rope_rows(s.d, 10000.0, s.start, s.t, kCuda, torch::kFloat32);
  auto [rq, rk] = apply_rope_qk(q, k, cos, sin);
  EXPECT_EQ(rk.scalar_type(), torch::kBFloat16);
  EXPECT_RELATIVE_NEAR(rq, apply_rope_cos_sin(q, cos, sin), 1e-6);
  EXPECT_RELATIVE_NEAR(rk.to(torch::kFloat32), apply_rope_cos_sin(k.to(torch::kFloat32), cos, sin),
                       8e-3);
}

}  // namespace
}  // namespace dreamer::testing
