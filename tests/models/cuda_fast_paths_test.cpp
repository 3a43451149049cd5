// The GPU fast paths against their fallbacks, on CUDA (skipped without a GPU): grouped experts
// (and that they never synchronise with the host), depth-attention level buffers, fused AdamW,
// device-side clipping, fused RMSNorm, GQA attention, the chunked cross-entropy. bf16 results
// are compared relative to the tensor's scale: |a - b|max <= tol * |b|max.
#include <gtest/gtest.h>
#include <torch/torch.h>

#ifdef DREAMER_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "models/blocks/attention_core.h"
#include "models/blocks/depth_attention.h"
#include "models/blocks/experts.h"
#include "models/blocks/norm.h"
#include "tests/test_util.h"
#include "train/loss.h"
#include "train/optim.h"
#include "util/device.h"

namespace dreamer::testing {
namespace {

using namespace dreamer::models;

const torch::Device kCuda(torch::kCUDA, 0);

#ifdef DREAMER_WITH_CUDA
// Makes any synchronising CUDA call (a device-to-host copy, .item(), a stream sync) throw.
struct ErrorOnSync {
  ErrorOnSync() {
    c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR);
  }
  ~ErrorOnSync() {
    c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED);
  }
};
#endif

// ---------------------------------------------------------------- experts

struct ExpertCase {
  ExpertFFN experts{nullptr};
  torch::Tensor x, ids, gates, target;
};

ExpertCase expert_case(int64_t e, Activation act) {
  torch::manual_seed(0);
  const int64_t n = 1024, d = 128, de = 64, k = 8;
  ExpertCase c;
  c.experts = ExpertFFN(e, d, de, act);
  c.experts->to(kCuda);
  c.x = torch::randn({n, d}, kCuda).requires_grad_();
  c.ids = std::get<1>(torch::rand({n, e}, kCuda).topk(k, 1));
  c.gates = torch::rand({n, k}, kCuda).requires_grad_();
  c.target = torch::randn({n, d}, kCuda);
  return c;
}

std::vector<torch::Tensor> expert_outputs(ExpertCase& c, bool grouped) {
  CudaAutocast autocast(true);
  auto y = grouped ? c.experts->forward_grouped(c.x, c.ids, c.gates)
                   : c.experts->forward_loop(c.x, c.ids, c.gates);
  std::vector<torch::Tensor> inputs = {c.x, c.gates, c.experts->w_up, c.experts->w_down};
  if (c.experts->w_gate.defined()) inputs.push_back(c.experts->w_gate);
  auto grads = torch::autograd::grad({(y.to(torch::kFloat32) * c.target).sum()}, inputs);
  grads.insert(grads.begin(), y.detach().to(torch::kFloat32));
  return grads;
}

TEST(CudaExperts, GroupedEqualsLoopInBf16WithGradients) {
  SKIP_WITHOUT_CUDA();
  if (!grouped_experts_compiled()) GTEST_SKIP() << "LibTorch < 2.9: no at::_grouped_mm";
  for (int64_t e : {64, 256})
    for (auto act : {Activation::kReLU, Activation::kSwiGLU})
      for (bool fold : {true, false}) {
        auto c = expert_case(e, act);
        c.experts->fold_gates = fold;
        {
          CudaAutocast autocast(true);
          EXPECT_TRUE(c.experts->grouped_available(c.x)) << "forward() would take the loop";
        }
        auto grouped = expert_outputs(c, true), loop = expert_outputs(c, false);
        for (size_t i = 0; i < grouped.size(); ++i) {
          SCOPED_TRACE(::testing::Message()
                       << "E " << e << " fold_gates " << fold << " output/grad " << i);
          EXPECT_RELATIVE_NEAR(grouped[i], loop[i], 2e-2);
        }
      }
}

#ifdef DREAMER_WITH_CUDA
TEST(CudaExperts, GroupedForwardAndBackwardNeverSynchronise) {
  SKIP_WITHOUT_CUDA();
  if (!grouped_experts_compiled()) GTEST_SKIP() << "LibTorch < 2.9: no at::_grouped_mm";
  auto c = expert_case(64, Activation::kSwiGLU);
  torch::cuda::synchronize();
  {
    ErrorOnSync guard;
    CudaAutocast autocast(true);
    auto y = c.experts->forward_grouped(c.x, c.ids, c.gates);
    EXPECT_NO_THROW((y.to(torch::kFloat32) * c.target).sum().backward());
  }
  torch::cuda::synchronize();
  EXPECT_TRUE(c.experts->w_up.grad().defined());
}
#endif

