// models/blocks/swiglu.h: silu(gate) * up as one autograd node. On the CPU (every build) the
// node's hand-written backward is held to autograd through the plain ops in float64; on CUDA
// (builds with the project's kernels) the fused kernels are held to that same reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "models/blocks/ffn.h"
#include "models/blocks/swiglu.h"
#include "tests/test_util.h"
#include "util/cuda_kernels.h"
#include "util/memory_probe.h"

namespace dreamer::testing {
namespace {

using namespace dreamer::models;

struct Result {
  torch::Tensor out, d_gate, d_up;
};

// Output and input gradients of `f` at (gate, up) for the upstream gradient `grad`.
template <typename F>
Result run(F f, const torch::Tensor& gate, const torch::Tensor& up, const torch::Tensor& grad) {
  auto g = gate.detach().clone().requires_grad_(true);
  auto u = up.detach().clone().requires_grad_(true);
  auto out = f(g, u);
  out.backward(grad);
  return {out.detach(), g.grad(), u.grad()};
}

torch::Tensor plain(const torch::Tensor& g, const torch::Tensor& u) {
  return torch::silu(g) * u;
}

TEST(SwiGLU, NodeEqualsThePlainOpsWithGradientsInFloat64) {
  torch::manual_seed(0);
  const auto opts = torch::dtype(torch::kFloat64);
  // Gates reaching far into both tails of the sigmoid, where silu's slope is 0 and 1.
  auto gate = torch::randn({3, 5, 37}, opts) * 6, up = torch::randn({3, 5, 37}, opts);
  auto grad = torch::randn({3, 5, 37}, opts);
  const auto got = run(swiglu, gate, up, grad), ref = run(plain, gate, up, grad);
  EXPECT_RELATIVE_NEAR(got.out, ref.out, 1e-14);
  EXPECT_RELATIVE_NEAR(got.d_gate, ref.d_gate, 1e-13);
  EXPECT_RELATIVE_NEAR(got.d_up, ref.d_up, 1e-14);
}

// The node keeps gate and up for backward, not silu(gate) as well: after the forward, one
// output more than the inputs is alive, where the plain ops keep two tensors more.
TEST(SwiGLU, KeepsOnlyGateAndUpForBackward) {
  install_cpu_memory_probe();
  auto gate = torch::randn({64, 256}, torch::requires_grad());
  auto up = torch::randn({64, 256}, torch::requires_grad());
  const int64_t one = 64 * 256 * 4;
  auto live = [&](auto f) {
    // Inputs of a graph node (not leaves) so that what the node saves is counted by the
    // probe through the tensors' storage: the difference is what autograd holds.
    auto g = gate * 1.0, u = up * 1.0;
    const int64_t before = cpu_memory_stats().live_bytes;
    auto out = f(g, u);
    return cpu_memory_stats().live_bytes - before;
  };
  EXPECT_EQ(live(swiglu), one);     // the output
  EXPECT_EQ(live(plain), 2 * one);  // silu(gate), kept for the product's backward, too
}

TEST(SwiGLU, FeedForwardGatesThroughTheNode) {
  torch::manual_seed(1);
  FeedForward ffn(16, 40, Activation::kSwiGLU);
  ffn->to(torch::kFloat64);
  auto x = torch::randn({2, 7, 16}, torch::dtype(torch::kFloat64));
  auto expected = ffn->down(torch::silu(ffn->gate(x)) * ffn->up(x));
  EXPECT_RELATIVE_NEAR(ffn->forward(x), expected, 1e-14);
}

TEST(CudaSwiGLU, FusedKernelsEqualTheReference) {
  SKIP_WITHOUT_CUDA();
  if (!cuda_kernels_compiled()) GTEST_SKIP() << "built without the project's CUDA kernels";
  torch::manual_seed(2);
  const torch::Device cuda(torch::kCUDA, 0);
  // Bounds relative to each tensor's largest entry. float32: expf and fused multiply-adds, a
  // few ulps. bf16 / fp16: the kernels round their float32 result once (2^-8 / 2^-11 of the
  // value); twice that. The plain bf16 ops round after silu and again after the product.
  struct Case {
    torch::ScalarType dtype;
    double tol;
  };
  // A vectorised size (a multiple of 8), an odd one (the scalar kernel), and a view whose data
  // starts 2 bytes in (misaligned for 16-byte loads: the scalar kernel).
  for (const Case& c :
       {Case{torch::kFloat32, 2e-6}, Case{torch::kBFloat16, 8e-3}, Case{torch::kFloat16, 1e-3}})
    for (int shape = 0; shape < 3; ++shape) {
      SCOPED_TRACE(::testing::Message() << c.dtype << " shape case " << shape);
      const int64_t cols = shape == 1 ? 1001 : 2816;
      auto make = [&] {
        auto t = torch::randn({33, cols + 1}, torch::dtype(torch::kFloat32).device(cuda)) * 4;
        auto v = t.to(c.dtype);
        return shape == 2 ? v.reshape(-1).narrow(0, 1, 33 * cols).view({33, cols})
                          : v.narrow(1, 0, cols).contiguous();
      };
      auto gate = make(), up = make(), grad = make();
      ASSERT_EQ(gate.scalar_type(), c.dtype);
      const auto got = run(swiglu, gate, up, grad);
      const auto d = torch::kFloat64;
      const auto ref = run(plain, gate.to(d), up.to(d), grad.to(d));
      EXPECT_EQ(got.out.scalar_type(), c.dtype);
      EXPECT_RELATIVE_NEAR(got.out.to(d), ref.out, c.tol);
      EXPECT_RELATIVE_NEAR(got.d_gate.to(d), ref.d_gate, c.tol);
      EXPECT_RELATIVE_NEAR(got.d_up.to(d), ref.d_up, c.tol);
      if (c.dtype == torch::kBFloat16) {  // the plain bf16 ops, for scale
        const auto old = run(plain, gate, up, grad);
        EXPECT_RELATIVE_NEAR(old.out.to(d), ref.out, 2e-2);
      }
    }
}

}  // namespace
}  // namespace dreamer::testing
