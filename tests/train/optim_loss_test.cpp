// The trainer's numerics fast paths against LibTorch's own: FusedAdamW (its foreach path on
// the CPU) against torch::optim::AdamW, device-side clipping against clip_grad_norm_, the
// chunked cross-entropy against cross_entropy_loss over full logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "tests/test_util.h"
#include "train/loss.h"
#include "train/optim.h"

namespace dreamer::testing {
namespace {

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

TEST(FusedAdamW, ForeachStepsEqualTorchAdamWAcrossGroupsAndSkippedGradients) {
  torch::manual_seed(0);
  std::vector<torch::Tensor> decay = {torch::randn({6, 4}, torch::kFloat64).requires_grad_(),
                                      torch::randn({3, 5}, torch::kFloat64).requires_grad_()};
  std::vector<torch::Tensor> no_decay = {torch::randn({4}, torch::kFloat64).requires_grad_()};
  auto decay_b = copies(decay), no_decay_b = copies(no_decay);
  auto make_groups = [](const std::vector<torch::Tensor>& d, const std::vector<torch::Tensor>& nd) {
    auto options = [](double wd) {
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(3e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(wd));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(d, options(0.1));
    groups.emplace_back(nd, options(0.0));
    return groups;
  };
  train::FusedAdamW fused(make_groups(decay, no_decay), torch::optim::AdamWOptions(3e-2));
  torch::optim::AdamW plain(make_groups(decay_b, no_decay_b), torch::optim::AdamWOptions(3e-2));
  EXPECT_EQ(train::FusedAdamW::path_for(decay), train::FusedAdamW::Path::kForeach);

  std::vector<torch::Tensor> a = decay, b = decay_b;
  a.insert(a.end(), no_decay.begin(), no_decay.end());
  b.insert(b.end(), no_decay_b.begin(), no_decay_b.end());
  for (int step = 0; step < 6; ++step) {
    for (size_t i = 0; i < a.size(); ++i) {
      // The second matrix gets no gradient at step 2: its step count falls behind.
      if (step == 2 && i == 1) {
        a[i].mutable_grad() = torch::Tensor();
        b[i].mutable_grad() = torch::Tensor();
        continue;
      }
      auto g = torch::randn_like(a[i]);
      a[i].mutable_grad() = g.clone();
      b[i].mutable_grad() = g.clone();
    }
    fused.step();
    plain.step();
  }
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TENSOR_NEAR(a[i].detach(), b[i].detach(), 1e-12);
  // The same state format: the fused optimizer's state loads into AdamW and vice versa.
  const auto& state = fused.state();
  EXPECT_EQ(state.size(), 3u);
  for (const auto& item : state)
    EXPECT_GE(static_cast<const torch::optim::AdamWParamState&>(*item.second).step(), 5);
}

TEST(ClipGradNorm, EqualsTorchClippingAndReturnsTheNormBeforeIt) {
  torch::manual_seed(0);
  std::vector<torch::Tensor> a = {torch::randn({5, 3}, torch::kFloat64).requires_grad_(),
                                  torch::randn({7}, torch::kFloat64).requires_grad_(),
                                  torch::randn({2}, torch::kFloat64).requires_grad_()};
  auto b = copies(a);
  for (size_t i = 0; i < 2; ++i) {  // the third has no gradient
    auto g = torch::randn_like(a[i]) * 2;
    a[i].mutable_grad() = g.clone();
    b[i].mutable_grad() = g.clone();
  }
  const double hand =
      std::sqrt(a[0].grad().pow(2).sum().item<double>() + a[1].grad().pow(2).sum().item<double>());
  auto norm = train::clip_grad_norm(a, 0.5);
  const double torch_norm = torch::nn::utils::clip_grad_norm_(b, 0.5);
  EXPECT_NEAR(norm.item<double>(), hand, 1e-5 * hand);
  EXPECT_NEAR(torch_norm, hand, 1e-5 * hand);
  for (size_t i = 0; i < 2; ++i) EXPECT_TENSOR_NEAR(a[i].grad(), b[i].grad(), 1e-12);
  // After clipping, the norm is max_norm (up to the 1e-6 guard).
  auto after = train::clip_grad_norm(a, std::numeric_limits<double>::infinity());
  EXPECT_NEAR(after.item<double>(), 0.5, 1e-5);
}

TEST(ChunkedCrossEntropy, ValueAndGradientsEqualFullLogits) {
  torch::manual_seed(0);
  const int64_t n = 10, d = 6, v = 17;
  for (bool with_bias : {false, true})
    for (int64_t chunk : {1, 3, 10, 64}) {
      auto hidden = torch::randn({n, d}, torch::kFloat64).requires_grad_();
      auto weight = torch::randn({v, d}, torch::kFloat64).requires_grad_();
      auto bias = with_bias ? torch::randn({v}, torch::kFloat64).requires_grad_() : torch::Tensor();
      auto targets = torch::randint(0, v, {n});
      auto loss = train::chunked_linear_cross_entropy(hidden, weight, bias, targets, chunk) * 2.5;
      auto logits = torch::matmul(hidden, weight.t());
      if (with_bias) logits = logits + bias;
      auto ref = torch::cross_entropy_loss(logits, targets) * 2.5;
      EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-12);
      std::vector<torch::Tensor> inputs = {hidden, weight};
      if (with_bias) inputs.push_back(bias);
      auto g = torch::autograd::grad({loss}, inputs), gr = torch::autograd::grad({ref}, inputs);
      for (size_t i = 0; i < g.size(); ++i) {
        SCOPED_TRACE(::testing::Message() << "chunk " << chunk);
        EXPECT_TENSOR_NEAR(g[i], gr[i], 1e-12);
      }
    }
}

TEST(ChunkedCrossEntropy, ChunkRowsKeepOneChunkNearTheBudget) {
  EXPECT_EQ(train::cross_entropy_chunk_rows(32000, int64_t{256} << 20), 2097);  // 256 MiB / 128 kB
  EXPECT_EQ(train::cross_entropy_chunk_rows(1 << 30, 1024), 1);
}

}  // namespace
}  // namespace dreamer::testing