// ---------------------------------------------------------------- depth attention

TEST(CudaDepthAttention, LevelBuffersEqualStackingInBf16) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  DepthAttentionOptions o;
  o.d_model = 256;
  o.n_heads = 4;
  o.head_dim = 64;
  DepthAttention da(o);
  da->to(kCuda);
  {
    torch::NoGradGuard init;
    da->o->weight.normal_(0.0, 0.02);  // zero-initialised output would hide everything
  }
  std::vector<torch::Tensor> states;
  const int64_t total = 8;
  for (int64_t i = 0; i <= total; ++i)
    states.push_back(torch::randn({2, 64, 256}, kCuda).requires_grad_());
  auto run = [&](bool buffers) {
    da->use_level_buffers = buffers;
    CudaAutocast autocast(true);
    DepthMemory memory;
    da->write(memory, states[0], states[0], 0, total, nullptr);
    torch::Tensor out;
    for (int64_t r = 1; r <= total; ++r) {
      da->write(memory, states[r], states[r], r, total, nullptr);
      auto y = da->read(memory, states[r], r, total).to(torch::kFloat32);
      out = out.defined() ? out + y : y;
    }
    auto grads = torch::autograd::grad({out.pow(2).sum()}, {states[0], states[3], da->k->weight});
    grads.insert(grads.begin(), out.detach());
    return grads;
  };
  auto fast = run(true), ref = run(false);
  for (size_t i = 0; i < fast.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "output/grad " << i);
    EXPECT_RELATIVE_NEAR(fast[i], ref[i], 2e-2);
  }
}

#ifdef DREAMER_WITH_CUDA
// Peak CUDA memory of R depths (writes and reads, forward only): linear in R with level
// buffers, so the peak per depth stays about flat from R 8 to R 32; stacking grows it.
double peak_bytes_per_depth(int64_t total, bool buffers) {
  torch::manual_seed(0);
  DepthAttentionOptions o;
  o.d_model = 256;
  o.n_heads = 4;
  o.head_dim = 64;
  DepthAttention da(o);
  da->to(kCuda);
  da->use_level_buffers = buffers;
  std::vector<torch::Tensor> states;
  for (int64_t i = 0; i <= total; ++i)
    states.push_back(torch::randn({2, 128, 256}, kCuda).requires_grad_());
  torch::cuda::synchronize();
  const auto device = c10::Device(kCuda);
  const double before = static_cast<double>(
      c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[0].current);
  reset_peak_memory(device);
  {
    DepthMemory memory;
    da->write(memory, states[0], states[0], 0, total, nullptr);
    torch::Tensor out;
    for (int64_t r = 1; r <= total; ++r) {
      da->write(memory, states[r], states[r], r, total, nullptr);
      auto y = da->read(memory, states[r], r, total);
      out = out.defined() ? out + y : y;
    }
    torch::cuda::synchronize();
  }
  return (peak_memory_bytes(device) - before) / static_cast<double>(total);
}

TEST(CudaDepthAttention, ForwardMemoryPerDepthStaysFlat) {
  SKIP_WITHOUT_CUDA();
  const double buffered = peak_bytes_per_depth(32, true) / peak_bytes_per_depth(8, true);
  const double stacked = peak_bytes_per_depth(32, false) / peak_bytes_per_depth(8, false);
  EXPECT_LT(buffered, 1.5) << "level buffers: bytes per depth at R 32 over R 8";
  EXPECT_GT(stacked, 1.8) << "teeth: stacking grows per depth";
}
#endif

// ---------------------------------------------------------------- optimizer, clipping

TEST(CudaFusedAdamW, StepsEqualTorchAdamW) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  std::vector<torch::Tensor> a = {torch::randn({64, 32}, kCuda), torch::randn({32}, kCuda)};
  std::vector<torch::Tensor> b;
  for (auto& t : a) {
    t.requires_grad_();
    b.push_back(t.detach().clone().requires_grad_());
  }
  auto options = torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).weight_decay(0.1);
  train::FusedAdamW fused(a, options);
  torch::optim::AdamW plain(b, options);
  if (train::fused_adamw_compiled())
    EXPECT_EQ(train::FusedAdamW::path_for(a), train::FusedAdamW::Path::kFused);
  for (int step = 0; step < 5; ++step) {
    for (size_t i = 0; i < a.size(); ++i) {
      auto g = torch::randn_like(a[i]);
      a[i].mutable_grad() = g.clone();
      b[i].mutable_grad() = g.clone();
    }
    fused.step();
    plain.step();
  }
  for (size_t i = 0; i < a.size(); ++i) EXPECT_RELATIVE_NEAR(a[i].detach(), b[i].detach(), 1e-5);
}

