// Expert attention against a dense float64 reference, and the loss-free balancing bias.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/blocks/experts.h"
#include "tests/test_util.h"

namespace dreamer::testing {
namespace {

using namespace dreamer::models;

struct RouterVariant {
  std::string name;
  GateKind gate;
  bool renormalize;
  RouterQuery query;
  DepthEncoding depth_encoding;
  Activation activation;
};

class ExpertAttentionReference : public ::testing::TestWithParam<RouterVariant> {};

// Every expert computed for every token, then masked to the top-k by hand.
TEST_P(ExpertAttentionReference, EqualsDenseMaskedComputation) {
  const auto& variant = GetParam();
  torch::manual_seed(0);
  const int64_t n = 40, d = 16, e = 8, k = 3, de = 12, depth = 2, total = 5;
  RouterOptions o;
  o.d_model = d;
  o.n_experts = e;
  o.k = k;
  o.gate = variant.gate;
  o.renormalize = variant.renormalize;
  o.query = variant.query;
  o.router_dim = variant.query == RouterQuery::kLinear ? 8 : 0;
  o.depth_encoding = variant.depth_encoding;
  o.max_depth = 6;
  Router router(o);
  ExpertFFN experts(e, d, de, variant.activation);
  router->to(torch::kFloat64);
  experts->to(torch::kFloat64);
  torch::NoGradGuard no_grad;
  router->selection_bias.copy_(torch::randn({e}, torch::kFloat64));  // selection must use it
  if (router->depth_offset.defined()) router->depth_offset.normal_();
  auto x = torch::randn({n, d}, torch::kFloat64);

  auto routed = router(x, depth, total);
  auto y = experts(x, routed.ids, routed.gates);

  // Reference routing.
  auto q = router->query ? torch::matmul(x, router->query->weight.t()) : x;
  if (variant.depth_encoding == DepthEncoding::kLearnedOffset) q = q + router->depth_offset[depth];
  if (variant.depth_encoding == DepthEncoding::kRope) {
    // Rotate pairs (i, i + dk/2): the first dk/4 pairs by the depth, the rest by
    // total - depth, each quarter with the frequency ladder of a dk/2-dimensional RoPE.
    const int64_t dk = q.size(1), half = dk / 2, quarter = dk / 4;
    auto rotated = q.clone();
    for (int64_t i = 0; i < half; ++i) {
      const double pos = i < quarter ? depth : total - depth;
      const double theta = pos * std::pow(10000.0, -2.0 * (i % quarter) / half);
      rotated.select(1, i) =
          q.select(1, i) * std::cos(theta) - q.select(1, i + half) * std::sin(theta);
      rotated.select(1, i + half) =
          q.select(1, i + half) * std::cos(theta) + q.select(1, i) * std::sin(theta);
    }
    q = rotated;
  }
  auto logits = torch::matmul(q, router->expert_keys.t());
  auto scores =
      variant.gate == GateKind::kSigmoid ? torch::sigmoid(logits) : torch::softmax(logits, 1);
  auto biased = logits + router->selection_bias;
  auto mask = torch::zeros({n, e}, torch::kFloat64);
  for (int64_t t = 0; t < n; ++t) {
    auto order = std::get<1>(biased[t].sort(/*dim=*/0, /*descending=*/true));
    for (int64_t j = 0; j < k; ++j) mask[t][order[j].item<int64_t>()] = 1.0;
  }
  auto gates = scores * mask;
  if (variant.renormalize) gates = gates / gates.sum(1, true);

  auto dense = torch::zeros({n, d}, torch::kFloat64);
  for (int64_t ex = 0; ex < e; ++ex) {
    auto up = torch::matmul(x, experts->w_up[ex]);
    torch::Tensor h;
    switch (variant.activation) {
      case Activation::kReLU:
        h = torch::relu(up);
        break;
      case Activation::kSwiGLU:
        h = torch::silu(torch::matmul(x, experts->w_gate[ex])) * up;
        break;
      default:
        h = activate(up, variant.activation);
    }
    dense += gates.select(1, ex).unsqueeze(1) * torch::matmul(h, experts->w_down[ex]);
  }

  auto chosen = torch::zeros({n, e}, torch::kFloat64).scatter(1, routed.ids, 1.0);
  EXPECT_TRUE(torch::equal(chosen, mask)) << "top-k selection differs from the reference";
  EXPECT_TENSOR_NEAR(y, dense, 1e-10);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, ExpertAttentionReference,
    ::testing::Values(
        RouterVariant{"dreamer_default", GateKind::kSigmoid, true, RouterQuery::kLinear,
                      DepthEncoding::kLearnedOffset, Activation::kReLU},
        RouterVariant{"depth_rope", GateKind::kSigmoid, true, RouterQuery::kLinear,
                      DepthEncoding::kRope, Activation::kReLU},
        RouterVariant{"sigma_moe_no_renorm", GateKind::kSigmoid, false, RouterQuery::kIdentity,
                      DepthEncoding::kNone, Activation::kReLU},
        RouterVariant{"softmax_swiglu", GateKind::kSoftmax, true, RouterQuery::kIdentity,
                      DepthEncoding::kNone, Activation::kSwiGLU}),
    [](const auto& info) { return info.param.name; });

TEST(ExpertAttentionRouting, DepthEncodingLetsTheSameTokenPickDifferentExperts) {
  torch::manual_seed(0);
  RouterOptions o;
  o.d_model = 16;
  o.n_experts = 16;
  o.k = 2;
  o.depth_encoding = DepthEncoding::kRope;
  o.balancing_bias = false;
  Router router(o);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({64, 16});
  auto at1 = router(x, 1, 8).ids.sort(1), at6 = router(x, 6, 8).ids.sort(1);
  EXPECT_FALSE(torch::equal(std::get<0>(at1), std::get<0>(at6)));
  o.depth_encoding = DepthEncoding::kNone;
  Router plain(o);
  EXPECT_TRUE(torch::equal(plain(x, 1, 8).ids, plain(x, 6, 8).ids));
}

double max_violation(const torch::Tensor& load) {
  const double mean = load.mean().item<double>();
  return (load.max().item<double>() - mean) / mean;
}

TEST(ExpertAttentionBalancing, BiasMovesASkewedRouterTowardsUniformLoad) {
  torch::manual_seed(0);
  const int64_t d = 16, e = 8;
  RouterOptions o;
  o.d_model = d;
  o.n_experts = e;
  o.k = 2;
  o.query = RouterQuery::kIdentity;
  o.bias_update_rate = 0.05;
  Router router(o);
  torch::NoGradGuard no_grad;
  // Skew: every token's input leans along one direction that experts 0 and 1 match strongly.
  auto direction = torch::randn({d});
  direction /= direction.norm();
  router->expert_keys.select(0, 0).add_(direction * 2.0);
  router->expert_keys.select(0, 1).add_(direction * 1.5);
  auto batch = [&] { return torch::randn({256, d}) * 0.3 + direction; };
  auto load_of = [&](const torch::Tensor& ids) {
    return torch::bincount(ids.reshape(-1), {}, e).to(torch::kFloat64);
  };

  router->train();
  const double before = max_violation(load_of(router(batch()).ids));
  router->expert_load.zero_();
  std::vector<double> violations;
  for (int step = 0; step < 60; ++step) {
    violations.push_back(max_violation(load_of(router(batch()).ids)));
    router->update_bias();
  }
  router->eval();
  const double after = max_violation(load_of(router(batch()).ids));
  EXPECT_GT(before, 2.0) << "the skew should start badly imbalanced";
  EXPECT_LT(after, before / 3.0) << "MaxVio " << before << " -> " << after;
  // The bias is centred (a constant shift would change no selection) and only the
  // overloaded experts were pushed down.
  EXPECT_NEAR(router->selection_bias.sum().item<double>(), 0.0, 1e-4);
  EXPECT_LT(router->selection_bias[0].item<double>(), 0.0);
  EXPECT_LT(router->selection_bias[1].item<double>(), 0.0);
  // The load counter is reset by every update.
  EXPECT_EQ(router->expert_load.sum().item<double>(), 0.0);
  // An update with nothing counted (no routed call since the last one) leaves the bias as it is.
  const auto bias = router->selection_bias.clone();
  router->update_bias();
  EXPECT_TRUE(torch::equal(router->selection_bias, bias));
}

TEST(ExpertAttentionBalancing, EvaluationDoesNotCountLoad) {
  RouterOptions o;
  o.d_model = 8;
  o.n_experts = 4;
  o.k = 1;
  Router router(o);
  router->eval();
  torch::NoGradGuard no_grad;
  router(torch::randn({10, 8}));
  EXPECT_EQ(router->expert_load.sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace dreamer::testing
