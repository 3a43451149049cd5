// Every fast path against the fallback that computes the same function, on the CPU (where
// LibTorch 1.13 has only some of them; the GPU build runs the CUDA variants in
// cuda_fast_paths_test.cpp): expert dispatch, depth-attention level buffers (and their O(R)
// memory), RoPE tables, RMSNorm, the hidden-state output the chunked loss uses.
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>

#include "models/blocks/depth_attention.h"
#include "models/blocks/experts.h"
#include "models/blocks/norm.h"
#include "models/blocks/rope.h"
#include "models/dreamer.h"
#include "tests/test_util.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using namespace dreamer::models;

// ---------------------------------------------------------------- experts

TEST(ExpertSlots, EndsAreCumulativeCountsAndPositionInvertsOrder) {
  // ids of 4 tokens x 2 choices over 5 experts; expert 3 gets none.
  auto ids = torch::tensor({0, 2, 4, 0, 2, 1, 4, 4}, torch::kLong).view({4, 2});
  auto slots = sort_slots(ids, 5);
  // counts 2, 1, 2, 0, 3 -> ends 2, 3, 5, 5, 8
  EXPECT_TRUE(torch::equal(slots.ends, torch::tensor({2, 3, 5, 5, 8}, torch::kLong)));
  auto sorted = ids.reshape(-1).index_select(0, slots.order);
  EXPECT_TRUE(torch::equal(sorted, torch::tensor({0, 0, 1, 2, 2, 4, 4, 4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(slots.token_of_slot, torch::div(slots.order, 2, "floor")));
  EXPECT_TRUE(torch::equal(slots.order.index_select(0, slots.position), torch::arange(8)));
}

// The loop's values and gradients (x, gates and every weight) equal an all-experts dense
// computation masked to the top-k, for ReLU and SwiGLU experts, in float64 and float32: 30 tokens
// over 6 experts at k 2 with the module's own init, and 9 tokens over 8 experts (some get no
// rows) at k 1, 2 and 4 with weights of order 1 (0.02 would hide errors in the gradients).
TEST(ExpertLoop, ValuesAndGradientsEqualDenseMaskedComputation) {
  struct Case {
    int64_t n, e, k;
    bool unit_weights;
  };
  for (auto dtype : {torch::kFloat64, torch::kFloat32})
    for (auto act : {Activation::kReLU, Activation::kSwiGLU})
      for (const Case c :
           {Case{30, 6, 2, false}, Case{9, 8, 1, true}, Case{9, 8, 2, true}, Case{9, 8, 4, true}}) {
        SCOPED_TRACE(::testing::Message() << dtype << " swiglu " << (act == Activation::kSwiGLU)
                                          << " n " << c.n << " e " << c.e << " k " << c.k);
        const double tol = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
        torch::manual_seed(c.k);
        const int64_t d = 8, de = 5;
        ExpertFFN experts(c.e, d, de, act);
        experts->to(dtype);
        if (c.unit_weights) {
          torch::NoGradGuard init;
          for (auto& p : experts->parameters()) p.normal_();
        }
        auto x = torch::randn({c.n, d}, dtype).requires_grad_();
        auto ids = std::get<1>(torch::rand({c.n, c.e}).topk(c.k, 1));
        auto gates = torch::rand({c.n, c.k}, dtype).requires_grad_();
        std::vector<torch::Tensor> inputs = {x, gates, experts->w_up, experts->w_down};
        if (act == Activation::kSwiGLU) inputs.push_back(experts->w_gate);

        auto y = experts->forward_loop(x, ids, gates);
        auto weights = torch::randn_like(y);
        auto grads = torch::autograd::grad({(y * weights).sum()}, inputs);

        auto dense_gates = torch::zeros({c.n, c.e}, dtype).scatter(1, ids, gates);
        auto dense = torch::zeros({c.n, d}, dtype);
        for (int64_t ex = 0; ex < c.e; ++ex) {
          auto up = torch::matmul(x, experts->w_up[ex]);
          auto h = act == Activation::kSwiGLU
                       ? torch::silu(torch::matmul(x, experts->w_gate[ex])) * up
                       : torch::relu(up);
          dense = dense +
                  dense_gates.select(1, ex).unsqueeze(1) * torch::matmul(h, experts->w_down[ex]);
        }
        auto ref = torch::autograd::grad({(dense * weights).sum()}, inputs);
        EXPECT_TENSOR_NEAR(y, dense, tol);
        for (size_t i = 0; i < grads.size(); ++i) {
          SCOPED_TRACE(::testing::Message() << "gradient " << i);
          EXPECT_TENSOR_NEAR(grads[i], ref[i], tol);
        }
      }
}

TEST(ExpertGrouped, UnavailableOnTheCpuAndSaysSo) {
  ExpertFFN experts(4, 8, 8, Activation::kReLU);
  auto x = torch::randn({3, 8});
  EXPECT_FALSE(experts->grouped_available(x));
  auto ids = torch::zeros({3, 1}, torch::kLong);
  EXPECT_THROW(experts->forward_grouped(x, ids, torch::ones({3, 1})), c10::Error);
}

// ---------------------------------------------------------------- depth attention

DepthAttentionOptions depth_options(DepthRope rope) {
  DepthAttentionOptions o;
  o.d_model = 16;
  o.n_heads = 2;
  o.head_dim = 8;
  o.scope = DepthScope::kSameToken;
  o.rope = rope;
  return o;
}

// One forward of R depths the way DreamerModel runs it: write level 0 (optionally), then at
// each depth r write level r and read at r. Returns the sum of the reads' outputs.
torch::Tensor run_depths(DepthAttention& da, const std::vector<torch::Tensor>& states,
                         const torch::Tensor& query_scale, bool include_depth0, bool buffers) {
  da->use_level_buffers = buffers;
  const int64_t total = static_cast<int64_t>(states.size()) - 1;
  DepthMemory memory;
  if (include_depth0) da->write(memory, states[0], states[0], 0, total, nullptr);
  torch::Tensor out;
  for (int64_t r = 1; r <= total; ++r) {
    da->write(memory, states[r], states[r] * 0.5, r, total, nullptr);
    auto y = da->read(memory, states[r] * query_scale, r, total);
    out = out.defined() ? out + y : y;
  }
  return out;
}

TEST(DepthAttentionBuffers, ValuesAndGradientsEqualStackingEveryLevel) {
  for (auto rope : {DepthRope::kNone, DepthRope::kForward, DepthRope::kForwardReverse})
    for (bool depth0 : {true, false}) {
      torch::manual_seed(0);
      DepthAttention da(depth_options(rope));
      da->to(torch::kFloat64);
      da->o->weight.data().normal_();  // zero-initialised output would hide everything
      std::vector<torch::Tensor> states;
      for (int i = 0; i <= 4; ++i)
        states.push_back(torch::randn({2, 3, 16}, torch::kFloat64).requires_grad_());
      auto scale = torch::tensor(1.5, torch::kFloat64);
      auto target = torch::randn({2, 3, 16}, torch::kFloat64);
      std::vector<torch::Tensor> inputs = states;
      for (const auto& p : da->parameters()) inputs.push_back(p);

      auto fast = run_depths(da, states, scale, depth0, true);
      // allow_unused: without depth 0, states[0] is never read.
      auto fast_grads =
          torch::autograd::grad({(fast * target).sum()}, inputs, {}, false, false, true);
      auto ref = run_depths(da, states, scale, depth0, false);
      auto ref_grads =
          torch::autograd::grad({(ref * target).sum()}, inputs, {}, false, false, true);
      EXPECT_TENSOR_NEAR(fast, ref, 1e-12);
      for (size_t i = 0; i < inputs.size(); ++i) {
        ASSERT_EQ(fast_grads[i].defined(), ref_grads[i].defined()) << "input " << i;
        if (fast_grads[i].defined()) EXPECT_TENSOR_NEAR(fast_grads[i], ref_grads[i], 1e-12);
      }
    }
}

TEST(DepthAttentionBuffers, DreamerForwardAndGradientsEqualStacking) {
  torch::manual_seed(0);
  auto config = zoo::model_config_from_json({{"family", "dreamer"},
                                             {"preset", "DR+DA"},
                                             {"vocab_size", 32},
                                             {"d_model", 16},
                                             {"n_heads", 2},
                                             {"depth_attention", {{"zero_init_output", false}}},
                                             {"recurrence", {{"mean", 3}}}});
  auto model = std::dynamic_pointer_cast<DreamerModel>(zoo::build_model(config));
  model->to(torch::kFloat64);
  auto tokens = torch::randint(0, 32, {2, 6});
  ForwardOptions options;
  options.recurrences = 3;
  auto run = [&](bool buffers) {
    model->layer->depth_attention->use_level_buffers = buffers;
    model->zero_grad();
    auto logits = model->forward(tokens, nullptr, options).logits;
    logits.sum().backward();
    return std::make_pair(logits.detach(), model->layer->depth_attention->k->weight.grad().clone());
  };
  auto [fast, fast_grad] = run(true);
  auto [ref, ref_grad] = run(false);
  EXPECT_TENSOR_NEAR(fast, ref, 1e-10);
  EXPECT_TENSOR_NEAR(fast_grad, ref_grad, 1e-10);
  EXPECT_GT(ref_grad.abs().max().item<double>(), 0.0);
}

#if TORCH_VERSION_MAJOR < 2
// Counts the bytes the CPU allocator has live (LibTorch 1.x's allocator interface; the CUDA
// test measures the same on a GPU with the caching allocator's statistics).
struct CountingAllocator : c10::Allocator {
  explicit CountingAllocator(c10::Allocator* base) : base(base) {}
  struct Block {
    c10::DataPtr inner;
    size_t bytes;
  };
  static std::atomic<int64_t>& live() {
    static std::atomic<int64_t> bytes{0};
    return bytes;
  }
  static void release(void* ctx) {
    auto* block = static_cast<Block*>(ctx);
    live() -= static_cast<int64_t>(block->bytes);
    delete block;
  }
  c10::DataPtr allocate(size_t n) const override {
    auto inner = base->allocate(n);
    void* data = inner.get();
    live() += static_cast<int64_t>(n);
    return {data, new Block{std::move(inner), n}, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::Allocator* base;
};

// Bytes still held after a forward of `total` depths (what autograd saved for the backward,
// plus the output), per depth.
double bytes_held_per_depth(int64_t total, bool buffers) {
  torch::manual_seed(0);
  DepthAttentionOptions o;
  o.d_model = 32;
  o.n_heads = 2;
  o.head_dim = 16;
  DepthAttention da(o);
  std::vector<torch::Tensor> states;
  for (int64_t i = 0; i <= total; ++i) states.push_back(torch::randn({2, 16, 32}).requires_grad_());
  auto scale = torch::tensor(1.0);
  c10::Allocator* base = c10::GetCPUAllocator();
  CountingAllocator counting(base);
  c10::SetCPUAllocator(&counting, /*priority=*/100);
  const int64_t before = CountingAllocator::live();
  int64_t held = 0;
  {
    auto out = run_depths(da, states, scale, true, buffers);
    held = CountingAllocator::live() - before;
  }
  c10::SetCPUAllocator(base, /*priority=*/100);
  return static_cast<double>(held) / static_cast<double>(total);
}

TEST(DepthAttentionBuffers, ForwardHoldsMemoryLinearInTheDepth) {
  // With level buffers every level's key/value is held once: bytes per depth stay about flat
  // from 8 to 32 depths (only the [B, H, T, r+1] attention weights grow with r). Stacking
  // levels 0..r at every depth r holds O(R^2) keys.
  const double buffered = bytes_held_per_depth(32, true) / bytes_held_per_depth(8, true);
  const double stacked = bytes_held_per_depth(32, false) / bytes_held_per_depth(8, false);
  EXPECT_LT(buffered, 1.5) << "level buffers: bytes per depth at R 32 over R 8";
  EXPECT_GT(stacked, 1.8) << "teeth: stacking holds more per depth as R grows";
  EXPECT_LT(bytes_held_per_depth(32, true), bytes_held_per_depth(32, false));
}
#endif

// ---------------------------------------------------------------- RoPE, RMSNorm

TEST(RopeTable, RowsEqualTheAnglesOfThosePositions) {
  RopeTable table(8, 10000.0);
  for (auto [start, n] :
       std::vector<std::pair<int64_t, int64_t>>{{0, 5}, {0, 5}, {3, 4}, {9, 20}, {40, 1}}) {
    auto [cos, sin] = table.rows(start, n, torch::kCPU, torch::kFloat64);
    auto angles = rope_angles(torch::arange(start, start + n), 8, 10000.0);
    EXPECT_TRUE(torch::equal(cos, angles.cos())) << "start " << start << " n " << n;
    EXPECT_TRUE(torch::equal(sin, angles.sin())) << "start " << start << " n " << n;
  }
  auto [cos32, sin32] = table.rows(2, 3, torch::kCPU, torch::kFloat32);
  EXPECT_EQ(cos32.scalar_type(), torch::kFloat32);
  // Position 2, pair 0 (frequency 1): cos(2), sin(2).
  EXPECT_NEAR(cos32[0][0].item<double>(), std::cos(2.0), 1e-7);
  EXPECT_NEAR(sin32[0][0].item<double>(), std::sin(2.0), 1e-7);
}

TEST(RmsNorm, EqualsHandComputedValuesAndTheFloat32Formula) {
  // at::rms_norm where LibTorch has it (>= 2.4), the float32 formula otherwise: both must give
  // x * rsqrt(mean(x^2) + eps) * weight.
  Norm norm(4, NormKind::kRMSNorm, 1e-5);
  torch::NoGradGuard no_grad;
  norm->weight.copy_(torch::tensor({1.0, 2.0, 0.5, 1.0}));
  auto x = torch::tensor({{1.0, 2.0, 3.0, 4.0}}, torch::kFloat32);
  const double rms = std::sqrt(7.50001);  // sqrt((1 + 4 + 9 + 16) / 4 + 1e-5)
  auto expected = torch::tensor({{1.0 / rms, 4.0 / rms, 1.5 / rms, 4.0 / rms}}, torch::kFloat32);
  EXPECT_TENSOR_NEAR(norm(x), expected, 1e-6);
  auto big = torch::randn({3, 5, 4}, torch::kFloat64);
  auto formula =
      big * torch::rsqrt(big.pow(2).mean(-1, true) + 1e-5) * norm->weight.to(torch::kFloat64);
  EXPECT_TENSOR_NEAR(norm(big), formula, 1e-12);
}

TEST(RopeTable, SharedRowsAreTheSameTensorsAcrossCalls) {
  auto [cos1, sin1] = shared_rope_rows(16, 10000.0, 0, 7, torch::kCPU, torch::kFloat32);
  auto [cos2, sin2] = shared_rope_rows(16, 10000.0, 0, 7, torch::kCPU, torch::kFloat32);
  EXPECT_TRUE(cos1.is_same(cos2));  // built once, handed out again
  auto angles = rope_angles(torch::arange(7), 16, 10000.0);
  EXPECT_TRUE(torch::equal(cos1, angles.cos().to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(sin2, angles.sin().to(torch::kFloat32)));
}

}  // namespace
}  // namespace dreamer::testing