#ifdef DREAMER_WITH_CUDA
TEST(CudaClipGradNorm, EqualsTorchClippingWithoutSynchronising) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  std::vector<torch::Tensor> a = {torch::randn({64, 32}, kCuda).requires_grad_(),
                                  torch::randn({32}, kCuda).requires_grad_()};
  std::vector<torch::Tensor> b = {a[0].detach().clone().requires_grad_(),
                                  a[1].detach().clone().requires_grad_()};
  for (size_t i = 0; i < a.size(); ++i) {
    auto g = torch::randn_like(a[i]) * 3;
    a[i].mutable_grad() = g.clone();
    b[i].mutable_grad() = g.clone();
  }
  torch::cuda::synchronize();
  torch::Tensor norm;
  {
    ErrorOnSync guard;
    norm = train::clip_grad_norm(a, 1.0);
  }
  const double expected = torch::nn::utils::clip_grad_norm_(b, 1.0);
  EXPECT_NEAR(norm.item<double>(), expected, 1e-4 * expected);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_RELATIVE_NEAR(a[i].grad(), b[i].grad(), 1e-5);
}
#endif

// ---------------------------------------------------------------- norm, attention, loss

TEST(CudaRmsNorm, EqualsTheFloat32Formula) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  Norm norm(512, NormKind::kRMSNorm, 1e-5);
  norm->to(kCuda);
  torch::NoGradGuard no_grad;
  norm->weight.normal_(1.0, 0.1);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto x = torch::randn({4, 128, 512}, kCuda).to(dtype);
    auto x32 = x.to(torch::kFloat32);
    auto formula = (x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + 1e-5) * norm->weight).to(dtype);
    EXPECT_RELATIVE_NEAR(norm(x).to(torch::kFloat32), formula.to(torch::kFloat32),
                         dtype == torch::kFloat32 ? 1e-5 : 1e-2);
  }
}

TEST(CudaAttention, GroupedQueryAttentionEqualsRepeatedReference) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto q = torch::randn({2, 8, 256, 64}, kCuda).to(dtype);
    auto k = torch::randn({2, 2, 256, 64}, kCuda).to(dtype),
         v = torch::randn({2, 2, 256, 64}, kCuda).to(dtype);
    const double tol = dtype == torch::kFloat32 ? 1e-4 : 2e-2;
    EXPECT_RELATIVE_NEAR(causal_attention(q, k, v).to(torch::kFloat32),
                         causal_attention_reference(q, k, v).to(torch::kFloat32), tol);
    auto q1 = q.narrow(2, 255, 1);  // one decoding step over the cache
    EXPECT_RELATIVE_NEAR(causal_attention(q1, k, v).to(torch::kFloat32),
                         causal_attention_reference(q1, k, v).to(torch::kFloat32), tol);
  }
}

TEST(CudaLoss, ChunkedCrossEntropyEqualsFullLogitsUnderAutocast) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  auto hidden = torch::randn({1000, 256}, kCuda).requires_grad_();
  auto weight = (torch::randn({4000, 256}, kCuda) * 0.05).requires_grad_();
  auto targets =
      torch::randint(0, 4000, {1000}, torch::TensorOptions().dtype(torch::kLong).device(kCuda));
  torch::Tensor chunked, full;
  {
    CudaAutocast autocast(true);
    chunked = train::chunked_linear_cross_entropy(hidden, weight, {}, targets, 300);
    full =
        torch::cross_entropy_loss(torch::matmul(hidden, weight.t()).to(torch::kFloat32), targets);
  }
  auto g1 = torch::autograd::grad({chunked}, {hidden, weight});
  auto g2 = torch::autograd::grad({full}, {hidden, weight});
  EXPECT_NEAR(chunked.item<double>(), full.item<double>(), 1e-3 * full.item<double>());
  for (size_t i = 0; i < g1.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "grad " << i);
    EXPECT_RELATIVE_NEAR(g1[i], g2[i], 2e-2);
  }
}

}  // namespace
}  // namespace dreamer::testing
